"""Fetching from the arXiv API through the `arxiv` package, politely and completely.

`arxiv.Client` does the paging (URL building, offsets, stopping at the total). Its retry
logic spaces retries only by the fixed delay, sends no timeout, and retries a 400 error
feed as if it were transient; `_ArxivClient` replaces just that step (`_parse_feed`) with
growing back-off, timeouts, Retry-After, our strict parser and our error types.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from digest.errors import ArxivUnavailable

# Re-exported: the settings live in a light module, which the config sections extend.
from digest.settings import ArxivSettings
from storage import Paper

if TYPE_CHECKING:
    import arxiv

    from digest.arxiv_client import _ArxivClient

log = logging.getLogger(__name__)

_MAX_BACKOFF = 300.0
_USER_AGENT = "digestbot/0.1 (+https://github.com/digestbot/digestbot)"

# Called after each page with (papers received so far, total arXiv claims).
Progress = Callable[[int, int], None]


class ArxivSource:
    """Fetches papers from the arXiv API: a topic's window, or specific ids."""

    def __init__(
        self,
        settings: ArxivSettings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or ArxivSettings()
        self._sleep = sleep
        self._clock = clock
        self._made: _ArxivClient | None = None

    @property
    def _client(self) -> _ArxivClient:
        # Made on first use: `arxiv` and `requests` load only when arXiv is asked.
        if self._made is None:
            from digest.arxiv_client import _ArxivClient

            self._made = _ArxivClient(self.settings, self._sleep, self._clock)
        return self._made

    @property
    def requests_made(self) -> int:
        """How many HTTP requests this source has sent (retries included)."""
        return self._client.requests_made

    @property
    def last_total(self) -> int:
        """How many results arXiv said the latest search has (its totalResults)."""
        return self._client.last_total

    def search(
        self, query: str, *, progress: Progress | None = None, limit: int | None = None
    ) -> list[Paper]:
        """Every paper matching `query`, paging to the end (or `limit`); all or an error."""
        import arxiv

        search = arxiv.Search(
            query=query,
            max_results=limit,
            sort_by=arxiv.SortCriterion.SubmittedDate,
            # Oldest first: papers announced while we page arrive at the end, instead of
            # pushing earlier results onto the next page (one repeated, one never fetched).
            sort_order=arxiv.SortOrder.Ascending,
        )
        self._client.last_total = 0
        papers = self._run(search, progress)
        unique = list({paper.id: paper for paper in papers}.values())
        if not unique and self._client.last_total > 0 and limit != 0:
            # Retries could not get a non-empty answer: never let it pass as an empty week.
            raise ArxivUnavailable(
                f"arXiv said {self._client.last_total} papers match but sent none; nothing "
                "was stored, try again later"
            )
        return unique

    def by_ids(self, ids: Sequence[str]) -> list[Paper]:
        """The papers with these ids (bare or versioned); ids arXiv does not know are absent."""
        if not ids:
            return []
        import arxiv

        return self._run(arxiv.Search(id_list=list(ids), max_results=len(ids)), None)

    def _run(self, search: arxiv.Search, progress: Progress | None) -> list[Paper]:
        self._client.on_page = progress
        try:
            # Our _parse_feed yields Papers, so the pager hands back Papers.
            return list(self._client.results(search))
        finally:
            self._client.on_page = None
