"""Where the tests find their data: the repository, its fixtures, the real arXiv data."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_ARXIV = REPO.parent / "shared" / "data" / "arxiv"
FIXTURES = REPO / "tests" / "fixtures"
