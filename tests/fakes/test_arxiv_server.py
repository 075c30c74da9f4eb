"""Tests of the loopback arXiv API fake: query semantics, rendering, replay, faults, CLI."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import arxiv
import pytest
import requests
from lxml import etree

from tests.fakes.arxiv_server import (
    ATOM_CONTENT_TYPE,
    FakeArxiv,
    FakeEntry,
    QueryError,
    load_feed_entries,
    load_listing_entries,
    parse_query,
    render_feed,
    shared_arxiv_dir,
)

SHARED = shared_arxiv_dir()
needs_shared = pytest.mark.skipif(
    SHARED is None, reason="real arXiv data absent: ../shared/data/arxiv not found from repo root"
)
REPO_ROOT = Path(__file__).resolve().parents[2]
NS = {"a": "http://www.w3.org/2005/Atom", "os": "http://a9.com/-/spec/opensearch/1.1/"}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# A small synthetic corpus (invented papers) covering every query feature.
SMALL = [
    FakeEntry(
        id="2605.00001",
        title="Post-Training Large Language Models with GRPO",
        summary="We study post training of LLMs.\nA second paragraph with $\\alpha$.",
        authors=["Adrian Del Maestro", "Ana Ramírez"],
        categories=["cs.CL", "cs.LG"],
        published=_at("2026-05-20T12:00:00"),
        comment="10 pages",
    ),
    FakeEntry(
        id="2605.00002",
        title="A Reward Model for Code",
        summary="We train a reward model for a large language model.",
        authors=["Bo Li"],
        categories=["cs.SE", "cs.AI"],
        version=2,
        published=_at("2026-05-21T23:59:30"),
        updated=_at("2026-05-25T10:00:00"),
        journal_ref="Proc. ICSE 2026",
    ),
    FakeEntry(
        id="2605.00003",
        title="Vision Transformers",
        summary="Image classification.",
        authors=["Jürgen Weißl"],
        categories=["cs.CV"],
        doi="10.1000/xyz",
        published=_at("2026-05-22T00:00:00"),
    ),
    FakeEntry(
        id="hep-th/9901001",
        title="Strings",
        summary="An $\\epsilon$ expansion.",
        authors=["C. Old"],
        categories=["hep-th"],
        version=3,
        published=_at("1999-01-04T10:00:00"),
    ),
]
SMALL_IDS = {1: "2605.00001", 2: "2605.00002", 3: "2605.00003", 4: "hep-th/9901001"}


@pytest.fixture
def fake() -> Iterator[FakeArxiv]:
    with FakeArxiv() as server:
        yield server


@pytest.fixture
def small(fake: FakeArxiv) -> FakeArxiv:
    fake.add_entries(SMALL)
    return fake


@pytest.fixture(scope="module")
def listing_entries() -> list[FakeEntry]:
    if SHARED is None:
        pytest.skip("real arXiv data absent: ../shared/data/arxiv not found from repo root")
    return load_listing_entries(SHARED / "listings")


def _client(fake: FakeArxiv, **kwargs: int) -> arxiv.Client:
    client = arxiv.Client(delay_seconds=0, **kwargs)
    client.query_url_format = fake.query_url_format
    return client


def _get(fake: FakeArxiv, **params: str) -> requests.Response:
    return requests.get(fake.url, params=params, timeout=5)


def _ids(body: bytes) -> list[str]:
    root = etree.fromstring(body)
    return [e.text.rpartition("/abs/")[2] for e in root.findall("a:entry/a:id", NS)]


def _total(body: bytes) -> int:
    return int(etree.fromstring(body).findtext("os:totalResults", namespaces=NS))


def _feed_query(path: Path) -> str:
    title = etree.parse(str(path)).getroot().findtext("a:title", namespaces=NS)
    return title.removeprefix("arXiv Query: search_query=").rsplit("&id_list=", 1)[0]


def _entry_blocks(body: bytes) -> list[bytes]:
    return re.findall(rb"  <entry>.*?</entry>\n", body, re.S)


# --------------------------------------------------------------------------- query semantics


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('ti:"post training"', {1}),  # hyphen == space
        ('abs:"post-training"', {1}),
        ('ti:"large language model"', {1}),  # query singular, text plural
        ('abs:"large language models"', {2}),  # query plural, text singular
        ("abs:llm", {1}),
        ("ti:model", {1, 2}),
        ('ti:"vision transformer"', {3}),
        ("cat:cs.AI", {2}),  # any category, not just the primary
        ("cat:cs.*", {1, 2, 3}),
        ("au:del_maestro", {1}),
        ('au:"Ana Ramírez"', {1}),
        ("au:Weißl", {3}),
        ('au:"maestro ana"', set()),  # phrases never span two authors
        ("reward", {2}),  # bare term = all:
        ("all:icse", {2}),
        ("co:pages", {1}),
        ("jr:icse", {2}),
        ("abs:epsilon", {4}),
        ("id:2605.00003v1", {3}),
        ("cat:cs.CL OR cat:cs.CV", {1, 3}),
        ("cat:cs.* ANDNOT cat:cs.CV", {1, 2}),
        ("cat:cs.CV OR cat:cs.CL AND ti:grpo", {1}),  # left-assoc: (CV OR CL) AND grpo
        ("cat:cs.CV OR cat:cs.SE AND ti:reward", {2}),
        ("cat:cs.CV OR (cat:cs.SE AND ti:vision)", {3}),
        ("ti:reward ti:code", {2}),  # juxtaposition = AND
        ("ti:reward ti:vision", set()),
        ("submittedDate:[202605210000 TO 202605212359]", {2}),  # 23:59:30 is inside
        ("submittedDate:[202605220000 TO 202605220000]", {3}),
        ("lastUpdatedDate:[202605250000 TO 202605252359]", {2}),
    ],
)
def test_search_query_semantics(small: FakeArxiv, query: str, expected: set[int]) -> None:
    page, total = small.search({"search_query": query, "max_results": "100"})
    assert {e.id for e in page} == {SMALL_IDS[i] for i in expected}
    assert total == len(expected)


@pytest.mark.parametrize(
    "query",
    [
        'ti:"unclosed',
        "(cat:cs.CL",
        "cat:cs.CL)",
        "AND ti:x",
        "ti:x OR",
        "foo:bar",
        "submittedDate:[2026 TO 2027]",
        "submittedDate:202605",
        "ti:[1 TO 2]",
    ],
)
def test_unparseable_query_is_http_400_error_feed(small: FakeArxiv, query: str) -> None:
    with pytest.raises(QueryError):
        parse_query(query)
    response = _get(small, search_query=query)
    assert response.status_code == 400
    root = etree.fromstring(response.content)
    assert root.findtext("a:entry/a:title", namespaces=NS) == "Error"
    assert root.findtext("a:entry/a:id", namespaces=NS).startswith("https://arxiv.org/api/errors#")


def test_id_list_order_versions_missing_and_query_filter(small: FakeArxiv) -> None:
    response = _get(small, id_list="2605.00003,hep-th/9901001v2,2605.99999,2605.00001,2605.00002v9")
    assert response.status_code == 200
    # id_list order kept; a missing id and a not-yet-existing version are simply omitted;
    # an older version of a paper is served under that version.
    assert _ids(response.content) == ["2605.00003v1", "hep-th/9901001v2", "2605.00001v1"]
    assert _total(response.content) == 3
    filtered = _get(small, id_list="2605.00001,2605.00002", search_query="cat:cs.AI")
    assert _ids(filtered.content) == ["2605.00002v2"]
    nothing = _get(small, id_list="0808.05394")
    assert nothing.status_code == 200
    assert (_ids(nothing.content), _total(nothing.content)) == ([], 0)


def test_malformed_id_is_http_400(small: FakeArxiv) -> None:
    response = _get(small, id_list="2605.00001,abc")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == ATOM_CONTENT_TYPE
    root = etree.fromstring(response.content)
    assert root.findtext("a:entry/a:summary", namespaces=NS) == "incorrect id format for abc"
    assert root.findtext("a:entry/a:id", namespaces=NS) == (
        "https://arxiv.org/api/errors#incorrect_id_format_for_abc"
    )


@needs_shared
def test_error_and_empty_feeds_are_byte_identical_to_real_ones(fake: FakeArxiv) -> None:
    volatile = re.compile(rb"<(updated|id)>[^<]*</(updated|id)>")  # request time, query hash
    error = _get(fake, id_list="abc", start="0", max_results="100")
    real_error = SHARED / "atom_2026-04-12_ERROR-http400_id-list-abc_incorrect-id-format.xml"
    assert error.status_code == 400
    assert volatile.sub(b"", error.content) == volatile.sub(b"", real_error.read_bytes())
    empty = _get(fake, id_list="0000.0000", start="0", max_results="100")
    real_empty = SHARED / "atom_2026-04-12_EMPTY_id-list-0000.0000_0entries.xml"
    assert empty.status_code == 200
    assert volatile.sub(b"", empty.content) == volatile.sub(b"", real_empty.read_bytes())


def test_sorting_paging_and_page_cap(small: FakeArxiv) -> None:
    every = "cat:cs.* OR cat:hep-th"
    asc = _get(small, search_query=every, sortBy="submittedDate", sortOrder="ascending")
    assert [i.partition("v")[0] for i in _ids(asc.content)] == [
        "hep-th/9901001",
        "2605.00001",
        "2605.00002",
        "2605.00003",
    ]
    updated = _get(small, search_query=every, sortBy="lastUpdatedDate")
    assert _ids(updated.content)[0] == "2605.00002v2"  # updated 05-25, newest
    relevance = _get(small, search_query=every)  # falls back to newest submitted first
    assert _ids(relevance.content)[0] == "2605.00003v1"
    page = _get(small, search_query=every, sortBy="submittedDate", start="1", max_results="2")
    root = etree.fromstring(page.content)
    assert _ids(page.content) == ["2605.00002v2", "2605.00001v1"]
    assert [
        root.findtext(f"os:{n}", namespaces=NS)
        for n in ("itemsPerPage", "totalResults", "startIndex")
    ] == ["2", "4", "1"]
    capped = etree.fromstring(_get(small, search_query=every, max_results="5000").content)
    assert capped.findtext("os:itemsPerPage", namespaces=NS) == "2000"
    for bad in ({"start": "-1"}, {"max_results": "x"}, {"sortBy": "bogus"}, {"sortOrder": "up"}):
        assert _get(small, search_query=every, **bad).status_code == 400


# --------------------------------------------------------------------------- arxiv package


def test_arxiv_client_pages_to_the_end(fake: FakeArxiv) -> None:
    entries = [
        FakeEntry(
            id=f"2605.{n:05d}",
            title=f"Paper {n} on $\\mathcal{{O}}(n)$",
            summary=f"Abstract {n} with $\\epsilon$.\nÜber-paragraph.",
            authors=["Zoë Ångström", "Bo Li"],
            categories=["cs.CL"],
            published=_at(f"2026-05-{1 + n % 28:02d}T10:{n:02d}:00"),
        )
        for n in range(1, 26)
    ]
    fake.add_entries(entries)
    search = arxiv.Search("cat:cs.CL", max_results=None, sort_by=arxiv.SortCriterion.SubmittedDate)
    results = list(_client(fake, page_size=10).results(search))
    expected = sorted(entries, key=lambda e: (e.published, e.id), reverse=True)
    assert [r.get_short_id() for r in results] == [e.versioned_id for e in expected]
    assert [r.params["start"] for r in fake.requests] == ["0", "10", "20"]
    first = results[0]
    assert [a.name for a in first.authors] == ["Zoë Ångström", "Bo Li"]
    assert first.summary == expected[0].summary
    assert first.title == expected[0].title
    assert first.pdf_url == f"https://arxiv.org/pdf/{expected[0].versioned_id}"


@needs_shared
def test_arxiv_client_reads_real_corpus_unicode_and_latex(fake: FakeArxiv) -> None:
    entries = fake.load_feed(SHARED / "atom_2026-04-12_query-all-testing_100entries.xml")
    search = arxiv.Search(
        "submittedDate:[199101010000 TO 209912312359]",
        max_results=None,
        sort_by=arxiv.SortCriterion.SubmittedDate,
    )
    results = list(_client(fake, page_size=10).results(search))
    expected = sorted(entries, key=lambda e: (e.published, e.id), reverse=True)
    assert [r.get_short_id() for r in results] == [e.versioned_id for e in expected]
    assert len(fake.requests) == 10
    by_id = {r.get_short_id(): r for r in results}
    accented = next(e for e in entries if any("Ramírez" in a for a in e.authors))
    assert [a.name for a in by_id[accented.versioned_id].authors] == list(accented.authors)
    latex = next(e for e in entries if "$\\varepsilon_1$" in e.summary)
    assert by_id[latex.versioned_id].summary == latex.summary
    paragraphs = next(e for e in entries if "\n" in e.summary)
    assert by_id[paragraphs.versioned_id].summary == paragraphs.summary
    omega = next(e for e in entries if "$ω$Test" in e.title)
    assert by_id[omega.versioned_id].title == omega.title
    assert by_id["cs/0503050v1"].entry_id == "http://arxiv.org/abs/cs/0503050v1"


@needs_shared
def test_rendering_is_byte_identical_to_real_2026_entries() -> None:
    for name in (
        "atom_2026-04-12_query-all-testing_100entries.xml",
        "atom_2026-07-13_cat-cs.AI-OR-cs.LG_newest_50entries.xml",
    ):
        raw = (SHARED / name).read_bytes()
        ours = _entry_blocks(render_feed(load_feed_entries(SHARED / name)))
        theirs = _entry_blocks(raw)
        # FakeEntry carries no arxiv:affiliation, so only entries without one can match.
        pairs = [(a, b) for a, b in zip(theirs, ours, strict=True) if b"affiliation" not in a]
        assert len(pairs) >= len(theirs) - 1
        assert all(a == b for a, b in pairs)


# --------------------------------------------------------------------------- listings


@needs_shared
@pytest.mark.parametrize(
    ("feed", "count"),
    [
        ("post-train_2026-05-28_to_06-03.atom.xml", 87),
        ("post-train_2026-05-13_to_05-19.atom.xml", 42),
    ],
)
def test_post_train_query_reproduces_recorded_feed(
    fake: FakeArxiv, listing_entries: list[FakeEntry], feed: str, count: int
) -> None:
    path = SHARED / "feeds" / feed
    recorded = load_feed_entries(path)
    assert len(recorded) == count
    fake.add_entries(listing_entries)
    search = arxiv.Search(
        _feed_query(path), max_results=None, sort_by=arxiv.SortCriterion.SubmittedDate
    )
    results = list(_client(fake, page_size=50).results(search))
    assert [r.get_short_id() for r in results] == [e.versioned_id for e in recorded]
    # Same dates, versions and text as the recorded feed, down to the rendered bytes.
    page, total = fake.search(
        {"search_query": _feed_query(path), "max_results": "2000", "sortBy": "submittedDate"}
    )
    assert (page, total) == (recorded, count)
    assert _entry_blocks(render_feed(page)) == _entry_blocks(path.read_bytes())


@needs_shared
def test_listings_reproduce_every_entry_of_the_all_feed(listing_entries: list[FakeEntry]) -> None:
    # Covers the cross-list/replacement dating too: 93 v2 entries dated the 1st of their month.
    recorded = load_feed_entries(SHARED / "feeds" / "listings_2026-05-14_to_05-21_all.atom.xml")
    by_id = {e.id: e for e in listing_entries}
    assert len(recorded) == 2489
    assert sum(e.version == 2 for e in recorded) == 93
    assert [by_id.get(e.id) for e in recorded] == recorded


def test_listing_dates_follow_the_announcement_rules(tmp_path: Path) -> None:
    def row(arxiv_id: str, *cats: str) -> str:
        return json.dumps(
            {
                "id": arxiv_id,
                "categories": list(cats),
                "authors": ["A"],
                "title": f"T {arxiv_id}",
                "comment": None,
                "summary": "S",
            }
        )

    (tmp_path / "2026-06-02.jsonl").write_text(
        "\n".join(
            [
                row("2606.00010", "cs.CL"),
                row("2605.00500", "cs.AI", "cs.CL"),
                row("2606.00003", "cs.CV"),
                row("2606.00020", "cs.CL"),
            ]
        )
        + "\n"
    )
    (tmp_path / "2026-05-29.jsonl").write_text(
        "\n".join(
            [row("2605.00300", "cs.CL"), row("2605.00300", "cs.CL"), row("2606.00004", "cs.AI")]
        )
    )
    entries = {e.id: e for e in load_listing_entries(tmp_path)}
    assert len(entries) == 6
    new = entries["2606.00004"]  # file 05-29 comes first despite the listing order
    assert (new.version, new.published, new.updated) == (
        1,
        _at("2026-05-28T18:00:02"),
        _at("2026-05-28T18:00:02"),
    )
    assert entries["2606.00010"].published == _at("2026-06-01T18:00:00")
    assert entries["2606.00020"].published == _at("2026-06-01T18:00:03")
    for older in ("2605.00500", "2606.00003"):  # not above 2606.00004: cross-list/replacement
        assert entries[older].version == 2
        assert entries[older].updated.date().isoformat() == "2026-06-01"
    assert entries["2605.00500"].published == _at("2026-05-01T12:00:00")
    assert entries["2606.00003"].published == _at("2026-06-01T12:00:00")
    assert entries["2605.00500"].categories == ("cs.AI", "cs.CL")


@needs_shared
def test_load_feed_handles_legacy_blank_and_error_entries(fake: FakeArxiv) -> None:
    legacy = fake.load_feed(SHARED / "atom_2016-10-09_LEGACY_query-au-del_maestro_10entries.xml")
    assert len(legacy) == 10
    assert all("\n" not in e.title and not e.summary.startswith(" ") for e in legacy)
    blank = load_feed_entries(
        SHARED / "atom_2025-08-24_LEGACY_id-list-3-missing-1-present_4entries-3-blank.xml"
    )
    assert [e.id for e in blank] == ["2201.13452"]
    assert (
        load_feed_entries(
            SHARED / "atom_2026-04-12_ERROR-http400_id-list-abc_incorrect-id-format.xml"
        )
        == []
    )
    fake.load_feed(SHARED / "atom_2026-05-11_id-list-oldstyle-astro-ph_0601001_1entry.xml")
    assert _ids(_get(fake, id_list="astro-ph/0601001").content) == ["astro-ph/0601001v1"]
    response = _get(fake, search_query="au:del_maestro", max_results="100")
    assert _total(response.content) == 10


# --------------------------------------------------------------------------- replay and faults


@needs_shared
def test_serve_by_start_replays_real_pages(fake: FakeArxiv) -> None:
    pages = {
        start: (
            SHARED / f"atom_2026-04-12_query-all-testing_page{n}_start{start}_10entries.xml"
        ).read_bytes()
        for n, start in enumerate((0, 10, 20))
    }
    fake.serve_by_start(pages)
    client = _client(fake, page_size=10, num_retries=0)
    got = [r.get_short_id() for r in client.results(arxiv.Search("all:testing", max_results=30))]
    assert got == [i for start in (0, 10, 20) for i in _ids(pages[start])]
    # Past the recordings: an empty page although totalResults promised more.
    with pytest.raises(arxiv.UnexpectedEmptyPageError):
        list(client.results(arxiv.Search("all:testing", max_results=None)))


def test_enqueue_is_fifo_and_faults_come_first(small: FakeArxiv) -> None:
    small.enqueue(b"<first/>", headers={"X-Test": "1"})
    small.enqueue(b"second", status=500)
    small.fail_next(429, retry_after=3)
    limited = _get(small, id_list="2605.00001")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    first = _get(small, id_list="2605.00001")
    assert (first.content, first.headers["X-Test"]) == (b"<first/>", "1")
    assert first.headers["Content-Type"] == ATOM_CONTENT_TYPE
    second = _get(small, id_list="2605.00001")
    assert (second.status_code, second.content) == (500, b"second")
    assert _ids(_get(small, id_list="2605.00001").content) == ["2605.00001v1"]


def test_fail_next_is_retried_by_the_client(small: FakeArxiv) -> None:
    search = arxiv.Search("cat:cs.*", max_results=None)
    small.fail_next(503, times=2)
    assert len(list(_client(small, num_retries=2).results(search))) == 3
    assert len(small.requests) == 3
    small.fail_next(503, times=3, body=b"busy")
    with pytest.raises(arxiv.HTTPError) as err:
        list(_client(small, num_retries=2).results(search))
    assert err.value.status == 503


def test_empty_page_next_keeps_totals_and_drops_entries(small: FakeArxiv) -> None:
    small.empty_page_next()
    response = _get(small, search_query="cat:cs.*")
    assert response.status_code == 200
    assert (_ids(response.content), _total(response.content)) == ([], 3)
    # Mid-paging, the client sees arXiv's "unexpectedly empty page" and retries.
    results = _client(small, page_size=1, num_retries=1).results(
        arxiv.Search("cat:cs.*", max_results=None)
    )
    assert next(results).get_short_id() == "2605.00003v1"
    small.empty_page_next()
    assert len([next(results), *results]) == 2
    assert [r.params["start"] for r in small.requests[1:]] == ["0", "1", "1", "2"]
    strict = _client(small, page_size=1, num_retries=0).results(
        arxiv.Search("cat:cs.*", max_results=None)
    )
    next(strict)
    small.empty_page_next()
    with pytest.raises(arxiv.UnexpectedEmptyPageError):
        next(strict)


def test_stall_next_triggers_client_timeouts(small: FakeArxiv) -> None:
    small.stall_next(0.6)
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(small.url, params={"id_list": "2605.00001"}, timeout=0.15)
    assert _get(small, id_list="2605.00001").status_code == 200


def test_request_log(small: FakeArxiv) -> None:
    assert small.requests == []
    _get(small, search_query="ti:reward", start="0")
    small.fail_next(503)
    other = requests.get(small.url.replace("/api/query", "/other"), timeout=5)
    assert other.status_code == 404
    assert _get(small, id_list="2605.00001").status_code == 503  # the fault was kept for us
    log = small.requests
    assert [(r.path, r.params.get("search_query")) for r in log] == [
        ("/api/query", "ti:reward"),
        ("/other", None),
        ("/api/query", None),
    ]
    assert log[0].time <= log[1].time <= log[2].time
    small.clear_requests()
    assert small.requests == []


# --------------------------------------------------------------------------- misc


def test_fake_entry_validation_and_normalisation() -> None:
    entry = FakeEntry(
        id="2605.00009",
        title="x",
        categories=["cs.AI", "cs.CL"],
        primary_category="cs.CL",
        published=_at("2026-05-01T00:00:00"),
    )
    assert entry.categories == ("cs.CL", "cs.AI")
    assert entry.updated == entry.published
    with pytest.raises(ValueError):
        FakeEntry(id="2605.00009v2", title="x", published=_at("2026-05-01T00:00:00"))
    with pytest.raises(ValueError):
        FakeEntry(id="2605.00009", title="x", published=datetime(2026, 5, 1))


def test_not_started_has_no_url() -> None:
    with pytest.raises(RuntimeError):
        _ = FakeArxiv().url


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_until_signal(tmp_path: Path, signum: int) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(render_feed(SMALL))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.arxiv_server", "--feed", str(feed)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/query", url), url
        response = requests.get(url, params={"id_list": "2605.00002"}, timeout=5)
        assert _ids(response.content) == ["2605.00002v2"]
        proc.send_signal(signum)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
