"""The HTTP half of `ArxivSource`: `arxiv.Client` with our fetch step.

Its own module so that `arxiv` and `requests` load only when arXiv is actually asked:
`digestbot ask` on a stocked corpus and a cached `digest` build an `ArxivSource` but never
fetch, and should not pay for the HTTP stack at start-up.
"""

from __future__ import annotations

from collections.abc import Callable

import arxiv
import requests

from digest.arxiv_source import _MAX_BACKOFF, _USER_AGENT, ArxivSettings, Progress, log
from digest.errors import ArxivQueryRejected, ArxivUnavailable, FeedError
from digest.feed import ParsedFeed, parse_feed


class _Transient(Exception):
    """A failure worth retrying: 429, 5xx, a timeout, a dropped connection, an empty page."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _ArxivClient(arxiv.Client):
    """`arxiv.Client` with our fetch step; one instance per `ArxivSource`, so one connection
    and one request clock for the whole process."""

    def __init__(
        self,
        settings: ArxivSettings,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        super().__init__(
            page_size=settings.page_size,
            delay_seconds=settings.delay_seconds,
            num_retries=settings.retries,
        )
        self.query_url_format = settings.api_url.rstrip("?") + "?{}"
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._last_request: float | None = None
        self.requests_made = 0
        self.on_page: Progress | None = None
        self.last_total = 0  # the totalResults arXiv claimed for the latest search
        self._received = 0

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> ParsedFeed:
        if first_page:
            self._received = 0
        attempt = 0
        while True:
            try:
                feed = self._fetch_once(url, first_page)
            except _Transient as failure:
                attempt += 1
                if attempt > self._settings.retries:
                    raise ArxivUnavailable(
                        f"arXiv kept failing ({failure.reason}) after {attempt} tries; "
                        "nothing was stored, try again later"
                    ) from None
                pause = self._settings.backoff_seconds * 2 ** (attempt - 1)
                if failure.retry_after is not None:
                    pause = max(pause, failure.retry_after)
                pause = min(pause, _MAX_BACKOFF)
                log.warning("arXiv: %s; retry %d in %.1f s", failure.reason, attempt, pause)
                self._sleep(pause)
                continue
            self._received += len(feed.results)
            if first_page:
                self.last_total = feed.header.total_results
            if self.on_page is not None:
                self.on_page(self._received, max(feed.header.total_results, self._received))
            return feed

    def _fetch_once(self, url: str, first_page: bool) -> ParsedFeed:
        self._wait_turn()
        try:
            response = self._session.get(
                url,
                headers={"user-agent": _USER_AGENT},
                timeout=(10.0, self._settings.timeout_seconds),
            )
        except requests.Timeout:
            raise _Transient("the request timed out") from None
        except requests.RequestException as err:
            raise _Transient(f"could not connect: {type(err).__name__}") from None
        finally:
            self._last_request = self._clock()
            self.requests_made += 1
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status}", _retry_after(response))
        if status != 200:
            raise ArxivQueryRejected(_rejection(status, response.content))
        try:
            feed = parse_feed(response.content, source="arXiv's response")
        except FeedError as err:
            # A proxy's HTML error page or a cut-off body: transient more often than not.
            raise _Transient(str(err)) from None
        if feed.error is not None:
            raise ArxivQueryRejected(f"arXiv rejected the query: {feed.error}")
        # An empty page is arXiv's known flake. On the first page it is only final when the
        # total agrees (0): an empty page that claims N results, taken at its word, became a
        # posted "quiet week" that then blocked the real digest.
        if not feed.results and (not first_page or feed.header.total_results > 0):
            raise _Transient("a page of results came back empty")
        return feed

    def _wait_turn(self) -> None:
        if self._last_request is None:
            return
        remaining = self._settings.delay_seconds - (self._clock() - self._last_request)
        if remaining > 0:
            self._sleep(remaining)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return float(value)
    except ValueError:
        return None


def _rejection(status: int, content: bytes) -> str:
    try:
        message = parse_feed(content).error
    except FeedError:
        message = None
    if message:
        return f"arXiv rejected the query (HTTP {status}): {message}"
    return f"arXiv rejected the request with HTTP {status}"
