"""Benchmark of the web pages: how long a digest page (and the others) takes to serve.

The corpus holds the two real post-train weeks of ../shared/data/arxiv/feeds (42 and 87
papers) and their offline digests. The pages' app (`bot.web.page_routes` on Starlette) is
served by uvicorn on loopback, and each page is fetched `--runs` times with one keep-alive
httpx client after a warm-up (templates compiled, chart drawn once and cached); the figures
are the p50/p95 of the wall-clock time of a whole request, as a browser's request would see
it minus the network. The same requests through httpx's in-process ASGI transport (no
socket) show the app's own share. A stored digest never changes, so its page is rendered
once and kept; the "first view" row empties that cache before every request, measuring
the page rendered from the database.

    .venv/bin/python bench/bench_web.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import uvicorn
from starlette.applications import Starlette

from bench.common import console, header, median, p95, results_table, shared_arxiv, verdict
from bot.web import Site, page_routes
from digest.ingest import ingest_feed_file
from digest.service import DigestService
from digest.topics import POST_TRAIN, TopicCatalog
from digest.windows import Window
from storage import open_corpus

TARGET_P95_MS = 50.0
WEEKS = {
    "post-train_2026-05-13_to_05-19": Window(date(2026, 5, 13), date(2026, 5, 19)),
    "post-train_2026-05-28_to_06-03": Window(date(2026, 5, 28), date(2026, 6, 3)),
}


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    feeds = shared_arxiv("feeds")
    header(
        "web pages",
        [
            "two real post-train weeks (42 + 87 papers) and their offline digests",
            f"{args.runs} requests a page after a warm-up; uvicorn on loopback, one client",
            "the machine is shared with other engineers' test runs: figures are noisy",
        ],
    )
    topics = TopicCatalog.with_builtins()
    with tempfile.TemporaryDirectory() as folder:
        corpus = open_corpus(Path(folder) / "bench.db")
        service = DigestService(corpus, topics)
        ids = []
        for name, window in WEEKS.items():
            ingest_feed_file(corpus, feeds / f"{name}.atom.xml", POST_TRAIN)
            digest = service.build("post-train", window, fetch=False)
            stored = corpus.latest_digest("post-train", window.since, window.until)
            assert stored is not None
            ids.append((stored.id, digest))
        big_id, big = ids[-1]
        paper = big.papers[0].id
        site = Site(lambda: corpus, topics, chart_dir=Path(folder) / "charts")
        app = Starlette(routes=page_routes(corpus=site.opener, topics=topics, site=site))
        pages = {
            f"/d/{big_id} (digest, {big.paper_count} papers)": f"/d/{big_id}",
            "/ (topics)": "/",
            "/t/post-train (archive)": "/t/post-train",
            f"/p/{paper} (paper)": f"/p/{paper}",
            "/search?q=reward hacking": "/search?q=reward+hacking",
            "/feed.xml": "/feed.xml",
            f"/d/{big_id}/chart.png (cached)": f"/d/{big_id}/chart.png",
        }
        over_http = _over_http(app, pages, args.runs)
        in_process = asyncio.run(_in_process(app, pages, args.runs))
        # A digest page's first view: rendered from the database, not the page cache.
        first_label = f"/d/{big_id} first view (uncached)"
        pages[first_label] = f"/d/{big_id}"
        over_http[first_label] = _over_http(
            app, {first_label: pages[first_label]}, args.runs, before_each=site.forget_pages
        )[first_label]
        in_process[first_label] = asyncio.run(
            _in_process(app, {first_label: pages[first_label]}, args.runs, site.forget_pages)
        )[first_label]
        corpus.close()
    table = results_table(
        "request time, ms", ["page", "HTTP p50", "HTTP p95", "ASGI p50", "ASGI p95", "target"]
    )
    for label in pages:
        http, asgi = over_http[label], in_process[label]
        is_digest = label.startswith(f"/d/{big_id} ") and "chart" not in label
        table.add_row(
            label,
            f"{median(http):.1f}",
            f"{p95(http):.1f}",
            f"{median(asgi):.1f}",
            f"{p95(asgi):.1f}",
            (
                f"p95 < {TARGET_P95_MS:.0f} "
                + verdict(p95(http), TARGET_P95_MS, higher_is_better=False)
                if is_digest
                else ""
            ),
        )
    console.print(table)
    return 0


def _over_http(
    app: Starlette,
    pages: dict[str, str],
    runs: int,
    before_each: Callable[[], None] = lambda: None,
) -> dict[str, list[float]]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    out: dict[str, list[float]] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for label, path in pages.items():
                for _ in range(5):
                    client.get(path).raise_for_status()  # warm-up: templates, chart cache
                times = []
                for _ in range(runs):
                    before_each()
                    start = time.perf_counter()
                    client.get(path).raise_for_status()
                    times.append((time.perf_counter() - start) * 1000)
                out[label] = times
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return out


async def _in_process(
    app: Starlette,
    pages: dict[str, str],
    runs: int,
    before_each: Callable[[], None] = lambda: None,
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for label, path in pages.items():
            times = []
            for _ in range(runs):
                before_each()
                start = time.perf_counter()
                (await client.get(path)).raise_for_status()
                times.append((time.perf_counter() - start) * 1000)
            out[label] = times
    return out


if __name__ == "__main__":
    sys.exit(main())
