"""The one ASGI app of `digestbot run`: Slack HTTP mode at `/slack/events`, `/healthz`, and
whatever `routes` later issues mount (web pages).

    app = build_app(slack=slack_app, health=check, settings=config.http)
    server = serve(app, config.http)          # bot.http.server

Slack requests are checked in the order that keeps a hostile client cheap: the declared
size first (a negative, malformed or too large Content-Length is refused before a byte of
the body is read), then the body as it streams (counted chunk by chunk, so chunked uploads
cannot exceed the limit either, and cut off when it arrives too slowly), then Slack's
signature and timestamp on the raw bytes, then the replay check, and only then is anything
parsed. Each refusal is a short status (400, 401, 408, 413), never a traceback. Accepted
requests go to Bolt through its own Starlette adapter, on a worker thread, so a busy Bolt
never stalls the event loop that accepts the next request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.config import HttpConfig

if TYPE_CHECKING:
    from bot.slack.app import SlackApp

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
REPLAY_WINDOW = 300.0  # seconds: Slack's own limit on a request's age
REPLAY_MEMORY = 100_000  # signatures remembered at most (only valid ones are stored)
DISPATCH_THREADS = 4  # threads handing Slack requests to Bolt (SlackEndpoint)

# () -> (healthy, details): details is JSON-able (adapter liveness, database check, ...).
HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


class Refused(Exception):
    """A request answered with a short error status instead of being handled."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class ReplayGuard:
    """Remembers the signatures of accepted requests for `window` seconds: the same signed
    request sent again within Slack's five minutes is answered once, not acted on twice."""

    def __init__(
        self,
        window: float = REPLAY_WINDOW,
        memory: int = REPLAY_MEMORY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.memory = memory
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, signature: str) -> bool:
        now = self.clock()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) <= now - self.window:
                self._seen.popitem(last=False)
            if signature in self._seen:
                return False
            self._seen[signature] = now
            while len(self._seen) > self.memory:
                self._seen.popitem(last=False)
            return True


def declared_length(request: Request, limit: int) -> int | None:
    """The Content-Length the client declared (None when it streams chunks); refuses a
    malformed or negative one (400) and one over `limit` (413) before reading anything."""
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.strip().isdigit():  # "-1", "1e9", "12, 13": never trusted, never read
        raise Refused(400, "bad Content-Length")
    length = int(raw)
    if length > limit:
        raise Refused(413, "request body too large")
    return length


async def read_body(request: Request, settings: HttpConfig) -> bytes:
    """The body, read only as far as `max_body_bytes` and within `body_timeout_seconds`."""
    limit = settings.max_body_bytes
    declared = declared_length(request, limit)
    chunks: list[bytes] = []
    size = 0

    async def collect() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:  # a chunked body is counted as it arrives
                raise Refused(413, "request body too large")
            chunks.append(chunk)

    try:
        await asyncio.wait_for(collect(), settings.body_timeout_seconds)
    except TimeoutError:
        raise Refused(408, "request body too slow") from None
    except ClientDisconnect:
        raise Refused(400, "client went away") from None
    if declared is not None and size != declared:
        raise Refused(400, "body shorter than its Content-Length")
    return b"".join(chunks)


def _well_formed(text: str, content_type: str) -> bool:
    """Whether Bolt can parse the body as Slack sends it (JSON events, form-encoded
    commands, form-encoded interactivity with a JSON `payload`)."""
    try:
        if content_type.startswith("application/json") or text.startswith("{"):
            return isinstance(json.loads(text), dict)
        form = parse_qs(text, strict_parsing=bool(text), max_num_fields=200)
        if "payload" in form:
            return isinstance(json.loads(form["payload"][0]), dict)
        return True
    except ValueError:
        return False


class SlackEndpoint:
    """`/slack/events`: size, signature and replay checks on the raw bytes, then Bolt."""

    def __init__(self, slack: SlackApp, settings: HttpConfig, guard: ReplayGuard | None = None):
        self.slack = slack
        self.settings = settings
        self.verifier = SignatureVerifier(slack.signing_secret)
        self.guard = guard or ReplayGuard()
        # Bolt's dispatch only acks and queues (bot.slack.app), a fraction of a millisecond
        # of Python: a few threads take the requests in arrival order, where Starlette's
        # pool of 40 would have 40 threads contend for the GIL and finish in any order.
        self.dispatchers = ThreadPoolExecutor(DISPATCH_THREADS, "digestbot-dispatch")

    async def handle(self, request: Request) -> Response:
        try:
            body = await read_body(request, self.settings)
            self._verify(request, body)
        except Refused as refused:
            return PlainTextResponse(refused.text, status_code=refused.status)
        try:
            bolt_request = to_bolt_request(request, body)
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(
                self.dispatchers, self.slack.dispatch, bolt_request
            )
        except Exception:  # our bug: logged once here, the client gets one line
            log.exception("handling a Slack request failed")
            return PlainTextResponse("internal error", status_code=500)
        return to_starlette_response(response)

    def _verify(self, request: Request, body: bytes) -> None:
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if not timestamp or not signature:
            raise Refused(401, "unsigned request")
        if not self.verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            raise Refused(401, "bad or stale signature")
        if not self.guard.first_time(signature):
            # Answered (so the sender stops) but not acted on again.
            raise Refused(200, "")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "body is not UTF-8") from None
        if not _well_formed(text, request.headers.get("content-type", "")):
            raise Refused(400, "malformed body")


def _health_endpoint(health: HealthCheck | None) -> Callable[[Request], Any]:
    async def healthz(request: Request) -> Response:
        if health is None:
            return JSONResponse({"ok": True})
        try:
            ok, details = await run_in_threadpool(health)
        except Exception as err:  # a failing check is an unhealthy answer, not a 500
            log.warning("health check failed: %s", err)
            ok, details = False, {"error": type(err).__name__}
        return JSONResponse({"ok": ok, **details}, status_code=200 if ok else 503)

    return healthz


def build_app(
    *,
    slack: SlackApp | None = None,
    routes: Sequence[BaseRoute] = (),
    health: HealthCheck | None = None,
    settings: HttpConfig,
) -> Starlette:
    """The ASGI app: Slack HTTP mode (when `slack` is given), `/healthz`, and `routes`."""
    table: list[BaseRoute] = [Route(HEALTH_PATH, _health_endpoint(health), methods=["GET"])]
    if slack is not None:
        table.append(Route(SLACK_PATH, SlackEndpoint(slack, settings).handle, methods=["POST"]))
    table.extend(routes)
    return Starlette(routes=table)
