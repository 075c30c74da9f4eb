"""Full text on demand: extraction from a locally served HTML page and PDF, chunking by
section, the chunk store (migration 0006, FTS), limits, caching and one fetch at a time."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from digest.qa.errors import FullTextUnavailable
from digest.qa.fulltext import (
    FullTextFetcher,
    FullTextSettings,
    chunk_sections,
    extract_html,
    extract_pdf,
)
from storage import Corpus
from storage.fulltext import FullTextStore
from storage.migrations import MIGRATIONS
from tests.conftest import FIXTURES

QA = FIXTURES / "qa"
HTML = (QA / "paper.html").read_bytes()
PDF = (QA / "paper.pdf").read_bytes()
PAPER = "2606.09001"
NOW = datetime(2026, 6, 8, 9, 0, tzinfo=UTC)


@dataclass
class Route:
    """What the loopback server answers on one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0  # before the headers
    send_length: bool = True


@dataclass
class StaticServer:
    """A loopback HTTP server with scripted routes, recording what it was asked and how
    many requests it served at once."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> StaticServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with outer._lock:
                    outer.requests.append(self.path)
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    route = outer.routes.get(self.path, Route(b"not found", 404))
                    time.sleep(route.delay)
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    if route.send_length:
                        self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, once per test.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def settings(self, **overrides: object) -> FullTextSettings:
        values: dict = {
            "html_url": f"{self.url}/html/",
            "pdf_url": f"{self.url}/pdf/",
            "timeout_seconds": 2.0,
            "deadline_seconds": 5.0,
        }
        values.update(overrides)
        return FullTextSettings(**values)

    def serve_paper(self, paper_id: str = PAPER, *, html: bool = True, pdf: bool = True) -> None:
        if html:
            self.routes[f"/html/{paper_id}"] = Route(HTML)
        if pdf:
            self.routes[f"/pdf/{paper_id}"] = Route(PDF, content_type="application/pdf")


@pytest.fixture
def server() -> Iterator[StaticServer]:
    with StaticServer() as served:
        yield served


class Clock:
    """A settable clock for the fetcher's failure memory."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def fetcher(corpus: Corpus, server: StaticServer, **overrides: object) -> FullTextFetcher:
    clock = overrides.pop("clock", Clock())
    return FullTextFetcher(corpus, server.settings(**overrides), clock=clock)  # type: ignore[arg-type]


class TestHtmlExtraction:
    def test_sections_are_named_by_their_headings(self) -> None:
        sections = [s for s, _ in extract_html(HTML)]
        assert sections[0] == "Abstract"
        assert "1 Introduction" in sections and "2.1 Calibrated step rewards" in sections
        assert "3 Experiments" in sections and "4 Limitations" in sections

    def test_bibliography_scripts_navigation_authors_and_equations_are_left_out(self) -> None:
        text = " ".join(t for _, t in extract_html(HTML))
        assert "MUST-NOT-APPEAR" not in text
        assert "OrchardMath benchmark of 1,200 word problems" in text

    def test_math_is_written_as_its_latex_source(self) -> None:
        text = " ".join(t for _, t in extract_html(HTML))
        assert r"r_{t}=\sigma(z_{t}/\tau)" in text and "MATHML-TOKENS" not in text

    def test_a_page_without_sections_still_gives_its_paragraphs(self) -> None:
        body = b"<html><body><p>First paragraph of plain text.</p><p>Second one.</p></body></html>"
        assert extract_html(body) == [
            ("Front matter", "First paragraph of plain text."),
            ("Front matter", "Second one."),
        ]

    def test_an_empty_body_is_unavailable(self) -> None:
        with pytest.raises(FullTextUnavailable):
            extract_html(b"   ")


class TestPdfExtraction:
    def test_sections_come_from_numbered_heading_lines(self) -> None:
        sections = extract_pdf(PDF)
        names = [s for s, _ in sections]
        assert names[:2] == ["page 1", "Abstract"]
        assert {"1 Introduction", "2 Method", "3 Experiments", "4 Limitations"} <= set(names)
        experiments = dict(sections)["3 Experiments"]
        assert "OrchardMath benchmark of 1,200 word problems" in experiments

    def test_references_and_what_follows_are_left_out(self) -> None:
        text = " ".join(t for _, t in extract_pdf(PDF))
        assert "Zither" not in text and "References" not in text

    def test_a_broken_pdf_is_unavailable_not_a_crash(self) -> None:
        with pytest.raises(FullTextUnavailable, match="PDF cannot be read"):
            extract_pdf(b"%PDF-1.4\nthis is not really a pdf")

    def test_the_fixture_is_what_its_generator_writes(self) -> None:
        import importlib.util

        spec = importlib.util.spec_from_file_location("make_pdf", QA / "make_pdf.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.build() == PDF


class TestChunking:
    SECTIONS: ClassVar = [("A", "One. " * 50), ("A", "Two. " * 10), ("B", "Three.")]

    def test_chunks_never_cross_a_section_and_stay_near_the_size(self) -> None:
        chunks = chunk_sections(self.SECTIONS, 100, 10_000)
        assert [s for s, _ in chunks][-1] == "B"
        assert all(len(text) <= 110 for _, text in chunks)
        assert "".join(t for s, t in chunks if s == "A").count("One.") == 50

    def test_total_text_is_capped(self) -> None:
        chunks = chunk_sections(self.SECTIONS, 100, 150)
        assert sum(len(t) for _, t in chunks) <= 250
        assert all(s == "A" for s, _ in chunks)

    def test_a_sentence_without_end_is_cut(self) -> None:
        chunks = chunk_sections([("T", "x" * 1000)], 100, 10_000)
        assert all(len(t) <= 200 for _, t in chunks) and sum(len(t) for _, t in chunks) == 1000


class TestStore:
    def test_the_migration_is_recorded_in_order(self, corpus: Corpus) -> None:
        assert MIGRATIONS[5][0] == "0006_fulltext_chunks"
        conn = sqlite3.connect(corpus.path)
        names = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
        assert "0006_fulltext_chunks" in names

    def test_the_migration_can_run_again(self, corpus: Corpus) -> None:
        with corpus.writing() as db:
            dict(MIGRATIONS)["0006_fulltext_chunks"](db)

    def test_saved_chunks_are_searchable_and_replaced_on_save(self, corpus: Corpus) -> None:
        store = FullTextStore(corpus)
        store.save(
            PAPER,
            source="html",
            url="u",
            sections=[("1 Intro", "alpha beta"), ("2 Method", "gamma rewards")],
            fetched_at=NOW,
        )
        hits = store.search("reward", paper_ids=[PAPER])
        assert [h.chunk.section for h in hits] == ["2 Method"]
        store.save(PAPER, source="pdf", url="u", sections=[("page 1", "delta")], fetched_at=NOW)
        assert [c.text for c in store.chunks(PAPER)] == ["delta"]
        assert store.search("gamma") == []
        record = store.record(PAPER)
        assert record is not None and record.available and record.source == "pdf"

    def test_search_is_safe_against_fts_syntax_and_scoped_to_papers(self, corpus: Corpus) -> None:
        store = FullTextStore(corpus)
        store.save(PAPER, source="html", url="u", sections=[("S", "c plus")], fetched_at=NOW)
        store.save("2606.09002", source="html", url="u", sections=[("S", "c")], fetched_at=NOW)
        for text in ("c++ AND (", "NEAR(", '"unbalanced', "*", ""):
            store.search(text)
        assert [h.chunk.paper_id for h in store.search("c", paper_ids=["2606.09002"])] == [
            "2606.09002"
        ]
        assert store.search("c", paper_ids=[]) == []

    def test_an_unavailable_record_keeps_why(self, corpus: Corpus) -> None:
        store = FullTextStore(corpus)
        store.mark_unavailable(PAPER, url="u", detail="no HTML", fetched_at=NOW)
        record = store.record(PAPER)
        assert record is not None and not record.available and record.detail == "no HTML"
        assert store.chunks(PAPER) == []


class TestFetcher:
    def test_html_is_fetched_extracted_and_stored_in_sections(
        self, corpus: Corpus, server: StaticServer
    ) -> None:
        server.serve_paper()
        passages = fetcher(corpus, server).passages(PAPER, "which benchmark is used?")
        assert passages[0].section == "3 Experiments"
        assert "OrchardMath" in passages[0].text
        record = FullTextStore(corpus).record(PAPER)
        assert record is not None and record.source == "html"
        assert server.requests == [f"/html/{PAPER}"]

    def test_a_paper_without_html_falls_back_to_its_pdf(
        self, corpus: Corpus, server: StaticServer
    ) -> None:
        server.serve_paper(html=False)
        passages = fetcher(corpus, server).passages(PAPER, "calibration verifier")
        assert passages and passages[0].paper_id == PAPER
        record = FullTextStore(corpus).record(PAPER)
        assert record is not None and record.source == "pdf"
        assert server.requests == [f"/html/{PAPER}", f"/pdf/{PAPER}"]

    def test_an_html_error_page_with_no_text_falls_back_to_the_pdf(
        self, corpus: Corpus, server: StaticServer
    ) -> None:
        server.serve_paper()
        server.routes[f"/html/{PAPER}"] = Route(
            b"<html><body><p>Conversion failed.</p></body></html>"
        )
        fetcher(corpus, server).ensure(PAPER)
        record = FullTextStore(corpus).record(PAPER)
        assert record is not None and record.source == "pdf"

    def test_a_stored_text_is_not_fetched_again(self, corpus: Corpus, server: StaticServer) -> None:
        server.serve_paper()
        fetch = fetcher(corpus, server)
        fetch.passages(PAPER, "benchmark")
        fetch.passages(PAPER, "limitations")
        fetcher(corpus, server).passages(PAPER, "method")  # a new process, same database
        assert len(server.requests) == 1

    def test_a_failure_is_remembered_then_retried_a_day_later(
        self, corpus: Corpus, server: StaticServer
    ) -> None:
        clock = Clock()
        fetch = fetcher(corpus, server, clock=clock)
        with pytest.raises(FullTextUnavailable, match=r"no full text of 2606\.09001"):
            fetch.ensure(PAPER)
        with pytest.raises(FullTextUnavailable):
            fetch.ensure(PAPER)
        assert len(server.requests) == 2  # HTML and PDF, once
        server.serve_paper()
        clock.now += timedelta(days=1, seconds=1)
        fetch.ensure(PAPER)
        assert len(server.requests) == 3

    def test_a_body_over_the_size_limit_is_refused(
        self, corpus: Corpus, server: StaticServer
    ) -> None:
        server.serve_paper()
        server.routes[f"/pdf/{PAPER}"] = Route(
            PDF, content_type="application/pdf", send_length=False
        )
        with pytest.raises(FullTextUnavailable, match="larger than"):
            fetcher(corpus, server, max_bytes=1000).ensure(PAPER)

    def test_a_slow_server_times_out(self, corpus: Corpus, server: StaticServer) -> None:
        server.routes[f"/html/{PAPER}"] = Route(HTML, delay=1.5)
        server.routes[f"/pdf/{PAPER}"] = Route(PDF, delay=1.5)
        started = time.monotonic()
        with pytest.raises(FullTextUnavailable, match="did not answer in time"):
            fetcher(corpus, server, timeout_seconds=0.3).ensure(PAPER)
        assert time.monotonic() - started < 1.4

    def test_one_fetch_at_a_time(self, corpus: Corpus, server: StaticServer) -> None:
        for paper in (PAPER, "2606.09002", "2606.09003"):
            server.serve_paper(paper)
            server.routes[f"/html/{paper}"].delay = 0.2
        fetch = fetcher(corpus, server)
        threads = [
            threading.Thread(target=fetch.ensure, args=(paper,))
            for paper in (PAPER, PAPER, "2606.09002", "2606.09003")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert server.max_in_flight == 1
        assert sorted(server.requests) == sorted(
            f"/html/{p}" for p in (PAPER, "2606.09002", "2606.09003")
        )

    def test_an_unreachable_host_is_unavailable(self, corpus: Corpus, tmp_path: Path) -> None:
        settings = FullTextSettings(
            html_url="http://127.0.0.1:9/html/", pdf_url="http://127.0.0.1:9/pdf/"
        )
        with pytest.raises(FullTextUnavailable, match="could not be fetched"):
            FullTextFetcher(corpus, settings, clock=Clock()).ensure(PAPER)
