"""The invented weeks of tests/fixtures/digest: as papers, as loopback-arXiv entries, and
synthesized by the offline engine."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from digest.model import Digest
from digest.offline.engine import OfflineEngine
from digest.synthesis import History, SynthesisRequest
from digest.topics import POST_TRAIN
from digest.windows import Window
from storage import Paper
from tests.fakes.arxiv_server import FakeEntry
from tests.support.papers import make_paper
from tests.support.paths import FIXTURES

WEEKS = FIXTURES / "digest"


GENERATED_AT = datetime(2026, 6, 16, 7, 0, tzinfo=UTC)


def _published(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _week_data(name: str) -> dict:
    return json.loads((WEEKS / f"{name}.json").read_text(encoding="utf-8"))


def load_week(name: str) -> tuple[Window, tuple[Paper, ...]]:
    """An invented week of tests/fixtures/digest as (window, papers)."""
    data = _week_data(name)
    window = Window(
        date.fromisoformat(data["window"]["since"]), date.fromisoformat(data["window"]["until"])
    )
    papers = tuple(
        make_paper(
            p["id"],
            title=p["title"],
            abstract=p["abstract"],
            authors=tuple(p["authors"]),
            categories=tuple(p["categories"]),
            published=_published(p["published"]),
        )
        for p in data["papers"]
    )
    return window, papers


def week_entries(name: str) -> list[FakeEntry]:
    """An invented week as entries for the loopback arXiv."""
    return [
        FakeEntry(
            id=p["id"],
            title=p["title"],
            summary=p["abstract"],
            authors=tuple(p["authors"]),
            categories=tuple(p["categories"]),
            published=_published(p["published"]),
            comment=p.get("comment"),
        )
        for p in _week_data(name)["papers"]
    ]


def synthesize(
    papers: tuple[Paper, ...] | list[Paper],
    window: Window,
    history: History | None = None,
    generated_at: datetime = GENERATED_AT,
) -> Digest:
    request = SynthesisRequest(
        topic=POST_TRAIN,
        window=window,
        papers=tuple(papers),
        generated_at=generated_at,
        history=history or History(),
    )
    return OfflineEngine().synthesize(request)


WEEK_A = "week-2026-06-08"


WEEK_B = "week-2026-06-15"


def read_shared_week(path: str, window: Window) -> tuple[Window, tuple[Paper, ...]]:
    """A recorded week of ../shared/data/arxiv (feeds/...), skipping the test when absent."""
    import pytest

    from digest.feed import read_feed_file
    from tests.support.paths import SHARED_ARXIV

    if not SHARED_ARXIV.is_dir():
        pytest.skip(f"real arXiv data not present at {SHARED_ARXIV} (only in the dev workspace)")
    return window, tuple(read_feed_file(SHARED_ARXIV / path).results)


# The recorded weeks of ../shared/data/arxiv the offline engine is read against.
REAL_WINDOWS = {
    "post-train-42": (
        "feeds/post-train_2026-05-13_to_05-19.atom.xml",
        Window(date(2026, 5, 13), date(2026, 5, 19)),
    ),
    "post-train-87": (
        "feeds/post-train_2026-05-28_to_06-03.atom.xml",
        Window(date(2026, 5, 28), date(2026, 6, 3)),
    ),
    "day-50": (
        "atom_2026-07-13_cat-cs.AI-OR-cs.LG_newest_50entries.xml",
        Window(date(2026, 7, 10), date(2026, 7, 10)),
    ),
    "listings-2489": (
        "feeds/listings_2026-05-14_to_05-21_all.atom.xml",
        Window(date(2026, 5, 13), date(2026, 5, 21)),
    ),
}


def read_real(name: str) -> tuple[Window, tuple[Paper, ...]]:
    """A recorded window by its name in REAL_WINDOWS; skips the test when absent."""
    path, window = REAL_WINDOWS[name]
    return read_shared_week(path, window)
