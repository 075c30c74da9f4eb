"""ArxivSource against the loopback arXiv fake: paging, politeness, retries, errors, ids."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.errors import ArxivQueryRejected, ArxivUnavailable
from digest.feed import read_feed_file
from tests.fakes.arxiv_server import FakeArxiv, FakeEntry
from tests.support.paths import FIXTURES

FEEDS = FIXTURES / "feeds"
TESTING_100 = "atom_2026-04-12_query-all-testing_100entries.xml"
TESTING_PAGES = {
    0: "atom_2026-04-12_query-all-testing_page0_start0_10entries.xml",
    10: "atom_2026-04-12_query-all-testing_page1_start10_10entries.xml",
    20: "atom_2026-04-12_query-all-testing_page2_start20_10entries.xml",
}
ERROR_400 = "atom_2026-04-12_ERROR-http400_id-list-abc_incorrect-id-format.xml"
LEGACY_EMPTY_TOTAL_1 = "atom_2025-08-20_LEGACY_EMPTY_totalResults1-but-0entries.xml"


@pytest.fixture
def fake() -> Iterator[FakeArxiv]:
    with FakeArxiv() as served:
        yield served


def settings(fake: FakeArxiv, **overrides: float) -> ArxivSettings:
    """Test settings: no politeness delay, small pages, quick back-off and timeout."""
    values: dict = {
        "api_url": fake.url,
        "delay_seconds": 0.0,
        "page_size": 10,
        "retries": 3,
        "backoff_seconds": 0.01,
        "timeout_seconds": 5.0,
    }
    values.update(overrides)
    return ArxivSettings(**values)


def invented(count: int, *, prefix: str = "2606.1") -> list[FakeEntry]:
    """`count` invented papers with unicode and LaTeX, published an hour apart."""
    return [
        FakeEntry(
            id=f"{prefix}{n:04d}",
            title=f"Paper {n}: Ålborg–Zürich $\\beta$-Calibration",
            summary=f"Abstract {n} with $\\epsilon$-greedy and naïve Bayes.\nSecond paragraph.",
            authors=["Zoë Ramírez-Götz", f"Author {n}"],
            categories=["cs.CL", "cs.LG"],
            published=datetime(2026, 6, 1, n % 24, 0, tzinfo=UTC).replace(day=1 + n // 24),
        )
        for n in range(count)
    ]


class TestPaging:
    """Paging through every page of a result set."""

    def test_pages_to_the_end_and_returns_each_real_paper_once_intact(
        self, fake: FakeArxiv, shared_arxiv: Path
    ) -> None:
        """A 100-paper result at 10 a page comes back whole, once each, equal to the file."""
        fake.load_feed(shared_arxiv / TESTING_100)
        expected = {p.id: p for p in read_feed_file(shared_arxiv / TESTING_100).results}
        pages_seen: list[tuple[int, int]] = []
        source = ArxivSource(settings(fake))

        papers = source.search(
            "all:testing", progress=lambda done, total: pages_seen.append((done, total))
        )

        assert len(papers) == 100 and len({p.id for p in papers}) == 100
        # Every field survives the round trip: unicode names, LaTeX, versions, old-style ids.
        assert {p.id: p for p in papers} == expected
        assert any("Ramírez" in a for p in papers for a in p.authors)
        assert any("$" in p.abstract for p in papers)
        assert {p.id: p.version for p in papers}["2409.05654"] == 9
        assert "cs/0503050" in {p.id for p in papers}
        assert [int(r.params["start"]) for r in fake.requests] == list(range(0, 100, 10))
        assert pages_seen == [(n, 100) for n in range(10, 101, 10)]
        assert source.requests_made == 10

    def test_pages_through_invented_papers_without_shared_data(self, fake: FakeArxiv) -> None:
        """25 papers at 10 a page: three requests, every paper once, text unchanged."""
        entries = invented(25)
        fake.add_entries(entries)

        papers = ArxivSource(settings(fake)).search("cat:cs.CL")

        assert sorted(p.id for p in papers) == sorted(e.id for e in entries)
        assert len(fake.requests) == 3
        by_id = {p.id: p for p in papers}
        first = by_id[entries[0].id]
        assert first.title == "Paper 0: Ålborg–Zürich $\\beta$-Calibration"
        assert first.abstract.startswith("Abstract 0 with $\\epsilon$-greedy and naïve Bayes.")
        assert first.authors == ("Zoë Ramírez-Götz", "Author 0")

    def test_verbatim_replay_of_real_pages_equals_the_100_entry_feed(
        self, fake: FakeArxiv, shared_arxiv: Path
    ) -> None:
        """The three recorded 10-entry pages, are entries 0-29 of the big feed."""
        fake.serve_by_start(
            {s: (shared_arxiv / name).read_bytes() for s, name in TESTING_PAGES.items()}
        )
        expected = read_feed_file(shared_arxiv / TESTING_100).results[:30]

        # Their totalResults is 214881, so only a limit stops the paging.
        papers = ArxivSource(settings(fake)).search("all:testing", limit=30)

        assert papers == expected
        assert [r.params["start"] for r in fake.requests] == ["0", "10", "20"]

    def test_empty_first_page_is_an_empty_result(self, fake: FakeArxiv) -> None:
        """A query matching nothing returns [] after one request, without error."""
        fake.add_entries(invented(3))

        assert ArxivSource(settings(fake)).search("ti:nonexistentword") == []
        assert len(fake.requests) == 1

    def test_real_empty_response_is_an_empty_result(
        self, fake: FakeArxiv, shared_arxiv: Path
    ) -> None:
        """The real empty 200 response ends the search quietly."""
        fake.enqueue(
            (shared_arxiv / "atom_2026-04-12_EMPTY_id-list-0000.0000_0entries.xml").read_bytes()
        )

        assert ArxivSource(settings(fake)).by_ids(["0000.0000"]) == []
        assert len(fake.requests) == 1

    def test_total_results_claiming_one_with_no_entries_is_handled(
        self, fake: FakeArxiv, shared_arxiv: Path
    ) -> None:
        """The legacy feed with totalResults 1 and no entries is not taken at its word: it is
        asked again, and only an answer whose total agrees (0 here) ends the search empty."""
        fake.enqueue((shared_arxiv / LEGACY_EMPTY_TOTAL_1).read_bytes())
        pauses: list[float] = []

        assert ArxivSource(settings(fake), sleep=pauses.append).search("all:electron") == []
        assert len(fake.requests) == 2 and pauses == [0.01]

    def test_first_page_empty_but_claiming_results_is_retried(self, fake: FakeArxiv) -> None:
        """An empty first page whose totalResults says 25 is transient: asked again, and the
        papers arrive (it once became a posted "quiet week")."""
        fake.add_entries(invented(25))
        fake.empty_page_next()

        papers = ArxivSource(settings(fake), sleep=lambda _: None).search("cat:cs.CL")

        assert len(papers) == 25
        assert [r.params["start"] for r in fake.requests] == ["0", "0", "10", "20"]

    def test_first_page_always_empty_but_claiming_results_fails(self, fake: FakeArxiv) -> None:
        """Still empty after every retry: ArxivUnavailable, never an empty result."""
        fake.add_entries(invented(25))
        fake.empty_page_next(times=10)

        with pytest.raises(ArxivUnavailable, match="came back empty") as caught:
            ArxivSource(settings(fake, retries=2), sleep=lambda _: None).search("cat:cs.CL")

        assert "nothing was stored" in str(caught.value)
        assert len(fake.requests) == 3


class TestPoliteness:
    """The request clock: one client, a minimum gap between requests."""

    def test_requests_are_spaced_by_at_least_delay_seconds(self, fake: FakeArxiv) -> None:
        """Four pages with delay 0.2 s arrive at least 0.2 s apart (real clock, real sleep)."""
        fake.add_entries(invented(35))

        papers = ArxivSource(settings(fake, delay_seconds=0.2)).search("cat:cs.CL")

        assert len(papers) == 35
        times = [r.time for r in fake.requests]
        assert len(times) == 4
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert min(gaps) >= 0.2 - 1e-3, gaps

    def test_delay_is_waited_through_the_injected_sleep(self, fake: FakeArxiv) -> None:
        """With a frozen clock each later request first sleeps the whole delay."""
        fake.add_entries(invented(25))
        pauses: list[float] = []

        ArxivSource(
            settings(fake, delay_seconds=3.0), sleep=pauses.append, clock=lambda: 0.0
        ).search("cat:cs.CL")

        assert pauses == [3.0, 3.0]  # before pages 2 and 3, none before the first


class TestRetries:
    """Transient failures are retried with growing pauses; all or an error."""

    def test_back_off_grows_between_503s(self, fake: FakeArxiv) -> None:
        """Two 503s, then success: pauses double (1 s, 2 s) and the result is whole."""
        fake.add_entries(invented(5))
        fake.fail_next(503, times=2)
        pauses: list[float] = []

        papers = ArxivSource(settings(fake, backoff_seconds=1.0), sleep=pauses.append).search(
            "cat:cs.CL"
        )

        assert len(papers) == 5
        assert pauses == [1.0, 2.0]
        assert len(fake.requests) == 3

    def test_503_then_success(self, fake: FakeArxiv) -> None:
        """One 503 costs one retry and nothing else."""
        fake.add_entries(invented(5))
        fake.fail_next(503)

        source = ArxivSource(settings(fake))
        papers = source.search("cat:cs.CL")

        assert len(papers) == 5 and len(fake.requests) == 2 and source.requests_made == 2

    def test_retry_after_on_429_is_honoured(self, fake: FakeArxiv) -> None:
        """A 429 with Retry-After: 7 waits 7 s although the back-off would be 1 s."""
        fake.add_entries(invented(5))
        fake.fail_next(429, retry_after=7)
        pauses: list[float] = []

        papers = ArxivSource(settings(fake, backoff_seconds=1.0), sleep=pauses.append).search(
            "cat:cs.CL"
        )

        assert len(papers) == 5 and pauses == [7.0]

    def test_retry_after_shorter_than_back_off_keeps_the_back_off(self, fake: FakeArxiv) -> None:
        """Retry-After only ever lengthens the pause."""
        fake.add_entries(invented(5))
        fake.fail_next(429, retry_after=1)
        pauses: list[float] = []

        ArxivSource(settings(fake, backoff_seconds=4.0), sleep=pauses.append).search("cat:cs.CL")

        assert pauses == [4.0]

    def test_empty_later_page_is_retried_then_succeeds(self, fake: FakeArxiv) -> None:
        """Page 2 comes back empty once; it is asked again and every paper arrives."""
        entries = invented(25)
        fake.add_entries(entries)
        pauses: list[float] = []

        def after_page(done: int, total: int) -> None:
            if done == 10:  # page 1 is in: make the next answer an empty page
                fake.empty_page_next()

        papers = ArxivSource(settings(fake), sleep=pauses.append).search(
            "cat:cs.CL", progress=after_page
        )

        assert sorted(p.id for p in papers) == sorted(e.id for e in entries)
        assert [r.params["start"] for r in fake.requests] == ["0", "10", "10", "20"]
        assert pauses == [0.01]

    def test_persistent_empty_page_is_unavailable(self, fake: FakeArxiv) -> None:
        """A later page empty on every try: ArxivUnavailable after `retries` retries."""
        fake.add_entries(invented(25))

        def after_page(done: int, total: int) -> None:
            fake.empty_page_next(times=10)

        with pytest.raises(ArxivUnavailable, match="came back empty") as caught:
            ArxivSource(settings(fake, retries=2), sleep=lambda _: None).search(
                "cat:cs.CL", progress=after_page
            )

        assert not isinstance(caught.value, ArxivQueryRejected)
        assert "nothing was stored" in str(caught.value)
        assert [r.params["start"] for r in fake.requests] == ["0", "10", "10", "10"]

    def test_persistent_503_is_unavailable_after_retries(self, fake: FakeArxiv) -> None:
        """Always 503: exactly 1 + retries requests, then one clear ArxivUnavailable."""
        fake.add_entries(invented(5))
        fake.fail_next(503, times=20)
        pauses: list[float] = []

        with pytest.raises(ArxivUnavailable, match=r"arXiv kept failing \(HTTP 503\)"):
            ArxivSource(settings(fake, retries=3, backoff_seconds=1.0), sleep=pauses.append).search(
                "cat:cs.CL"
            )

        assert len(fake.requests) == 4
        assert pauses == [1.0, 2.0, 4.0]

    def test_back_off_is_capped(self, fake: FakeArxiv) -> None:
        """A huge Retry-After is capped at 300 s instead of stalling the bot for an hour."""
        fake.add_entries(invented(2))
        fake.fail_next(429, retry_after=3600)
        pauses: list[float] = []

        ArxivSource(settings(fake), sleep=pauses.append).search("cat:cs.CL")

        assert pauses == [300.0]

    def test_timeout_is_retried(self, fake: FakeArxiv) -> None:
        """A stalled response times out after timeout_seconds and the retry succeeds."""
        fake.add_entries(invented(5))
        fake.stall_next(2.0)
        pauses: list[float] = []

        papers = ArxivSource(settings(fake, timeout_seconds=0.2), sleep=pauses.append).search(
            "cat:cs.CL"
        )

        assert len(papers) == 5
        assert len(fake.requests) == 2 and pauses == [0.01]

    def test_proxy_html_page_is_retried(self, fake: FakeArxiv) -> None:
        """A 200 whose body is an HTML error page is transient, not an empty result."""
        fake.add_entries(invented(5))
        fake.enqueue(
            (FEEDS / "not-a-feed.html").read_bytes(), headers={"Content-Type": "text/html"}
        )

        papers = ArxivSource(settings(fake)).search("cat:cs.CL")

        assert len(papers) == 5 and len(fake.requests) == 2

    def test_truncated_body_is_retried(self, fake: FakeArxiv) -> None:
        """A cut-off feed is retried rather than read as a shorter list."""
        fake.add_entries(invented(5))
        fake.enqueue((FEEDS / "truncated.atom.xml").read_bytes())

        papers = ArxivSource(settings(fake)).search("cat:cs.CL")

        assert len(papers) == 5 and len(fake.requests) == 2

    def test_unreachable_server_is_unavailable(self) -> None:
        """Nothing listening on the port: connection errors are retried, then one clear error."""
        with FakeArxiv() as gone:
            url = gone.url
        pauses: list[float] = []
        source = ArxivSource(
            ArxivSettings(api_url=url, delay_seconds=0, retries=1, backoff_seconds=0.01),
            sleep=pauses.append,
        )

        with pytest.raises(ArxivUnavailable, match="could not connect"):
            source.search("cat:cs.CL")
        assert pauses == [0.01]


class TestRejections:
    """HTTP 400 error feeds: arXiv's own text, never retried."""

    def test_bad_id_is_rejected_with_arxivs_message_and_not_retried(self, fake: FakeArxiv) -> None:
        """id_list=abc: ArxivQueryRejected quoting arXiv, after exactly one request."""
        pauses: list[float] = []

        with pytest.raises(ArxivQueryRejected, match="incorrect id format for abc") as caught:
            ArxivSource(settings(fake, retries=4), sleep=pauses.append).by_ids(["abc"])

        assert "HTTP 400" in str(caught.value)
        assert len(fake.requests) == 1 and pauses == []

    def test_real_error_feed_is_rejected_and_not_retried(
        self, fake: FakeArxiv, shared_arxiv: Path
    ) -> None:
        """The recorded 400 error response: its message reaches the user, one request only."""
        fake.enqueue((shared_arxiv / ERROR_400).read_bytes(), status=400)

        with pytest.raises(ArxivQueryRejected, match="incorrect id format for abc"):
            ArxivSource(settings(fake)).by_ids(["abc"])
        assert len(fake.requests) == 1

    def test_error_feed_with_status_200_is_still_rejected(self, fake: FakeArxiv) -> None:
        """An error feed is recognised by its content even when a proxy says 200."""
        fake.enqueue((FEEDS / "error-400.atom.xml").read_bytes(), status=200)

        with pytest.raises(ArxivQueryRejected, match="incorrect id format for nonsense"):
            ArxivSource(settings(fake)).by_ids(["nonsense"])
        assert len(fake.requests) == 1

    def test_bad_search_query_is_rejected(self, fake: FakeArxiv) -> None:
        """A query the API cannot parse is a rejection, not an outage."""
        with pytest.raises(ArxivQueryRejected, match="unsupported search field"):
            ArxivSource(settings(fake)).search("nosuchfield:x")
        assert len(fake.requests) == 1


class TestByIds:
    """Looking papers up by id, in every id form."""

    def test_versioned_and_old_style_ids(self, fake: FakeArxiv, shared_arxiv: Path) -> None:
        """Versioned new-style and old-style ids come back keyed by their bare id."""
        for name in (
            "atom_2026-04-12_id-list-versioned-2104.12255v1_1entry.xml",
            "atom_2026-04-12_id-list-oldstyle-quant-ph_0201082v1_1entry.xml",
            "atom_2026-05-11_id-list-oldstyle-astro-ph_0601001_1entry.xml",
        ):
            fake.load_feed(shared_arxiv / name)

        papers = ArxivSource(settings(fake)).by_ids(
            ["2104.12255v1", "quant-ph/0201082v1", "astro-ph/0601001"]
        )

        by_id = {p.id: p for p in papers}
        assert sorted(by_id) == ["2104.12255", "astro-ph/0601001", "quant-ph/0201082"]
        assert by_id["2104.12255"].title == "0"  # a falsy title survives
        assert by_id["quant-ph/0201082"].version == 1
        assert len(fake.requests) == 1
        assert (
            fake.requests[0].params["id_list"] == "2104.12255v1,quant-ph/0201082v1,astro-ph/0601001"
        )

    def test_unknown_ids_are_absent(self, fake: FakeArxiv) -> None:
        """Ids arXiv does not know are simply missing from the answer."""
        fake.add_entries(invented(3))

        papers = ArxivSource(settings(fake)).by_ids(["2606.10001v1", "2606.99999"])

        assert [p.id for p in papers] == ["2606.10001"]

    def test_no_ids_asks_nothing(self, fake: FakeArxiv) -> None:
        """An empty id list is answered without a request."""
        assert ArxivSource(settings(fake)).by_ids([]) == []
        assert fake.requests == []

    def test_many_ids_are_paged(self, fake: FakeArxiv) -> None:
        """More ids than a page holds: every one comes back, over several pages."""
        entries = invented(23)
        fake.add_entries(entries)

        papers = ArxivSource(settings(fake)).by_ids([e.versioned_id for e in entries])

        assert sorted(p.id for p in papers) == sorted(e.id for e in entries)
        assert len(fake.requests) == 3


class TestPagingOrder:
    def test_window_fetches_page_oldest_first(self) -> None:
        """Newly announced papers then land on the last page instead of shifting earlier
        pages (which would repeat one paper and never fetch another)."""
        with FakeArxiv() as fake:
            ArxivSource(ArxivSettings(api_url=fake.url, delay_seconds=0)).search("all:x")
            (request,) = fake.requests
        assert request.params["sortBy"] == "submittedDate"
        assert request.params["sortOrder"] == "ascending"
