"""Shared fixtures: a real SQLite corpus in a temp dir, and the real arXiv data when present."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Corpus, open_corpus
from tests.support.paths import SHARED_ARXIV


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
