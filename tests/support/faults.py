"""Builders for the storage fault tests: many similar papers, and a file damaged inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.papers import make_paper

PAGE = 4096


def papers(n: int, start: int = 1) -> list:
    base = datetime(2026, 5, 28, tzinfo=UTC)
    return [
        make_paper(
            f"2605.{i:05d}",
            title=f"Paper {i}: On Reward Models",
            abstract=f"We study reward model number {i}. " * 12,
            published=base + timedelta(minutes=i),
        )
        for i in range(start, start + n)
    ]


def damage(path: Path, first_page: int = 40, last_page: int = 55) -> None:
    """Garbage over pages first..last, the header left intact (as a bad disk does)."""
    with path.open("r+b") as f:
        f.seek((first_page - 1) * PAGE)
        f.write(bytes((i * 37 + 11) % 256 for i in range((last_page - first_page + 1) * PAGE)))
