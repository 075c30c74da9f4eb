"""Shared fixtures: a real SQLite corpus in a temp dir, and the real arXiv data when present."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage import Corpus, Paper, open_corpus

REPO = Path(__file__).resolve().parents[1]
# DIGESTBOT_SHARED_ARXIV: the data elsewhere (a git worktree is not next to ../shared).
SHARED_ARXIV = Path(
    os.environ.get("DIGESTBOT_SHARED_ARXIV") or REPO.parent / "shared" / "data" / "arxiv"
)
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def shared_arxiv() -> Path:
    """The real arXiv responses in ../shared/data/arxiv; the test skips where they are absent."""
    if not SHARED_ARXIV.is_dir():
        pytest.skip(f"real arXiv data not present at {SHARED_ARXIV} (only in the dev workspace)")
    return SHARED_ARXIV


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Corpus]:
    with open_corpus(tmp_path / "corpus.db") as opened:
        yield opened


def make_paper(
    paper_id: str = "2605.00001",
    *,
    version: int = 1,
    title: str = "A Study of Things",
    abstract: str = "We study things. Results are good.",
    authors: tuple[str, ...] = ("Ada Lovelace",),
    categories: tuple[str, ...] = ("cs.CL",),
    published: datetime | None = None,
    updated: datetime | None = None,
) -> Paper:
    """A paper with sensible defaults; tests override what they are about."""
    published = published or datetime(2026, 5, 28, 18, 0, tzinfo=UTC)
    return Paper(
        id=paper_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=authors,
        categories=categories,
        primary_category=categories[0],
        published=published,
        updated=updated or published,
    )
