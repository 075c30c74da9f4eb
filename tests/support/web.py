"""Helpers of the web tests: a corpus holding stored digests, an app over it, and GET
through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from starlette.applications import Starlette

from bot.web import page_routes
from digest.feed import read_feed_file
from digest.ingest import ingest_feed_file
from digest.model import Digest
from digest.service import DigestService
from digest.topics import POST_TRAIN, TopicCatalog
from digest.windows import Window
from storage import Corpus, Paper
from tests.support.papers import make_paper
from tests.support.paths import SHARED_ARXIV

TOPICS = TopicCatalog.with_builtins()
WINDOW = Window(date(2026, 6, 1), date(2026, 6, 7))
EARLIER = Window(date(2026, 5, 25), date(2026, 5, 31))
SHARED_WEEKS = {
    # The real post-train weeks of ../shared/data/arxiv/feeds: (window, feed file).
    "2026-05-13": (Window(date(2026, 5, 13), date(2026, 5, 19)), "post-train_2026-05-13_to_05-19"),
    "2026-05-28": (Window(date(2026, 5, 28), date(2026, 6, 3)), "post-train_2026-05-28_to_06-03"),
}
SCRIPT = "<script>alert('owned')</script>"
JS_LINK = '<a href="javascript:alert(1)">click</a>'
HOSTILE_TITLE = f"Evil{SCRIPT}: Preference Optimization {JS_LINK} for LLM Alignment"
HOSTILE_ABSTRACT = (
    f"We study preference optimization for language models. {SCRIPT} Visit "
    f"javascript:alert(document.cookie) or {JS_LINK} and <img src=x onerror=alert(1)>. "
    "Direct preference optimization with reward models improves alignment."
)
_SUBJECTS = (
    "direct preference optimization with reward models",
    "group relative policy optimization for math reasoning",
    "instruction tuning data selection",
    "on-policy distillation from a larger teacher",
)


def week(window: Window = WINDOW, count: int = 8, *, hostile: bool = True) -> list[Paper]:
    """A post-training week; with `hostile`, its first paper carries script tags and
    javascript: links in its title and abstract."""
    out = []
    for i in range(count):
        subject = _SUBJECTS[i % len(_SUBJECTS)]
        out.append(
            make_paper(
                f"2606.{window.since.day:02d}{i:03d}",
                title=f"Name{i}: Better {subject} for large language models",
                abstract=(
                    f"We study {subject} for large language model post-training. Our method "
                    f"improves alignment by {i + 2} points on standard benchmarks."
                ),
                published=datetime(
                    window.since.year, window.since.month, window.since.day + i % 7, 12, tzinfo=UTC
                ),
            )
        )
    if hostile:
        out[0] = make_paper(
            out[0].id, title=HOSTILE_TITLE, abstract=HOSTILE_ABSTRACT, published=out[0].published
        )
    return out


def store_week(corpus: Corpus, papers: Sequence[Paper], window: Window) -> tuple[Digest, int]:
    """File the papers under post-train, build and store their digest; (digest, its id)."""
    corpus.store_papers(papers, "post-train", [p.id for p in papers])
    service = DigestService(corpus, TOPICS)
    digest = service.build("post-train", window, fetch=False)
    stored = corpus.latest_digest("post-train", window.since, window.until)
    assert stored is not None
    return digest, stored.id


def store_shared_week(corpus: Corpus, key: str) -> tuple[Digest, int]:
    """A real post-train week from the shared data, stored with its digest."""
    window, name = SHARED_WEEKS[key]
    path = SHARED_ARXIV / "feeds" / f"{name}.atom.xml"
    ingest_feed_file(corpus, path, POST_TRAIN)
    digest = DigestService(corpus, TOPICS).build("post-train", window, fetch=False)
    stored = corpus.latest_digest("post-train", window.since, window.until)
    assert stored is not None and read_feed_file(path).results
    return digest, stored.id


def make_app(
    corpus: Corpus,
    *,
    public_url: str = "",
    auth_token: str = "",
    chart_dir: Path | None = None,
) -> Starlette:
    routes = page_routes(
        corpus=lambda: corpus,
        topics=TOPICS,
        public_url=public_url,
        auth_token=auth_token,
        chart_dir=chart_dir,
    )
    return Starlette(routes=routes)


def get(app: Starlette, path: str, **kwargs: object) -> httpx.Response:
    """One GET through httpx's ASGI transport (no socket, the real app)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())
