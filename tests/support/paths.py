"""Where the tests find their data: the repository, its fixtures, the real arXiv data."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# DIGESTBOT_TEST_DATA points elsewhere (a worktree whose parent has no shared/), as
# DIGESTBOT_BENCH_DATA does for the benchmarks.
SHARED_ARXIV = Path(
    os.environ.get("DIGESTBOT_TEST_DATA") or REPO.parent / "shared" / "data" / "arxiv"
)
FIXTURES = REPO / "tests" / "fixtures"
