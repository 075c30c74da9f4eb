"""Question-answering builders: three invented papers, a stored digest naming papers, and
a loopback server for full texts (HTML and PDF)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler

from digest.model import CatalogEntry, Digest
from digest.qa import answer_messages
from digest.qa.fulltext import FullTextSettings
from digest.render import message_text
from storage import Corpus, Paper
from tests.fakes.loopback import Loopback, LoopbackServer
from tests.support.papers import make_paper
from tests.support.paths import FIXTURES


def store_digest(
    corpus: Corpus,
    papers: Sequence[Paper],
    names: dict[str, str],
    *,
    topic: str = "post-train",
    since: date = date(2026, 6, 1),
    until: date = date(2026, 6, 7),
    generated_at: datetime = datetime(2026, 6, 8, tzinfo=UTC),
) -> int:
    """Store a digest (no sections) naming `papers` as `names` say, as the bot would have
    posted it (people ask by the names digests showed them); returns its id."""
    digest = Digest(
        topic=topic,
        title=f"{topic} digest",
        since=since,
        until=until,
        generated_at=generated_at,
        paper_count=len(papers),
        query="q",
        synthesizer="offline",
        style="",
        gist="",
        sections=(),
        papers=tuple(
            CatalogEntry(p.id, names[p.id], p.title, p.authors, p.primary_category) for p in papers
        ),
    )
    return corpus.save_digest(
        topic=topic,
        since=since,
        until=until,
        engine="offline",
        generated_at=digest.generated_at,
        body=digest.to_json(),
    )


QA = FIXTURES / "qa"


HTML = (QA / "paper.html").read_bytes()


PDF = (QA / "paper.pdf").read_bytes()


PAPER = "2606.09001"


@dataclass
class Route:
    """What the loopback server answers on one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0  # before the headers
    send_length: bool = True


class _StaticHandler(BaseHTTPRequestHandler):
    server: LoopbackServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        outer: StaticServer = self.server.fake
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


@dataclass
class StaticServer(Loopback):
    """A loopback HTTP server with scripted routes, recording what it was asked and how
    many requests it served at once."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _new_server(self) -> LoopbackServer:
        return LoopbackServer(0, _StaticHandler, self)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

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


LANTERN = make_paper(
    "2606.09001",
    title="Lanternfish: Calibrated Step Rewards for Small Reasoners",
    abstract=(
        "Small reasoning models are overconfident in their intermediate steps. "
        "Process reward models trained on human labels are expensive to build. "
        "We present Lanternfish, a step-level reward model that calibrates its scores "
        "against a held-out verifier. "
        "We find that small models trained with it make fewer confident mistakes on "
        "multi-step arithmetic. "
        "Code is available at https://github.com/example/lanternfish."
    ),
    authors=("Ada Quill", "Ben Marsh", "Cy Dove", "Di Fern"),
    categories=("cs.CL", "cs.LG"),
    published=datetime(2026, 6, 2, 18, tzinfo=UTC),
)


KESTREL = make_paper(
    "2606.09002",
    title="Kestrel: Judges That Abstain",
    abstract=(
        "LLM judges rarely say when they do not know. We introduce Kestrel, a judge that "
        "abstains when its confidence is low, and show that abstention improves agreement "
        "with human raters on reward model evaluation."
    ),
    published=datetime(2026, 6, 1, 18, tzinfo=UTC),
)


HERON = make_paper(
    "2606.09003",
    title="Heron: Reward Hacking Detection with Probes",
    abstract=(
        "Reward hacking undermines RLHF. We propose Heron, which detects reward hacking "
        "from activation probes during training, catching most hacked episodes early."
    ),
    published=datetime(2026, 6, 3, 18, tzinfo=UTC),
)


MENTION = re.compile(r"@(?:everyone|here|channel)|<!(?:channel|here|everyone)|<@", re.I)


def rendered(answer) -> str:
    return "\n".join(message_text(m) for m in answer_messages(answer))
