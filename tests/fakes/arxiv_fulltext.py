"""A loopback fake of arXiv's full-text pages: `/html/<id>` in the shape of arXiv's LaTeXML
HTML, `/pdf/<id>` as a small text PDF, both generated here from a `PaperText` (text the tests
write themselves: no paper is copied).

    with FakeFullText() as fake:
        fake.add(PaperText("2606.04889", "GRAIL: ...", [("4 Experiments", "We evaluate ...")]))
        fetcher = FullTextFetcher(corpus, fake.settings())

`html=False` serves only the PDF (the HTML answers 404, as for papers arXiv has no HTML of),
so the PDF fallback is exercised through the same configurable base URLs. `requests` records
the paths asked for.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from digest.qa.fulltext import FullTextSettings
from tests.support.pdf import text_pages_pdf


@dataclass(frozen=True)
class PaperText:
    """A paper's full text as the fake serves it: title, authors with affiliations, and
    (section heading, paragraph) pairs in order."""

    paper_id: str
    title: str
    sections: list[tuple[str, str]]
    authors: list[str] = field(default_factory=list)
    html: bool = True
    pdf: bool = True


def latexml_html(paper: PaperText) -> bytes:
    """The paper as arXiv's LaTeXML HTML: an <article>, an author block, <section>s with
    numbered <h2> titles and <p class="ltx_p"> paragraphs, and a bibliography."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(paper.title)}</title></head><body>",
        "<nav class='ltx_page_navbar'>Contents</nav><div class='ltx_page_main'>",
        "<article class='ltx_document'>",
        f"<h1 class='ltx_title ltx_title_document'>{html.escape(paper.title)}</h1>",
        "<div class='ltx_authors'>",
        *(_creator(a) for a in paper.authors),
        "</div>",
    ]
    for number, (heading, text) in enumerate(paper.sections, start=1):
        parts += [
            f"<section class='ltx_section' id='S{number}'>",
            f"<h2 class='ltx_title ltx_title_section'>{html.escape(heading)}</h2>",
            f"<div class='ltx_para'><p class='ltx_p'>{html.escape(text)}</p></div>",
            "</section>",
        ]
    parts += [
        "<section class='ltx_bibliography'><h2 class='ltx_title'>References</h2>",
        "<ul><li class='ltx_bibitem'>A reference that is never quoted.</li></ul></section>",
        "</article></div></body></html>",
    ]
    return "\n".join(parts).encode()


def _creator(author: str) -> str:
    """One LaTeXML author: "Name | Affiliation" gives the affiliation its own element, and
    an e-mail element that must never be shown."""
    name, _, affiliation = (part.strip() for part in author.partition("|"))
    out = f"<span class='ltx_personname'>{html.escape(name)}</span>"
    if affiliation:
        out += f"<span class='ltx_contact ltx_role_affiliation'>{html.escape(affiliation)}</span>"
        out += "<span class='ltx_contact ltx_role_email'>someone@example.org</span>"
    return f"<span class='ltx_creator ltx_role_author'>{out}</span>"


def _wrapped(text: str, width: int = 80) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines


def text_pdf(paper: PaperText) -> bytes:
    """The paper as a one-page-per-section PDF in Helvetica, one text line per `'` operator,
    headings on lines of their own (so the extractor can tell sections)."""
    pages = [[paper.title, ", ".join(a.split("|")[0].strip() for a in paper.authors)]]
    for heading, text in paper.sections:
        pages.append([heading, *_wrapped(text)])
    return text_pages_pdf(pages)


class FakeFullText:
    """The loopback server (see the module docstring). Thread-safe."""

    def __init__(self) -> None:
        self._papers: dict[str, PaperText] = {}
        self._lock = threading.Lock()
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    def add(self, *papers: PaperText) -> None:
        with self._lock:
            for paper in papers:
                self._papers[paper.paper_id] = paper

    def _body(self, path: str) -> tuple[int, str, bytes]:
        kind, _, paper_id = path.strip("/").partition("/")
        with self._lock:
            self.requests.append(path)
            paper = self._papers.get(paper_id)
        if paper is not None and kind == "html" and paper.html:
            return 200, "text/html; charset=utf-8", latexml_html(paper)
        if paper is not None and kind == "pdf" and paper.pdf:
            return 200, "application/pdf", text_pdf(paper)
        return 404, "text/plain", b"not found"

    def __enter__(self) -> FakeFullText:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                status, content_type, body = outer._body(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
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

    def settings(self) -> FullTextSettings:
        return FullTextSettings(
            html_url=f"{self.url}/html/",
            pdf_url=f"{self.url}/pdf/",
            timeout_seconds=5.0,
            deadline_seconds=10.0,
        )
