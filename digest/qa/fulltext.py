"""Full text on demand: a paper's arXiv HTML (or its PDF), fetched, extracted, chunked, stored.

For a question about one paper the abstract is often not enough ("which datasets does it
use?"). `FullTextFetcher.passages` makes sure the paper's full text is in the store
(fetching it at most once; a failure is remembered for a day) and returns the chunks most
relevant to the question, each with the section it comes from.

The HTML is arXiv's LaTeXML rendering (https://arxiv.org/html/<id>): sections are
`<section>`s with `<h2>`..`<h6>` titles, paragraphs `<p>`, math `<math alttext=...>`, and
the bibliography is skipped. The PDF fallback (pypdf) has no structure, so its sections are
guessed from numbered heading lines ("3.2 Reward Model"), else named by page.

Limits: a timeout per request and a deadline per fetch, a byte cap (checked on the
Content-Length and while streaming), a cap on extracted characters and PDF pages, and one
fetch at a time (a lock), so a burst of questions cannot hammer arxiv.org.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from digest.offline.text import split_sentences
from digest.qa.errors import FullTextUnavailable
from digest.qa.text import content_words
from digest.settings import ARXIV_HTML_URL, ARXIV_PDF_URL
from storage import Corpus
from storage.fulltext import FullTextStore

# httpx, pypdf and lxml load when a full text is first fetched or parsed: `digestbot ask`
# answers from stored text or abstracts most of the time and should not pay for them.
if TYPE_CHECKING:
    import httpx
    from lxml import etree

log = logging.getLogger(__name__)

_USER_AGENT = "digestbot/0.1 (+https://github.com/digestbot/digestbot)"
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset({"p", "li", "figcaption", "blockquote", "dd", "dt", "pre", "caption"})
_DROP = (
    "//script|//style|//noscript|//nav|//header|//footer|//form|//button|//svg|//img"
    "|//*[contains(concat(' ', normalize-space(@class), ' '), ' ltx_bibliography ')]"
    "|//*[contains(concat(' ', normalize-space(@class), ' '), ' ltx_authors ')]"
    "|//*[contains(concat(' ', normalize-space(@class), ' '), ' ltx_page_footer ')]"
    "|//*[contains(concat(' ', normalize-space(@class), ' '), ' ltx_TOC ')]"
    "|//*[contains(concat(' ', normalize-space(@class), ' '), ' ltx_dates ')]"
)
_REFERENCES = re.compile(r"^(?:[\dA-Z]+\.?\s+)?(?:references|bibliography)$", re.IGNORECASE)
_PDF_HEADING = re.compile(
    r"^(?:(?P<number>\d{1,2}(?:\.\d{1,2}){0,2})\.?\s+(?P<title>[A-Z][^.!?]{1,70})"
    r"|(?P<named>Abstract|Introduction|Related Work|Background|Method|Methods|Methodology|"
    r"Experiments|Results|Discussion|Conclusions?|Limitations|Acknowledge?ments|References|"
    r"Appendix))\s*$"
)
_MIN_TEXT = 400  # fewer extracted characters than this is an error page, not a paper
AUTHORS_SECTION = "Authors"  # the stored chunk of the HTML's author block (affiliations)
_MAX_AUTHOR_CHARS = 2000


@dataclass(frozen=True, slots=True)
class FullTextSettings:
    """Where full texts come from and the limits on fetching them."""

    html_url: str = ARXIV_HTML_URL
    pdf_url: str = ARXIV_PDF_URL
    timeout_seconds: float = 20.0  # per request (connect, and between bytes)
    deadline_seconds: float = 60.0  # per paper, HTML and PDF together
    max_bytes: int = 25_000_000
    max_chars: int = 400_000  # extracted text kept per paper
    max_pdf_pages: int = 60
    chunk_chars: int = 1200
    retry_after: timedelta = timedelta(days=1)  # a failed paper is tried again after this


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk of a paper's full text that bears on a question."""

    paper_id: str
    section: str
    text: str


class _Missing(FullTextUnavailable):
    """The URL has nothing for this paper (HTTP 404/410): try the next source."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class FullTextFetcher:
    """Fetches, extracts, chunks and stores papers' full text; one fetch at a time."""

    def __init__(
        self,
        corpus: Corpus,
        settings: FullTextSettings | None = None,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or FullTextSettings()
        self.store = FullTextStore(corpus)
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._made = client  # None: made on the first fetch (see `_client`)
        self.requests_made = 0

    @property
    def _client(self) -> httpx.Client:
        if self._made is None:
            import httpx

            timeout = httpx.Timeout(
                self.settings.timeout_seconds, connect=min(10.0, self.settings.timeout_seconds)
            )
            self._made = httpx.Client(
                timeout=timeout, follow_redirects=True, headers={"user-agent": _USER_AGENT}
            )
        return self._made

    def close(self) -> None:
        if self._made is not None:
            self._made.close()

    def passages(self, paper_id: str, question: str, limit: int = 3) -> list[Passage]:
        """The chunks of the paper's full text most relevant to the question (fetching the
        text first if needed). Raises `FullTextUnavailable` when there is no full text."""
        self.ensure(paper_id)
        terms = " ".join(content_words(question))
        hits = self.store.search(terms, paper_ids=[paper_id], limit=limit)
        return [Passage(h.chunk.paper_id, h.chunk.section, h.chunk.text) for h in hits]

    def authors(self, paper_id: str) -> str:
        """The full text's author block (names with affiliations), fetching the full text
        first if needed; "" when it has none (a PDF, or no block). Raises
        `FullTextUnavailable` when there is no full text."""
        self.ensure(paper_id)
        for chunk in self.store.chunks(paper_id):
            if chunk.section == AUTHORS_SECTION:
                return chunk.text
        return ""

    def ensure(self, paper_id: str) -> None:
        """Make the store hold the paper's full text, fetching it unless it is stored or
        failed recently. Raises `FullTextUnavailable` saying why there is none."""
        if self._fresh(paper_id):
            return
        with self._lock:  # one fetch at a time; a waiting thread may find it done
            if self._fresh(paper_id):
                return
            self._fetch_and_store(paper_id)

    def _fresh(self, paper_id: str) -> bool:
        record = self.store.record(paper_id)
        if record is None:
            return False
        if record.available:
            return True
        if self._clock() - record.fetched_at < self.settings.retry_after:
            raise FullTextUnavailable(record.detail)
        return False

    def _fetch_and_store(self, paper_id: str) -> None:
        deadline = self._monotonic() + self.settings.deadline_seconds
        html_url = self.settings.html_url.rstrip("/") + "/" + paper_id
        pdf_url = self.settings.pdf_url.rstrip("/") + "/" + paper_id
        reasons: list[str] = []
        for source, url, extract in (
            ("html", html_url, extract_html),
            ("pdf", pdf_url, self._extract_pdf),
        ):
            try:
                body = self._download(url, deadline)
                sections = extract(body)
                if sum(len(text) for _, text in sections) < _MIN_TEXT:
                    raise FullTextUnavailable(f"the {source.upper()} version holds no text")
            except FullTextUnavailable as err:
                reasons.append(str(err))
                if self._monotonic() >= deadline:
                    break
                continue
            chunks = chunk_sections(sections, self.settings.chunk_chars, self.settings.max_chars)
            if source == "html":
                # The author block (names with affiliations) is kept apart from the passages:
                # it answers "who wrote it?" and nothing else.
                authors = extract_html_authors(body)
                if authors:
                    chunks.insert(0, (AUTHORS_SECTION, authors[:_MAX_AUTHOR_CHARS]))
            self.store.save(
                paper_id, source=source, url=url, sections=chunks, fetched_at=self._clock()
            )
            log.info("full text of %s: %s, %d chunks", paper_id, source, len(chunks))
            return
        detail = f"no full text of {paper_id} could be fetched ({'; '.join(reasons)})"
        self.store.mark_unavailable(paper_id, url=html_url, detail=detail, fetched_at=self._clock())
        raise FullTextUnavailable(detail)

    def _download(self, url: str, deadline: float) -> bytes:
        """The body at `url`, within the byte cap and the deadline."""
        import httpx

        limit = self.settings.max_bytes
        self.requests_made += 1
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code in (404, 410):
                    raise _Missing(f"{url} has no such paper (HTTP {response.status_code})")
                if response.status_code != 200:
                    raise FullTextUnavailable(f"{url} answered HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FullTextUnavailable(f"{url} is larger than {limit // 1_000_000} MB")
                body = bytearray()
                for piece in response.iter_bytes():
                    body += piece
                    if len(body) > limit:
                        raise FullTextUnavailable(f"{url} is larger than {limit // 1_000_000} MB")
                    if self._monotonic() > deadline:
                        raise FullTextUnavailable(f"{url} took too long to download")
                return bytes(body)
        except httpx.TimeoutException:
            raise FullTextUnavailable(f"{url} did not answer in time") from None
        except httpx.HTTPError as err:
            raise FullTextUnavailable(
                f"{url} could not be fetched ({type(err).__name__})"
            ) from None

    def _extract_pdf(self, body: bytes) -> list[tuple[str, str]]:
        return extract_pdf(body, max_pages=self.settings.max_pdf_pages)


# -- extraction ---------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return " ".join(text.split())


def extract_html(body: bytes) -> list[tuple[str, str]]:
    """(section, paragraph) pairs of an HTML paper, in order; the bibliography, navigation,
    scripts and author blocks left out, math written as its LaTeX source."""
    from lxml import etree
    from lxml import html as lxml_html

    if not body.strip():
        raise FullTextUnavailable("the HTML version is empty")
    try:
        document = lxml_html.document_fromstring(body)
    except (etree.ParserError, ValueError) as err:
        raise FullTextUnavailable(f"the HTML version cannot be read ({err})") from None
    for element in document.xpath(_DROP):
        element.drop_tree()
    for math in document.xpath("//math"):
        # MathML's text is a token soup; the LaTeX source reads better.
        stand_in = lxml_html.Element("span")
        stand_in.text = f" {math.get('alttext', '')} "
        stand_in.tail = math.tail
        parent = math.getparent()
        if parent is not None:
            parent.replace(math, stand_in)
    root = document.find(".//article")
    if root is None:
        root = document.find(".//body")
    if root is None:
        root = document
    out: list[tuple[str, str]] = []
    _walk(root, ["Front matter"], out, [False])
    return out


def extract_html_authors(body: bytes) -> str:
    """The author block of arXiv's LaTeXML HTML as text: each author with their affiliation,
    "; " between authors; e-mail addresses and footnote marks left out."""
    from lxml import etree
    from lxml import html as lxml_html

    try:
        document = lxml_html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return ""
    blocks = document.xpath(
        "//*[contains(concat(' ', normalize-space(@class), ' '), ' ltx_authors ')]"
    )
    if not blocks:
        return ""
    for element in blocks[0].xpath(
        ".//*[contains(@class, 'ltx_role_email') or contains(@class, 'ltx_note')"
        " or contains(@class, 'ltx_role_homepage')]|.//a|.//sup"
    ):
        element.drop_tree()
    creators = blocks[0].xpath(
        ".//*[contains(concat(' ', normalize-space(@class), ' '), ' ltx_creator ')]"
    )
    parts = [_clean(" ".join(c.itertext())) for c in creators] or [
        _clean(" ".join(blocks[0].itertext()))
    ]
    return "; ".join(p for p in parts if p)


def _walk(
    element: etree._Element, section: list[str], out: list[tuple[str, str]], skipping: list[bool]
) -> None:
    for child in element:
        tag = child.tag.lower() if isinstance(child.tag, str) else ""
        if not tag:
            continue
        if tag in _HEADINGS:
            title = _clean(child.text_content())
            if title:
                section[0] = title
                skipping[0] = bool(_REFERENCES.match(title))
        elif tag in _BLOCKS:
            text = _clean(child.text_content())
            if text and not skipping[0]:
                out.append((section[0], text))
        else:
            _walk(child, section, out, skipping)


def extract_pdf(body: bytes, *, max_pages: int = 60) -> list[tuple[str, str]]:
    """(section, text) pairs of a PDF, in order: sections from heading lines where they can
    be told, else "page N"; the references and everything after them left out."""
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(body))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FullTextUnavailable("the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages[:max_pages]]
    except FullTextUnavailable:
        raise
    except Exception as err:  # pypdf raises many exception types on malformed files
        raise FullTextUnavailable(f"the PDF cannot be read ({type(err).__name__})") from None
    out: list[tuple[str, str]] = []
    section = ""
    for number, text in enumerate(pages, start=1):
        paragraph: list[str] = []
        for raw in text.splitlines():
            line = raw.strip()
            heading = _PDF_HEADING.match(line) if len(line) <= 80 else None
            if heading:
                if paragraph:
                    out.append((section or f"page {number}", _join_lines(paragraph)))
                    paragraph = []
                section = _clean(line)
                if _REFERENCES.match(section):
                    return out
            elif line:
                paragraph.append(line)
        if paragraph:
            out.append((section or f"page {number}", _join_lines(paragraph)))
    return out


def _join_lines(lines: Sequence[str]) -> str:
    """PDF lines back into running text: "exam-" + "ple" -> "example"."""
    text = ""
    for line in lines:
        if text.endswith("-") and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return _clean(text)


def chunk_sections(
    sections: Sequence[tuple[str, str]], size: int, max_chars: int
) -> list[tuple[str, str]]:
    """Paragraphs joined into chunks of about `size` characters that never cross a section
    boundary; a longer paragraph is cut at sentence ends. At most `max_chars` in all."""
    out: list[tuple[str, str]] = []
    total = 0
    current_section, current = "", ""
    for section, text in sections:
        if total >= max_chars:
            break
        for piece in _pieces(text, size):
            if current and (section != current_section or len(current) + len(piece) > size):
                out.append((current_section, current))
                total += len(current)
                current = ""
            current_section = section
            current = f"{current} {piece}".strip()
    if current and total < max_chars:
        out.append((current_section, current))
    return out


def _pieces(text: str, size: int) -> Iterator[str]:
    if len(text) <= size:
        yield text
        return
    piece = ""
    for sentence in split_sentences(text):
        if piece and len(piece) + len(sentence) > size:
            yield piece
            piece = ""
        piece = f"{piece} {sentence}".strip()
        while len(piece) > size * 2:  # a "sentence" with no end (a table, a formula)
            yield piece[:size]
            piece = piece[size:]
    if piece:
        yield piece
