"""Benchmark of the offline digest: from the corpus to printed text, and its peak memory.

Two windows of real papers, each ingested once into a temp corpus (not timed): the 87-paper
post-train week (feeds/post-train_2026-05-28_to_06-03.atom.xml, target < 1 s median) and
all 2,489 papers of feeds/listings_2026-05-14_to_05-21_all.atom.xml as one topic (target
< 8 s median, issue 12; < 3 s, issue 16; peak RSS < 500 MB). Each timed run goes through
`DigestService.build` with `regenerate` (select the window, synthesize, check citations,
store) and renders the text the terminal prints. The peak RSS comes from a fresh child
doing one 2,489-paper run. Last, the cached path: `digestbot digest` in a fresh process for
the 87-paper week whose digest is stored (target < 0.5 s wall, median of 5).

    .venv/bin/python bench/bench_digest.py [--runs 5] [--big-runs 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    PEAK_RSS_SOURCE,
    console,
    header,
    median,
    results_table,
    run_child,
    shared_arxiv,
    time_runs,
    verdict,
)

SMALL = ("feeds", "post-train_2026-05-28_to_06-03.atom.xml")
BIG = ("feeds", "listings_2026-05-14_to_05-21_all.atom.xml")
TARGET_SMALL_S = 1.0
TARGET_BIG_S = 8.0
TARGET_BIG_ISSUE_16_S = 3.0
TARGET_CACHED_S = 0.5
TARGET_RSS_MB = 500.0

# Every category the listings crawler followed, no phrase groups: the whole feed is one topic.
# Its papers were first submitted (published) from 2026-05-01 through 2026-05-28.
ALL_LISTINGS = """
from digest.topics import Topic
ALL = Topic("listings", "AI/CL/CV listings", ("cs.CV", "cs.CL", "cs.AI", "cs.GR", "cs.IT",
            "cs.CE", "cs.GT", "cs.LG"), ())
"""

_SETUP = (
    """
import sys, tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from digest.ingest import ingest_feed_file
from digest.render import to_text
from digest.service import DigestService
from digest.topics import POST_TRAIN, TopicCatalog
from digest.windows import Window
from storage import open_corpus
"""
    + ALL_LISTINGS
)


def build_and_print(service, topic: str, window) -> str:
    from digest.render import to_text

    return to_text(service.build(topic, window, fetch=False, regenerate=True))


def cold_caches() -> None:
    """Forget the per-abstract caches, so a timed run pays what a fresh process pays."""
    from digest.offline.text import clear_caches

    clear_caches()


def prepare(tmp: Path, feed: Path, topic) -> object:
    from digest.ingest import ingest_feed_file
    from digest.service import DigestService
    from digest.topics import TopicCatalog
    from storage import open_corpus

    corpus = open_corpus(tmp / f"{topic.name}.db")
    ingest_feed_file(corpus, feed, topic)
    clock = lambda: datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # noqa: E731 - a fixed clock
    return DigestService(corpus, TopicCatalog.with_builtins([topic]), clock=clock)


def cached_cli(feed: Path, runs: int) -> None:
    """Wall time of `digestbot digest` for a complete window whose digest is stored: a
    fresh process each run, as a user at a terminal pays it."""
    import os
    import subprocess
    import time

    script = Path(sys.executable).with_name("digestbot")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    argv = [*command, "digest", "post-train", "--since", "2026-05-28", "--until", "2026-06-03"]
    with tempfile.TemporaryDirectory(prefix="digestbot-bench-") as tmp:
        env = {**os.environ, "DIGESTBOT_DB": str(Path(tmp) / "cached.db")}
        subprocess.run(
            [*command, "ingest", "--feed", str(feed), "--topic", "post-train"],
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run([*argv, "--no-fetch"], env=env, check=True, capture_output=True)
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([*argv, "--no-fetch"], env=env, check=True, capture_output=True)
            seconds.append(time.perf_counter() - start)
    table = results_table(
        "Cached digest (stored, complete window), fresh process",
        ["command", "median s", "min s", "target", ""],
    )
    table.add_row(
        "digestbot digest post-train (87 papers)",
        f"{median(seconds):.2f}",
        f"{min(seconds):.2f}",
        f"< {TARGET_CACHED_S:g}",
        verdict(median(seconds), TARGET_CACHED_S, higher_is_better=False),
    )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the 87-paper week")
    parser.add_argument("--big-runs", type=int, default=3, help="timed runs of 2,489 papers")
    args = parser.parse_args()
    small_feed, big_feed = shared_arxiv(*SMALL), shared_arxiv(*BIG)

    from digest.topics import POST_TRAIN
    from digest.windows import Window

    namespace: dict = {}
    exec(ALL_LISTINGS, namespace)
    everything = namespace["ALL"]
    header(
        "Offline digest: corpus to printed text",
        [
            f"median of {args.runs} runs (87 papers) and {args.big_runs} runs (2,489 papers), "
            "each after one untimed warm-up run; wall-clock seconds",
            "each run: select the window from SQLite, synthesize, check citations, store the "
            "digest, render the terminal text (no arXiv request)",
        ],
    )
    table = results_table(
        "Offline digest", ["window", "papers", "median s", "min s", "max s", "target", ""]
    )
    with tempfile.TemporaryDirectory(prefix="digestbot-bench-") as tmp:
        cases = [
            (
                "post-train week",
                small_feed,
                POST_TRAIN,
                Window(date(2026, 5, 28), date(2026, 6, 3)),
                args.runs,
                TARGET_SMALL_S,
            ),
            (
                "all listings as one topic",
                big_feed,
                everything,
                Window(date(2026, 5, 1), date(2026, 5, 28)),
                args.big_runs,
                TARGET_BIG_S,
            ),
        ]
        for label, feed, topic, window, runs, target in cases:
            service = prepare(Path(tmp), feed, topic)
            text = build_and_print(service, topic.name, window)  # warm-up
            papers = len(service.corpus.papers_in_window(window.since, window.until, topic.name))
            seconds = time_runs(
                lambda s=service, t=topic, w=window: build_and_print(s, t.name, w),
                runs,
                setup=cold_caches,  # every run cleans and splits the abstracts anew
            )
            table.add_row(
                label,
                str(papers),
                f"{median(seconds):.2f}",
                f"{min(seconds):.2f}",
                f"{max(seconds):.2f}",
                f"< {target:g}",
                verdict(median(seconds), target, higher_is_better=False),
            )
            if target == TARGET_BIG_S:
                table.add_row(
                    f"{label} (issue 16)",
                    str(papers),
                    f"{median(seconds):.2f}",
                    "",
                    "",
                    f"< {TARGET_BIG_ISSUE_16_S:g}",
                    verdict(median(seconds), TARGET_BIG_ISSUE_16_S, higher_is_better=False),
                )
            console.print(f"{label}: {len(text):,} characters of text printed")
            service.corpus.close()
    console.print(table)
    cached_cli(small_feed, args.runs)

    child = f"""{PEAK_RSS_SOURCE}
{_SETUP}
import json
with tempfile.TemporaryDirectory() as tmp:
    corpus = open_corpus(Path(tmp) / "c.db")
    ingest_feed_file(corpus, sys.argv[1], ALL)
    service = DigestService(corpus, TopicCatalog.with_builtins([ALL]),
                            clock=lambda: datetime(2026, 6, 10, 12, tzinfo=UTC))
    text = to_text(service.build("listings", Window(date(2026, 5, 1), date(2026, 5, 28)),
                                 fetch=False))
    corpus.close()
print(json.dumps({{"peak_rss_kb": peak_rss_kb(), "chars": len(text)}}))
"""
    result = run_child(["-c", child, str(big_feed)])
    rss = results_table("Peak RSS (fresh process, 2,489 papers)", ["", "MiB", "target", ""])
    rss.add_row(
        "ingest + digest + text",
        f"{result.peak_rss_mb:.0f}",
        f"< {TARGET_RSS_MB:g}",
        verdict(result.peak_rss_mb, TARGET_RSS_MB, higher_is_better=False),
    )
    console.print(rss)


if __name__ == "__main__":
    main()
