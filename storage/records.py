"""Plain records that cross the storage boundary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Paper:
    """One arXiv paper at its latest known version, keyed by its id without version."""

    id: str
    version: int
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    primary_category: str
    published: datetime
    updated: datetime
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None

    @property
    def url(self) -> str:
        """The paper's abstract page: the only kind of link we ever give for a paper."""
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def submitted(self) -> date:
        """The UTC day of the first version: what arXiv's `submittedDate` filters on."""
        return self.published.date()


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """When a topic's window was fetched from arXiv, with which query, and whether the
    window was already complete (every day in it announced) at that time."""

    topic: str
    since: date
    until: date
    query: str
    fetched_at: datetime
    complete: bool
    paper_count: int
