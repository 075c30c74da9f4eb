"""The archive pages as Starlette routes: topics, a topic's weeks, one digest, one paper,
search, and an Atom feed. Read-only: every route is GET (and HEAD); nothing changes data.

Safety: every piece of text from a paper or a digest goes through Jinja's autoescaping; the
only links are to our own routes (built from stored ids, URL-quoted) and to
https://arxiv.org/abs/<id> (or doi.org for a paper's DOI); every response forbids scripts
with a Content-Security-Policy, so even markup that slipped through could not run.

    routes = page_routes(corpus=opener, topics=config.topics, public_url=..., auth_token=...)
    app = Starlette(routes=routes)        # or mounted on the bot's one ASGI app
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from functools import wraps
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from digest.chart import ChartCache
from digest.errors import DigestError
from digest.model import CITATION, CatalogEntry, Digest
from digest.offline.text import untex
from digest.qa import QuestionAnswerer
from digest.qa.resolve import clean_question
from digest.render import spans
from digest.topics import TopicCatalog
from storage import Corpus, Paper, StorageError, parse_arxiv_id
from storage.corpus import StoredDigest
from storage.questions import QuestionLog

log = logging.getLogger(__name__)

SEARCH_LIMIT = 50  # papers a search ranks before the window filter
ARCHIVE_LIMIT = 520  # ten years of weekly digests on a topic page
FEED_LIMIT = 30
PAGE_CACHE = 64  # rendered digest pages kept in memory
MAX_QUERY_CHARS = 500
# No script may run on these pages, whatever ends up in them; images and styles are ours.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")

CorpusOpener = Callable[[], Corpus]
Endpoint = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    """A request the page cannot answer as asked; the message is the sentence shown."""


class NotFound(Exception):
    """No such topic, digest or paper; the message is the sentence shown."""


def arxiv_url(paper_id: str) -> str:
    return "https://arxiv.org/abs/" + quote(paper_id, safe="/.")


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    return _SENTENCE.split(text, maxsplit=1)[0] if text else ""


class Site:
    """What the pages read: the corpus (opened on first use), the topics, the charts."""

    def __init__(
        self,
        corpus: CorpusOpener,
        topics: TopicCatalog,
        *,
        public_url: str = "",
        auth_token: str = "",
        chart_dir: Path | None = None,
    ) -> None:
        self.opener = corpus
        self.topics = topics
        self.public_url = public_url.rstrip("/")
        self.auth_token = auth_token
        self.chart_dir = chart_dir
        self._corpus: Corpus | None = None
        self._charts: ChartCache | None = None
        self._qa: QuestionAnswerer | None = None
        self._lock = threading.Lock()
        # Rendered digest pages by (digest id, mount path): a stored digest never changes
        # (a rebuild is stored under a new id), so its page is rendered once.
        self._digest_pages: OrderedDict[tuple[int, str], str] = OrderedDict()
        self.templates = Environment(
            loader=PackageLoader("bot.web", "templates"),
            autoescape=select_autoescape(["html", "xml"], default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    @property
    def corpus(self) -> Corpus:
        with self._lock:
            if self._corpus is None:
                self._corpus = self.opener()
            return self._corpus

    @property
    def charts(self) -> ChartCache:
        corpus = self.corpus
        with self._lock:
            if self._charts is None:
                self._charts = ChartCache(corpus, self.chart_dir)
            return self._charts

    @property
    def qa(self) -> QuestionAnswerer:
        corpus = self.corpus
        with self._lock:
            if self._qa is None:
                # No arXiv source and no full text: a page never reaches out to arXiv.
                self._qa = QuestionAnswerer(corpus)
            return self._qa

    def close(self) -> None:
        with self._lock:
            if self._corpus is not None:
                self._corpus.close()
                self._corpus = None

    def forget_pages(self) -> None:
        """Empty the rendered-page cache (the benchmark's first-view figure)."""
        with self._lock:
            self._digest_pages.clear()

    def cached_page(self, key: tuple[int, str], build: Callable[[], str]) -> str:
        """A digest page from the cache, or `build()`, kept for next time."""
        with self._lock:
            if key in self._digest_pages:
                self._digest_pages.move_to_end(key)
                return self._digest_pages[key]
        html = build()
        with self._lock:
            self._digest_pages[key] = html
            while len(self._digest_pages) > PAGE_CACHE:
                self._digest_pages.popitem(last=False)
        return html

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        base = request.scope.get("root_path", "").rstrip("/")
        html = self.templates.get_template(template).render(base=base, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


# -- turning digests into what the templates show ----------------------------------------------


def rich(text: str, catalog: dict[str, CatalogEntry], base: str, bold: bool = False) -> Markup:
    """Digest text as HTML: every character escaped, each cited paper as its short name
    linked to its page here (the only markup). Built here rather than in a template
    macro: a large week has thousands of runs, and this is ~10x faster."""
    out: list[str] = []
    position = 0

    def plain(chunk: str) -> None:
        if chunk:
            out.append(f"<strong>{escape(chunk)}</strong>" if bold else str(escape(chunk)))

    for match in CITATION.finditer(text):
        plain(text[position : match.start()])
        entry = catalog.get(match.group(1))
        if entry is not None:
            href = f"{base}/p/{quote(entry.id, safe='/.')}"
            name = escape(entry.short_name)
            label = f"<strong>{name}</strong>" if bold else str(name)
            out.append(f'<a href="{escape(href)}">{label}</a>')
        position = match.end()
    plain(text[position:])
    return Markup("".join(out))


def digest_view(stored: StoredDigest, base: str) -> dict[str, Any]:
    digest = Digest.from_json(stored.body)
    catalog = digest.catalog()
    tldrs = {p["id"]: p.get("tldr", "") for p in stored.body.get("papers", ())}
    sections = [
        {
            "key": section.key,
            "title": section.title,
            "entries": [
                {
                    "heading": rich(item.heading, catalog, base, bold=True),
                    "text": rich(item.text, catalog, base),
                }
                for item in section.items
            ],
        }
        for section in digest.sections
    ]
    rows = [
        {
            "id": entry.id,
            "short_name": entry.short_name,
            "title": entry.title,
            "category": entry.primary_category,
            "authors": ", ".join(entry.authors[:4]) + (" et al." if len(entry.authors) > 4 else ""),
            "tldr": tldrs.get(entry.id, ""),
            "href": f"{base}/p/{quote(entry.id, safe='/.')}",
            "arxiv": arxiv_url(entry.id),
        }
        for entry in digest.papers
    ]
    return {
        "id": stored.id,
        "digest": digest,
        "gist": rich(digest.gist, catalog, base),
        "sections": sections,
        "catalog": rows,
    }


def _window_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date like 2026-05-28, not {raw[:40]!r}") from None


# -- the routes ------------------------------------------------------------------------------


def page_routes(
    *,
    corpus: CorpusOpener,
    topics: TopicCatalog,
    public_url: str = "",
    auth_token: str = "",
    chart_dir: Path | None = None,
    site: Site | None = None,
) -> list[BaseRoute]:
    """The pages as routes for a Starlette app: `/`, `/t/{topic}`, `/d/{id}` (and its
    chart), `/p/{arxiv id}`, `/search`, `/feed.xml`, `/static/style.css`.

    `corpus` opens the corpus (once, on the first request); `auth_token`, when set, is
    required on every page (a Bearer token, or the password of basic auth)."""
    site = site or Site(
        corpus, topics, public_url=public_url, auth_token=auth_token, chart_dir=chart_dir
    )

    def page(handler: Callable[[Site, Request], Response]) -> Endpoint:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            if site.auth_token and not authorized(request, site.auth_token):
                return Response(
                    "This page needs the digestbot web token.\n",
                    status_code=401,
                    media_type="text/plain",
                    headers={"WWW-Authenticate": 'Basic realm="digestbot", charset="UTF-8"'},
                )
            try:
                # Pages read SQLite and render templates: off the event loop.
                return await run_in_threadpool(handler, site, request)
            except BadRequest as err:
                return site.render(request, "error.html", 400, title="Bad request", text=str(err))
            except NotFound as err:
                return site.render(request, "error.html", 404, title="Not found", text=str(err))
            except (StorageError, DigestError) as err:
                log.error("page %s failed: %s", request.url.path, err)
                return site.render(
                    request,
                    "error.html",
                    503,
                    title="Unavailable",
                    text=f"The digest database cannot be read just now: {err}",
                )

        return endpoint

    return [
        Route("/", page(home), name="home"),
        Route("/t/{topic}", page(topic_page), name="topic"),
        Route("/d/{digest_id:int}", page(digest_page), name="digest"),
        Route("/d/{digest_id:int}/chart.png", page(chart_png), name="chart"),
        Route("/p/{paper_id:path}", page(paper_page), name="paper"),
        Route("/search", page(search_page), name="search"),
        Route("/feed.xml", page(feed), name="feed"),
        Route("/static/style.css", page(stylesheet), name="style"),
        Route("/static/icon.svg", page(icon), name="icon"),
    ]


def authorized(request: Request, token: str) -> bool:
    """Whether the request carries the shared token: `Authorization: Bearer TOKEN`, or basic
    auth with TOKEN as the password (what a browser's login prompt sends)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    given = ""
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        given = given.partition(":")[2]
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def home(site: Site, request: Request) -> Response:
    rows = []
    for topic in site.topics.topics:
        latest = site.corpus.digests(topic.name, limit=1)
        rows.append({"topic": topic, "latest": latest[0] if latest else None})
    return site.render(request, "home.html", title="digestbot", rows=rows)


def topic_page(site: Site, request: Request) -> Response:
    name = request.path_params["topic"]
    stored = site.corpus.digests(name, limit=ARCHIVE_LIMIT)
    topic = next((t for t in site.topics.topics if t.name == name), None)
    if topic is None and not stored:
        raise NotFound(f"There is no topic called {name!r}.")
    weeks: dict[tuple[date, date], list[StoredDigest]] = {}
    for digest in stored:  # newest window first, newest digest of a window first
        weeks.setdefault((digest.since, digest.until), []).append(digest)
    rows = [
        {"since": since, "until": until, "latest": found[0], "versions": len(found)}
        for (since, until), found in weeks.items()
    ]
    title = topic.title if topic else name
    return site.render(request, "topic.html", title=title, name=name, rows=rows)


def _stored(site: Site, request: Request) -> StoredDigest:
    digest_id = request.path_params["digest_id"]
    stored = site.corpus.get_digest(digest_id)
    if stored is None:
        raise NotFound(f"There is no digest {digest_id}.")
    return stored


def digest_page(site: Site, request: Request) -> Response:
    digest_id = request.path_params["digest_id"]
    base = request.scope.get("root_path", "").rstrip("/")

    def build() -> str:
        stored = _stored(site, request)
        view = digest_view(stored, base)
        permalink = f"{site.public_url}/d/{stored.id}" if site.public_url else ""
        return site.templates.get_template("digest.html").render(
            base=base,
            title=f"{view['digest'].title}, {stored.since} to {stored.until}",
            view=view,
            permalink=permalink,
        )

    html = site.cached_page((digest_id, base), build)
    return HTMLResponse(html, headers=SECURITY_HEADERS)


def chart_png(site: Site, request: Request) -> Response:
    stored = _stored(site, request)
    png = site.charts.png(stored.id, Digest.from_json(stored.body))
    # A stored digest never changes, so neither does its chart.
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=86400"}
    return Response(png, media_type="image/png", headers=headers)


def paper_page(site: Site, request: Request) -> Response:
    raw = request.path_params["paper_id"]
    parsed = parse_arxiv_id(raw)
    if parsed is None:
        raise NotFound(f"{raw[:60]!r} is not an arXiv id.")
    paper = site.corpus.get_paper(parsed.base)
    if paper is None:
        raise NotFound(f"Paper {parsed.base} is not in the corpus.")
    base = request.scope.get("root_path", "").rstrip("/")
    namings = []
    tldr = ""
    for stored in site.corpus.digests_naming(paper.id):
        entry = next(p for p in stored.body.get("papers", ()) if p.get("id") == paper.id)
        tldr = tldr or entry.get("tldr", "")
        namings.append({"stored": stored, "short_name": entry.get("short_name", paper.id)})
    asked = QuestionLog(site.corpus).about(paper.id)
    return site.render(
        request,
        "paper.html",
        asked=asked,
        title=paper.title,
        paper=paper_card(paper, base),
        tldr=tldr,
        tldr_from_abstract=not tldr,
        first_sentence=first_sentence(untex(paper.abstract)),
        namings=namings,
    )


def paper_card(paper: Paper, base: str) -> dict[str, Any]:
    return {
        "id": paper.id,
        "title": paper.title,
        "authors": ", ".join(paper.authors),
        "categories": ", ".join(paper.categories),
        "submitted": paper.submitted,
        "version": paper.version,
        "abstract": untex(paper.abstract),
        "comment": paper.comment or "",
        "journal_ref": paper.journal_ref or "",
        "doi": paper.doi or "",
        "doi_url": f"https://doi.org/{quote(paper.doi, safe='/.')}" if paper.doi else "",
        "arxiv": arxiv_url(paper.id),
        "href": f"{base}/p/{quote(paper.id, safe='/.')}",
    }


def search_page(site: Site, request: Request) -> Response:
    query = clean_question(request.query_params.get("q", "")[: MAX_QUERY_CHARS * 4])
    query = query[:MAX_QUERY_CHARS]
    topic_name = request.query_params.get("topic", "").strip()
    if topic_name and topic_name not in site.topics.names():
        known = ", ".join(site.topics.names())
        raise BadRequest(f"There is no topic called {topic_name[:40]!r}; known: {known}.")
    since, until = _window_param(request, "since"), _window_param(request, "until")
    if since and until and since > until:
        raise BadRequest("since must not be after until.")
    results: list[dict[str, Any]] = []
    suggestions: list[dict[str, Any]] = []
    base = request.scope.get("root_path", "").rstrip("/")
    if query:
        topic = topic_name or None
        resolution = site.qa.resolve(query, topic=topic)
        found = [f.paper for f in (*resolution.named, *resolution.related)]
        if resolution.terms:
            found += [
                r.paper
                for r in site.qa.retriever.search(
                    list(resolution.terms), limit=SEARCH_LIMIT, topic=topic
                )
            ]
        seen: set[str] = set()
        for paper in found:
            if paper.id in seen:
                continue
            seen.add(paper.id)
            if (since and paper.submitted < since) or (until and paper.submitted > until):
                continue
            results.append(paper_card(paper, base))
        if not results:
            suggestions = [paper_card(f.paper, base) for f in resolution.suggestions]
    return site.render(
        request,
        "search.html",
        title=f"Search: {query}" if query else "Search",
        query=query,
        topic=topic_name,
        topics=site.topics.topics,
        since=since.isoformat() if since else "",
        until=until.isoformat() if until else "",
        results=results,
        suggestions=suggestions,
    )


def feed(site: Site, request: Request) -> Response:
    topic_name = request.query_params.get("topic", "").strip()
    names = site.topics.names()
    if topic_name:
        if topic_name not in names:
            raise NotFound(f"There is no topic called {topic_name[:40]!r}.")
        names = [topic_name]
    stored = [d for name in names for d in site.corpus.digests(name, limit=FEED_LIMIT)]
    stored.sort(key=lambda d: (d.generated_at, d.id), reverse=True)
    stored = stored[:FEED_LIMIT]
    origin = site.public_url or str(request.base_url).rstrip("/")
    self_url = f"{origin}/feed.xml" + (f"?{urlencode({'topic': topic_name})}" if topic_name else "")
    entries = [
        {
            "url": f"{origin}/d/{d.id}",
            "title": f"{d.body.get('title', d.topic)}, {d.since} to {d.until}",
            "updated": _atom_time(d.generated_at),
            "summary": _plain(Digest.from_json(d.body)),
            "topic": d.topic,
        }
        for d in stored
    ]
    updated = entries[0]["updated"] if entries else _atom_time(datetime.now(UTC))
    xml = site.templates.get_template("feed.xml").render(
        origin=origin, self_url=self_url, topic=topic_name, entries=entries, updated=updated
    )
    return Response(xml, media_type="application/atom+xml; charset=utf-8", headers=SECURITY_HEADERS)


def _plain(digest: Digest) -> str:
    gist = "".join(s.text for s in spans(digest.gist, digest))
    return f"{digest.paper_count} papers. {gist}".strip()


def _atom_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _static(name: str, media_type: str) -> Response:
    data = resources.files("bot.web").joinpath(f"static/{name}").read_bytes()
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
    return Response(data, media_type=media_type, headers=headers)


def stylesheet(site: Site, request: Request) -> Response:
    return _static("style.css", "text/css; charset=utf-8")


def icon(site: Site, request: Request) -> Response:
    # Served, not a data: URL, which the pages' Content-Security-Policy refuses.
    return _static("icon.svg", "image/svg+xml")
