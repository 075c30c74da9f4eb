"""Papers for tests: sensible defaults, overridden where a test is about something."""

from __future__ import annotations

from datetime import UTC, datetime

from storage import Paper


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
