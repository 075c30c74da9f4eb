"""Loopback stand-in for the arXiv export API (``/api/query``), for tests and demos.

It serves a corpus of ``FakeEntry`` papers in the current (Nov 2025 onward) arXiv Atom
format, evaluates ``search_query``/``id_list`` the way the real API does closely enough that
the real ``arxiv`` package (and our ``arxiv.Client`` subclass) can page through it, and can
replay real recordings verbatim or inject faults (429/5xx, empty pages, stalls).

Typical use::

    with FakeArxiv() as fake:
        fake.load_listings(shared_arxiv_dir() / "listings")
        client = arxiv.Client(delay_seconds=0)
        client.query_url_format = fake.query_url_format

Run ``python -m tests.fakes.arxiv_server --listings DIR`` for a standalone server.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import json
import re
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from time import monotonic
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from tests.fakes.loopback import Loopback, LoopbackServer
from tests.support.paths import SHARED_ARXIV

ATOM_NS = "http://www.w3.org/2005/Atom"
ARXIV_NS = "http://arxiv.org/schemas/atom"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"
# Same declaration order as the real responses, so rendered bytes diff cleanly against them.
_NSMAP = {"opensearch": OPENSEARCH_NS, "arxiv": ARXIV_NS, None: ATOM_NS}
_NS = {"atom": ATOM_NS, "arxiv": ARXIV_NS, "opensearch": OPENSEARCH_NS}
ATOM_CONTENT_TYPE = "application/atom+xml; charset=UTF-8"
# The real API serves at most 2000 entries a page; larger max_results are capped, not refused.
MAX_PAGE_SIZE = 2000
QUERY_PATH = "/api/query"

_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7}"
_ID_RE = re.compile(rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v(?P<version>[1-9]\d*))?")
_NEW_ID_RE = re.compile(_NEW_ID)
# Tokens are runs of letters/digits: "post-training" and "post training" tokenize alike.
_NON_WORD_RE = re.compile(r"[\W_]+")


def shared_arxiv_dir() -> Path | None:
    """Locate the shared real-arXiv data (``../shared/data/arxiv`` from the repo root, or
    $DIGESTBOT_TEST_DATA), or None."""
    return SHARED_ARXIV if SHARED_ARXIV.is_dir() else None


def _utc(value: datetime, name: str) -> datetime:
    """Check that a datetime is aware (naive ones are ambiguous) and convert it to UTC."""
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


def _stamp(value: datetime) -> str:
    """Format a UTC datetime the way Atom feeds from arXiv do."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, kw_only=True)
class FakeEntry:
    """One paper of the fake's corpus: exactly the metadata an API entry renders.

    ``id`` carries no version (``2605.12345`` or ``hep-th/9901001``); ``authors`` and
    ``categories`` are stored as tuples (lists are accepted); ``primary_category`` defaults to
    the first category and is always moved to the front of ``categories``; ``updated``
    defaults to ``published``. Datetimes must be aware and are normalised to UTC.
    """

    id: str
    title: str
    published: datetime
    version: int = 1
    summary: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    primary_category: str = ""
    updated: datetime | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None

    def __post_init__(self) -> None:
        match = _ID_RE.fullmatch(self.id)
        if match is None or match["version"] is not None:
            raise ValueError(f"FakeEntry.id must be an unversioned arXiv id, got {self.id!r}")
        if self.version < 1:
            raise ValueError(f"version must be >= 1, got {self.version}")
        categories = [c for c in self.categories if c]
        primary = self.primary_category or (categories[0] if categories else "")
        if primary:
            categories = [primary, *(c for c in categories if c != primary)]
        published = _utc(self.published, "published")
        updated = published if self.updated is None else _utc(self.updated, "updated")
        # Frozen dataclass: normalise through object.__setattr__, once, at construction.
        object.__setattr__(self, "authors", tuple(self.authors))
        object.__setattr__(self, "categories", tuple(categories))
        object.__setattr__(self, "primary_category", primary)
        object.__setattr__(self, "published", published)
        object.__setattr__(self, "updated", updated)

    @property
    def versioned_id(self) -> str:
        """The id as the API prints it, e.g. ``2605.12345v2``."""
        return f"{self.id}v{self.version}"


class RecordedRequest(NamedTuple):
    """One request the fake received: when (``time.monotonic()``), which path, which params."""

    time: float
    path: str
    params: dict[str, str]


class QueryError(ValueError):
    """A ``search_query`` or parameter the fake (like the real API) refuses with HTTP 400."""


# --------------------------------------------------------------------------- text matching


# Letters/digits kept (lower-cased), everything else a separator: the fast path for ASCII text.
_ASCII_FOLD = str.maketrans({i: chr(i).lower() if chr(i).isalnum() else " " for i in range(128)})


def _normalize(text: str) -> str:
    """Lower-cased, plural-folded tokens of ``text`` joined by single spaces."""
    if text.isascii():  # str.translate is ~3x faster than the regex on big corpora
        spaced = text.translate(_ASCII_FOLD)
    else:
        spaced = _NON_WORD_RE.sub(" ", text.casefold())
    # Dropping one trailing "s" from every token, on both sides of a comparison, is exactly
    # "a token matches with or without a plural s".
    return " ".join([w[:-1] if len(w) > 1 and w[-1] == "s" else w for w in spaced.split()])


def _haystack(segments: Iterable[str | None]) -> str:
    # " a b | c d ": a phrase is a substring bounded by spaces, and "|" (never part of a
    # token) stops phrases from running across two authors or two fields.
    return " " + " | ".join(_normalize(s or "") for s in segments) + " "


class _Indexed:
    """An entry plus its tokenised search fields, each built on first use and then cached."""

    def __init__(self, entry: FakeEntry) -> None:
        self.entry = entry
        self.categories = tuple(c.casefold() for c in entry.categories)
        self._fields: dict[str, str] = {}

    def field(self, name: str) -> str:
        """The haystack of one search field (``ti``, ``abs``, ``au``, ``co``, ``jr``, ``all``)."""
        text = self._fields.get(name)
        if text is None:  # a race here only computes the same string twice
            e = self.entry
            if name == "all":
                text = _haystack([e.title, e.summary, *e.authors, e.comment, e.journal_ref])
            else:
                text = _haystack(
                    {
                        "ti": [e.title],
                        "abs": [e.summary],
                        "au": e.authors,
                        "co": [e.comment],
                        "jr": [e.journal_ref],
                    }[name]
                )
            self._fields[name] = text
        return text


@dataclass(frozen=True)
class _Text:
    """Query leaf: a word or phrase in one text field (``ti``, ``abs``, ``au``, ``all``...)."""

    field: str
    needle: str  # " tok tok " or "" for a term with no tokens, which matches nothing

    def matches(self, doc: _Indexed) -> bool:
        return bool(self.needle) and self.needle in doc.field(self.field)


@dataclass(frozen=True)
class _Category:
    """Query leaf ``cat:``: matches any of the entry's categories, not only the primary."""

    value: str

    def matches(self, doc: _Indexed) -> bool:
        """True when one of the entry's categories is (or, with ``*``, starts with) it."""
        if self.value.endswith("*"):  # cat:cs.* style archive wildcard
            return any(c.startswith(self.value[:-1]) for c in doc.categories)
        return self.value in doc.categories


@dataclass(frozen=True)
class _Id:
    """Query leaf ``id:``: matches one paper whatever its version."""

    value: str

    def matches(self, doc: _Indexed) -> bool:
        return doc.entry.id == self.value


@dataclass(frozen=True)
class _Range:
    """Query leaf ``submittedDate:[A TO B]`` / ``lastUpdatedDate:[...]``."""

    attr: str  # "published" or "updated"
    low: datetime
    high: datetime

    def matches(self, doc: _Indexed) -> bool:
        # The API's bounds have minute precision and are inclusive at both ends.
        when = getattr(doc.entry, self.attr).replace(second=0, microsecond=0)
        return self.low <= when <= self.high


@dataclass(frozen=True)
class _BinOp:
    """Query node combining two sub-queries with AND, OR or ANDNOT."""

    op: str
    left: _Node
    right: _Node

    def matches(self, doc: _Indexed) -> bool:
        if self.op == "AND":
            return self.left.matches(doc) and self.right.matches(doc)
        if self.op == "OR":
            return self.left.matches(doc) or self.right.matches(doc)
        return self.left.matches(doc) and not self.right.matches(doc)  # ANDNOT


_Node = _Text | _Category | _Id | _Range | _BinOp

_TEXT_FIELDS = {"ti", "abs", "au", "co", "jr", "all"}
_DATE_FIELDS = {"submittedDate": "published", "lastUpdatedDate": "updated"}
_OPERATORS = {"AND", "OR", "ANDNOT"}
_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<paren>[()])
      | (?P<rfield>[A-Za-z]+):\[\s*(?P<low>\S+)\s+TO\s+(?P<high>[^\]\s]+)\s*\]
      | (?:(?P<field>[A-Za-z]+):)?(?:"(?P<phrase>[^"]*)"|(?P<word>[^\s()"]+))
    )""",
    re.VERBOSE,
)


def _parse_minute(text: str) -> datetime:
    """Read a range bound (YYYYMMDDHHMM, GMT)."""
    try:
        return datetime.strptime(text, "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        raise QueryError(f"bad date {text!r}: expected YYYYMMDDHHMM") from None


def _make_term(field: str | None, value: str) -> _Node:
    """Build the leaf for ``field:value`` (no field means ``all``)."""
    field = field or "all"
    if field in _TEXT_FIELDS:
        tokens = _normalize(value)
        return _Text(field, f" {tokens} " if tokens else "")
    if field == "cat":
        return _Category(value.casefold())
    if field == "id":
        match = _ID_RE.fullmatch(value)
        if match is None:
            raise QueryError(f"incorrect id format for {value}")
        return _Id(match["id"])
    raise QueryError(f"unsupported search field {field!r}")


def _lex(query: str) -> list[str | _Node]:
    """Split a query into parentheses, operator names and ready-made leaves."""
    items: list[str | _Node] = []
    pos = 0
    while query[pos:].strip():
        match = _TOKEN_RE.match(query, pos)
        if match is None:
            raise QueryError(f"cannot parse search_query at {query[pos : pos + 30]!r}")
        pos = match.end()
        if match["paren"]:
            items.append(match["paren"])
        elif match["rfield"]:
            attr = _DATE_FIELDS.get(match["rfield"])
            if attr is None:
                raise QueryError(f"field {match['rfield']!r} takes no [range]")
            items.append(_Range(attr, _parse_minute(match["low"]), _parse_minute(match["high"])))
        elif match["field"] is None and match["word"] in _OPERATORS:
            items.append(match["word"])
        elif match["field"] in _DATE_FIELDS:
            raise QueryError(f"{match['field']} needs a [YYYYMMDDHHMM TO YYYYMMDDHHMM] range")
        else:
            value = match["phrase"] if match["phrase"] is not None else match["word"]
            items.append(_make_term(match["field"], value))
    return items


def parse_query(query: str) -> _Node | None:
    """Parse a ``search_query`` into a matcher (None for an empty query); QueryError if bad.

    Operators AND, OR and ANDNOT share one precedence and associate to the left, as in the
    arXiv manual; parentheses group; two terms side by side are joined with AND.
    """
    items = _lex(query)
    if not items:
        return None

    def unit(i: int) -> tuple[_Node, int]:
        if i >= len(items):
            raise QueryError("search_query ends where a term was expected")
        item = items[i]
        if item == "(":
            node, i = expression(i + 1)
            if i >= len(items) or items[i] != ")":
                raise QueryError("unbalanced parenthesis in search_query")
            return node, i + 1
        if isinstance(item, str):
            raise QueryError(f"unexpected {item!r} in search_query")
        return item, i + 1

    def expression(i: int) -> tuple[_Node, int]:
        node, i = unit(i)
        while i < len(items) and items[i] != ")":
            op = "AND"
            if isinstance(items[i], str) and items[i] in _OPERATORS:
                op = str(items[i])
                i += 1
            right, i = unit(i)
            node = _BinOp(op, node, right)
        return node, i

    node, end = expression(0)
    if end != len(items):
        raise QueryError("unbalanced parenthesis in search_query")
    return node


# --------------------------------------------------------------------------- rendering


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> None:
    """Append a child element (attributes keep the order given, as arXiv prints them)."""
    element = etree.SubElement(parent, tag, attrib)
    element.text = text


def _serialize(feed: etree._Element) -> bytes:
    """Serialise like arXiv: single-quoted XML declaration, 2-space indent, final newline."""
    etree.indent(feed, space="  ")
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8") + b"\n"


def _feed_updated(updated: datetime | None) -> str:
    """The feed's <updated>: the given time, or now (the real API prints request time)."""
    return _stamp(datetime.now(UTC) if updated is None else _utc(updated, "updated"))


def _render_entry(feed: etree._Element, entry: FakeEntry) -> None:
    """Append one <entry> with the current format's element order."""
    a, arx = f"{{{ATOM_NS}}}", f"{{{ARXIV_NS}}}"
    node = etree.SubElement(feed, a + "entry")
    vid = entry.versioned_id
    _sub(node, a + "id", f"http://arxiv.org/abs/{vid}")
    _sub(node, a + "title", entry.title)
    _sub(node, a + "updated", _stamp(entry.updated or entry.published))
    _sub(node, a + "link", href=f"https://arxiv.org/abs/{vid}", rel="alternate", type="text/html")
    _sub(
        node,
        a + "link",
        href=f"https://arxiv.org/pdf/{vid}",
        rel="related",
        type="application/pdf",
        title="pdf",
    )
    _sub(node, a + "summary", entry.summary)
    for category in entry.categories:
        _sub(node, a + "category", term=category, scheme=ARXIV_NS)
    _sub(node, a + "published", _stamp(entry.published))
    if entry.comment:
        _sub(node, arx + "comment", entry.comment)
    _sub(node, arx + "primary_category", term=entry.primary_category)
    if entry.journal_ref:
        _sub(node, arx + "journal_ref", entry.journal_ref)
    for name in entry.authors:
        author = etree.SubElement(node, a + "author")
        _sub(author, a + "name", name)
    if entry.doi:
        _sub(node, arx + "doi", entry.doi)
        _sub(node, a + "link", rel="related", href=f"https://doi.org/{entry.doi}", title="doi")


def render_feed(
    entries: Sequence[FakeEntry],
    *,
    search_query: str = "",
    id_list: str = "",
    start: int = 0,
    max_results: int | None = None,
    total: int | None = None,
    updated: datetime | None = None,
) -> bytes:
    """Render one page of results as the current arXiv API does (UTF-8 Atom bytes)."""
    max_results = len(entries) if max_results is None else max_results
    total = len(entries) if total is None else total
    a, os_ = f"{{{ATOM_NS}}}", f"{{{OPENSEARCH_NS}}}"
    feed = etree.Element(a + "feed", nsmap=_NSMAP)
    title = (
        f"arXiv Query: search_query={search_query}&id_list={id_list}"
        f"&start={start}&max_results={max_results}"
    )
    # The real feed id is an opaque 27-char hash of the query; a sha1 in base64 looks the same.
    digest = base64.urlsafe_b64encode(hashlib.sha1(title.encode()).digest()).rstrip(b"=")
    _sub(feed, a + "id", f"https://arxiv.org/api/{digest.decode()}")
    _sub(feed, a + "title", title)
    _sub(feed, a + "updated", _feed_updated(updated))
    _sub(
        feed,
        a + "link",
        href=(
            f"https://arxiv.org/api/query?search_query={search_query}&start={start}"
            f"&max_results={max_results}&id_list={id_list}"
        ),
        type="application/atom+xml",
    )
    _sub(feed, os_ + "itemsPerPage", str(max_results))
    _sub(feed, os_ + "totalResults", str(total))
    _sub(feed, os_ + "startIndex", str(start))
    for entry in entries:
        _render_entry(feed, entry)
    return _serialize(feed)


def render_error_feed(message: str, *, updated: datetime | None = None) -> bytes:
    """Render an API error (sent with HTTP 400) shaped exactly like the real one."""
    a = f"{{{ATOM_NS}}}"
    os_ = f"{{{OPENSEARCH_NS}}}"
    stamp = _feed_updated(updated)
    error_id = "https://arxiv.org/api/errors#" + re.sub(r"[^0-9A-Za-z]+", "_", message).strip("_")
    feed = etree.Element(a + "feed", nsmap=_NSMAP)
    _sub(feed, a + "id", "https://arxiv.org/")
    _sub(feed, a + "title", "arXiv Search Results")
    _sub(feed, a + "updated", stamp)
    _sub(feed, os_ + "itemsPerPage", "1")
    _sub(feed, os_ + "totalResults", "1")
    _sub(feed, os_ + "startIndex", "0")
    entry = etree.SubElement(feed, a + "entry")
    _sub(entry, a + "id", error_id)
    _sub(entry, a + "title", "Error")
    _sub(entry, a + "updated", stamp)
    _sub(entry, a + "link", href=error_id, rel="alternate", type="text/html")
    _sub(entry, a + "summary", message)
    author = etree.SubElement(entry, a + "author")
    _sub(author, a + "name", "arXiv api core")
    return _serialize(feed)


def _strip_entries(body: bytes) -> bytes:
    """Turn a feed into the arXiv "unexpectedly empty page": same header, no entries."""
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError:  # a canned non-feed body: an empty feed is the best stand-in
        return render_feed([], total=0)
    for entry in root.findall("atom:entry", _NS):
        root.remove(entry)
    return _serialize(root)


# --------------------------------------------------------------------------- loaders


def _parse_time(text: str | None) -> datetime:
    """Read an Atom timestamp as an aware UTC datetime."""
    if not text:
        raise ValueError("missing timestamp")
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).astimezone(UTC)


def load_feed_entries(path: str | Path) -> list[FakeEntry]:
    """Read the papers of any arXiv Atom response file (legacy or current format)."""
    root = etree.parse(str(path)).getroot()
    feed_title = root.find("atom:title", _NS)
    # Legacy feeds hard-wrap titles and abstracts at ~80 columns; undo it so the entry renders
    # like the current format. Current-format text is kept byte for byte.
    legacy = feed_title is not None and feed_title.get("type") == "html"

    def text(element: etree._Element, path: str) -> str | None:
        found = element.find(path, _NS)
        if found is None or found.text is None:
            return None
        return " ".join(found.text.split()) if legacy else found.text

    entries = []
    for node in root.iterfind("atom:entry", _NS):
        raw_id = text(node, "atom:id") or ""
        # Blank legacy placeholders have no id; error entries point at /api/errors, not /abs/.
        match = _ID_RE.fullmatch(raw_id.partition("arxiv.org/abs/")[2])
        if match is None:
            continue
        primary = node.find("arxiv:primary_category", _NS)
        entries.append(
            FakeEntry(
                id=match["id"],
                version=int(match["version"] or 1),
                title=text(node, "atom:title") or "",
                summary=text(node, "atom:summary") or "",
                authors=[text(a, "atom:name") or "" for a in node.iterfind("atom:author", _NS)],
                categories=[c.get("term", "") for c in node.iterfind("atom:category", _NS)],
                primary_category=primary.get("term", "") if primary is not None else "",
                published=_parse_time(text(node, "atom:published")),
                updated=_parse_time(text(node, "atom:updated")),
                comment=text(node, "arxiv:comment"),
                journal_ref=text(node, "arxiv:journal_ref"),
                doi=text(node, "arxiv:doi"),
            )
        )
    return entries


def _id_month(arxiv_id: str) -> datetime:
    """Stand-in first-submission date of an older paper: 12:00 UTC on the 1st of its yymm."""
    yymm = arxiv_id.rpartition("/")[2][:4]
    year = int(yymm[:2])
    year += 1900 if year >= 91 else 2000  # arXiv ids start in 1991
    return datetime(year, int(yymm[2:]), 1, 12, 0, tzinfo=UTC)


def load_listing_entries(directory: str | Path) -> list[FakeEntry]:
    """Turn daily listings (``YYYY-MM-DD.jsonl``) into entries, dated as SOURCES.md describes.

    Files are read in date order. A file named D was announced the evening before D, so an
    id first seen there and above every new-style id of earlier files is a new submission:
    v1, published = updated = D-1 18:00 UTC plus its row index in seconds (the ordering the
    rendered feeds in ``feeds/`` use). Any other first-seen id is a replacement or
    cross-list of an older paper: v2, published = the 1st of its id's month at 12:00 UTC,
    updated = D-1 18:00 (+ row seconds). Later repeats of an id are ignored.
    """
    seen: set[str] = set()
    max_earlier = ""
    entries: list[FakeEntry] = []
    for path in sorted(Path(directory).glob("*.jsonl"), key=lambda p: date.fromisoformat(p.stem)):
        evening = datetime.combine(
            date.fromisoformat(path.stem) - timedelta(days=1), time(18, 0), tzinfo=UTC
        )
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        for position, row in enumerate(rows):
            arxiv_id = row["id"]
            if arxiv_id in seen:
                continue
            seen.add(arxiv_id)
            stamp = evening + timedelta(seconds=position)
            is_new = bool(_NEW_ID_RE.fullmatch(arxiv_id)) and arxiv_id > max_earlier
            entries.append(
                FakeEntry(
                    id=arxiv_id,
                    version=1 if is_new else 2,
                    title=row["title"],
                    summary=row.get("summary") or "",
                    authors=row.get("authors") or [],
                    categories=row.get("categories") or [],
                    published=stamp if is_new else _id_month(arxiv_id),
                    updated=stamp,
                    comment=row.get("comment") or None,
                )
            )
        file_new_ids = [r["id"] for r in rows if _NEW_ID_RE.fullmatch(r["id"])]
        max_earlier = max([max_earlier, *file_new_ids])
    return entries


# --------------------------------------------------------------------------- the server


@dataclass(frozen=True)
class _Fault:
    """One queued fault, consumed by one request."""

    kind: str  # "fail" | "empty" | "stall"
    status: int = 200
    retry_after: str | None = None
    body: bytes = b""
    seconds: float = 0.0


@dataclass(frozen=True)
class _Reply:
    """An HTTP answer ready to send."""

    status: int
    body: bytes
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


_SORT_ATTRS = {"relevance": "published", "submittedDate": "published", "lastUpdatedDate": "updated"}


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    """Read ``start``/``max_results``; anything but a non-negative integer is a 400."""
    raw = params.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise QueryError(f"{name} must be a non-negative integer")
    return int(raw)


class FakeArxiv(Loopback):
    """A loopback arXiv export API: corpus answers, canned replays, faults, request log.

    Answer precedence for each request: a queued fault, then an ``enqueue``d body, then the
    ``serve_by_start`` pages, then the corpus. Use as ``with FakeArxiv() as fake:``.
    """

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._lock = threading.Lock()
        self._corpus: dict[str, _Indexed] = {}
        self._faults: deque[_Fault] = deque()
        self._canned: deque[_Reply] = deque()
        self._pages: dict[int, bytes] | None = None
        self._requests: list[RecordedRequest] = []
        # Set on stop() so a stalled handler wakes up instead of holding shutdown hostage.
        self._stopping = threading.Event()

    # ---- lifecycle

    thread_name = "fake-arxiv"

    def _new_server(self) -> LoopbackServer:
        self._stopping.clear()
        return LoopbackServer(self._port, _Handler, self)

    def _before_stop(self) -> None:
        self._stopping.set()

    @property
    def port(self) -> int:
        """The bound port (only while started)."""
        if self._server is None:
            raise RuntimeError("FakeArxiv is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/api/query``."""
        return f"http://127.0.0.1:{self.port}{QUERY_PATH}"

    @property
    def query_url_format(self) -> str:
        """Value for ``arxiv.Client.query_url_format``."""
        return self.url + "?{}"

    # ---- corpus

    def add_entries(self, *entries: FakeEntry | Iterable[FakeEntry]) -> int:
        """Add entries (or iterables of them); an id already present is replaced."""
        flat: list[FakeEntry] = []
        for item in entries:
            flat.extend([item] if isinstance(item, FakeEntry) else item)
        indexed = [_Indexed(e) for e in flat]
        with self._lock:
            self._corpus.update((doc.entry.id, doc) for doc in indexed)
        return len(indexed)

    def load_feed(self, path: str | Path) -> list[FakeEntry]:
        """Add the papers of an arXiv Atom file (legacy or current); returns them."""
        entries = load_feed_entries(path)
        self.add_entries(entries)
        return entries

    def load_listings(self, directory: str | Path) -> list[FakeEntry]:
        """Add the papers of a ``listings/`` directory of daily ``*.jsonl``; returns them."""
        entries = load_listing_entries(directory)
        self.add_entries(entries)
        return entries

    @property
    def entries(self) -> list[FakeEntry]:
        """A snapshot of the corpus."""
        with self._lock:
            return [doc.entry for doc in self._corpus.values()]

    def search(self, params: Mapping[str, str]) -> tuple[list[FakeEntry], int]:
        """Answer API params from the corpus: (the requested page, totalResults).

        Raises QueryError for what the API refuses with HTTP 400.
        """
        node = parse_query(params.get("search_query", ""))
        start = _int_param(params, "start", 0)
        # Capped like the real API rather than refused.
        max_results = min(_int_param(params, "max_results", 10), MAX_PAGE_SIZE)
        sort_by = params.get("sortBy") or "relevance"
        order = params.get("sortOrder") or "descending"
        if sort_by not in _SORT_ATTRS:
            raise QueryError(f"unknown sortBy {sort_by!r}")
        if order not in ("ascending", "descending"):
            raise QueryError(f"unknown sortOrder {order!r}")
        wanted = [s.strip() for s in params.get("id_list", "").split(",") if s.strip()]
        with self._lock:
            corpus = dict(self._corpus)
        docs: list[_Indexed] = []
        if wanted:
            listed: dict[str, _Indexed] = {}
            for raw in wanted:
                match = _ID_RE.fullmatch(raw)
                if match is None:
                    raise QueryError(f"incorrect id format for {raw}")
                doc = corpus.get(match["id"])
                version = int(match["version"] or 0)
                # Missing ids (and versions newer than we hold) are simply omitted, as now.
                if doc is None or version > doc.entry.version or raw in listed:
                    continue
                if version and version < doc.entry.version:
                    doc = _Indexed(dataclasses.replace(doc.entry, version=version))
                listed[raw] = doc
            docs = list(listed.values())
        elif node is not None:
            docs = list(corpus.values())
        if node is not None:
            docs = [d for d in docs if node.matches(d)]
        # Relevance has no meaning here: fall back to dates (newest first by default), except
        # that an id_list keeps its own order, as the API does.
        if not (wanted and sort_by == "relevance"):
            attr = _SORT_ATTRS[sort_by]
            docs.sort(
                key=lambda d: (getattr(d.entry, attr), d.entry.id), reverse=order == "descending"
            )
        return [d.entry for d in docs[start : start + max_results]], len(docs)

    # ---- canned responses and faults

    def enqueue(
        self, body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        """Answer the next not-faulted request with these bytes (FIFO), e.g. a recording."""
        with self._lock:
            self._canned.append(_Reply(status, body, dict(headers or {})))

    def serve_by_start(self, pages: Mapping[int, bytes] | None) -> None:
        """Answer by the ``start`` param from recorded pages (None turns this off).

        An unknown start gets an empty current-format page.
        """
        with self._lock:
            self._pages = None if pages is None else dict(pages)

    def fail_next(
        self,
        status: int = 503,
        times: int = 1,
        retry_after: float | str | None = None,
        body: bytes = b"",
    ) -> None:
        """Answer the next ``times`` requests with this HTTP error (and Retry-After)."""
        if status < 400:
            raise ValueError("fail_next needs an error status")
        after = None if retry_after is None else str(retry_after)
        self._add_faults(_Fault("fail", status=status, retry_after=after, body=body), times)

    def empty_page_next(self, times: int = 1) -> None:
        """Answer the next ``times`` requests with a valid feed whose entries were dropped."""
        self._add_faults(_Fault("empty"), times)

    def stall_next(self, seconds: float, times: int = 1) -> None:
        """Sleep ``seconds`` before answering the next ``times`` requests (client timeouts)."""
        self._add_faults(_Fault("stall", seconds=seconds), times)

    def _add_faults(self, fault: _Fault, times: int) -> None:
        """Queue ``times`` copies of a fault behind any already queued."""
        with self._lock:
            self._faults.extend([fault] * times)

    def reset(self) -> None:
        """Forget faults, canned answers, by-start pages and the request log (not the corpus)."""
        with self._lock:
            self._faults.clear()
            self._canned.clear()
            self._pages = None
            self._requests.clear()

    # ---- observability

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._requests.clear()

    # ---- request handling (called from server threads)

    def _handle(self, path: str, params: dict[str, str]) -> _Reply:
        """Answer one request: log it, then fault > canned > by-start page > corpus."""
        with self._lock:
            self._requests.append(RecordedRequest(monotonic(), path, params))
            if path != QUERY_PATH:  # a wrong path must not use up a fault meant for the API
                return _Reply(404, b"not found", {"Content-Type": "text/plain; charset=utf-8"})
            fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.kind == "stall":
            self._stopping.wait(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "fail":
            headers = {
                "Content-Type": ATOM_CONTENT_TYPE if fault.body else "text/plain; charset=utf-8"
            }
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
            return _Reply(fault.status, fault.body, headers)
        # A faulted request must not eat the canned reply meant for the next real answer.
        reply = self._answer(params, consume=fault is None)
        if fault is not None and reply.status == 200:  # the "empty" fault
            return dataclasses.replace(reply, body=_strip_entries(reply.body))
        return reply

    def _answer(self, params: Mapping[str, str], consume: bool) -> _Reply:
        """The un-faulted answer; ``consume=False`` only peeks at the canned queue."""
        atom = {"Content-Type": ATOM_CONTENT_TYPE}
        with self._lock:
            canned = (
                (self._canned.popleft() if consume else self._canned[0]) if self._canned else None
            )
            pages = self._pages
        if canned is not None:
            return _Reply(canned.status, canned.body, {**atom, **canned.headers})
        try:
            if pages is not None:
                start = _int_param(params, "start", 0)
                if start in pages:
                    return _Reply(200, pages[start], atom)
                return _Reply(
                    200,
                    render_feed(
                        [], start=start, total=0, max_results=_int_param(params, "max_results", 10)
                    ),
                    atom,
                )
            page, total = self.search(params)
        except QueryError as err:
            return _Reply(400, render_error_feed(str(err)), atom)
        max_results = min(_int_param(params, "max_results", 10), MAX_PAGE_SIZE)
        body = render_feed(
            page,
            search_query=params.get("search_query", ""),
            id_list=params.get("id_list", ""),
            start=_int_param(params, "start", 0),
            max_results=max_results,
            total=total,
        )
        return _Reply(200, body, atom)


class _Handler(BaseHTTPRequestHandler):
    """Turns GET requests into FakeArxiv._handle calls (HTTP/1.0: one request a connection)."""

    server: LoopbackServer

    def do_GET(self) -> None:
        """Parse the query string, ask the fake, send its reply."""
        split = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            reply = self.server.fake._handle(split.path, params)
        except Exception as err:  # a bug in the fake must surface as a 500, not a hang
            reply = _Reply(
                500,
                f"fake arXiv error: {err!r}".encode(),
                {"Content-Type": "text/plain; charset=utf-8"},
            )
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. timed out during a stall); nothing to tell it

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet; ``fake.requests`` is the log."""


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a corpus until SIGTERM/SIGINT, printing the query URL as the first stdout line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.arxiv_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--listings", type=Path, help="directory of daily listings *.jsonl")
    parser.add_argument(
        "--feed",
        type=Path,
        action="extend",
        nargs="+",
        default=[],
        help="arXiv Atom file(s) to load",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    args = parser.parse_args(argv)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    fake = FakeArxiv(port=args.port)
    if args.listings:
        fake.load_listings(args.listings)
    for feed in args.feed:
        fake.load_feed(feed)
    with fake:
        print(fake.url, flush=True)
        while not done.wait(0.1):  # short waits so the signal handler runs promptly
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
