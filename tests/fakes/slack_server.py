"""Loopback stand-in for the Slack Web API (and Socket Mode), for tests and demos.

The real `slack_sdk.WebClient` talks to it through `base_url`; it answers the methods
digestbot uses, checks what Slack checks (tokens, channel membership, thread parents, block
and text limits, metadata shape), keeps the channel's messages so they can be read back
(`conversations.history`/`replies` with metadata, `chat.getPermalink`), takes file uploads
the way `files_upload_v2` makes them, records every request, and can be scripted to answer
429 with Retry-After or any Slack error. A minimal WebSocket endpoint speaks Socket Mode:
`apps.connections.open` returns its URL, `send_envelope` pushes an event to the connected
app and `wait_ack` returns the app's acknowledgement.

    with FakeSlack(channels=("C0TEST",)) as fake:
        client = WebClient(token="xoxb-test", base_url=fake.base_url)
        fake.rate_limit("chat.postMessage", retry_after=0)
        ...
        fake.posts("C0TEST")      # the chat.postMessage bodies Slack accepted

Run ``python -m tests.fakes.slack_server`` to serve one for a CLI demo: it prints its base
URL (``http://127.0.0.1:PORT/api/``); GET ``/_fake/record`` shows what it received.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import Loopback, LoopbackServer

BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"
TEAM_URL = "https://fake.slack.com/"
SECTION_TEXT_LIMIT = 3000
HEADER_LIMIT = 150
MAX_BLOCKS = 50
MAX_TEXT = 40_000  # Slack truncates beyond this; the fake refuses, to catch it
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass(frozen=True)
class Call:
    """One request the fake received: the API method (or "upload", "respond"), its
    arguments merged from query, form and JSON (without the token), and what it answered."""

    method: str
    args: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float


@dataclass
class _Fault:
    status: int
    error: str
    retry_after: float | None = None
    needed: str | None = None


@dataclass
class _Stall:
    at: int  # the count of successful calls at which to hold
    stored: bool
    release: threading.Event


@dataclass
class _Channel:
    member: bool = True
    messages: list[dict] = field(default_factory=list)  # every message, in ts order


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes")


class FakeSlack(Loopback):
    """A loopback Slack: Web API methods, file uploads, response_urls, Socket Mode."""

    def __init__(
        self,
        port: int = 0,
        *,
        channels: Iterable[str] = ("C0TEST",),
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
    ) -> None:
        self._port = port
        self.bot_token = bot_token
        self.app_token = app_token
        self._lock = threading.RLock()
        self._channels: dict[str, _Channel] = {c: _Channel() for c in channels}
        self._faults: dict[str, deque[_Fault]] = {}
        self._calls: list[Call] = []
        self._ts = 0
        self._files: dict[str, dict] = {}
        self._stopping = threading.Event()
        self._sockets: list[_WebSocket] = []
        self._acks: dict[str, dict] = {}
        self._changed = threading.Condition(self._lock)
        self._stalls: dict[str, _Stall] = {}
        self._holding = 0

    # -- lifecycle ---------------------------------------------------------------------------

    thread_name = "fake-slack"

    def _new_server(self) -> LoopbackServer:
        self._stopping.clear()
        return LoopbackServer(self._port, _Handler, self)

    def _before_stop(self) -> None:
        """Wake stalled handlers and drop Socket Mode connections."""
        self._stopping.set()
        for ws in list(self._sockets):
            ws.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake Slack is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """What `WebClient(base_url=...)` and DIGESTBOT_SLACK_API_URL take."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "cmd") -> str:
        """A slash command's response_url that lands here (recorded as method "respond")."""
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    # -- scripting -----------------------------------------------------------------------------

    def fail(self, method: str, error: str, *, times: int = 1, needed: str | None = None) -> None:
        """The next `times` calls of `method` answer ok=false with this Slack error."""
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend(_Fault(200, error, needed=needed) for _ in range(times))

    def rate_limit(self, method: str, *, retry_after: float = 1, times: int = 1) -> None:
        """The next `times` calls of `method` answer HTTP 429 with Retry-After."""
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend(_Fault(429, "ratelimited", retry_after) for _ in range(times))

    def stall(self, method: str, *, after: int, stored: bool = True) -> threading.Event:
        """Hang one call of `method`, as a crash or a dead network would leave it.

        stored=True: the `after`-th successful call is carried out (the message is in the
        channel) but its answer is withheld; stored=False: the call following it is held and
        then dropped, never carried out. Set the returned event (or stop the fake) to let go.
        """
        release = threading.Event()
        with self._lock:
            done = sum(1 for c in self._calls if c.method == method and c.response.get("ok"))
            self._stalls[method] = _Stall(done + after, stored, release)
        return release

    def add_channel(self, channel: str, *, member: bool = True) -> None:
        """A channel the workspace has; `member=False`: the bot is not in it."""
        with self._lock:
            self._channels.setdefault(channel, _Channel()).member = member

    def post_as_user(self, channel: str, text: str, user: str, thread_ts: str | None = None) -> str:
        """A message written by a person (e.g. a question in a thread); returns its ts."""
        with self._lock:
            return self._store(channel, {"user": user, "text": text}, thread_ts)["ts"]

    # -- records -------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every request received (of one method), oldest first."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def posts(self, channel: str | None = None) -> list[dict]:
        """The arguments of every chat.postMessage Slack accepted (in one channel)."""
        return [
            c.args
            for c in self.calls("chat.postMessage")
            if c.response.get("ok") and (channel is None or c.args.get("channel") == channel)
        ]

    def ephemerals(self) -> list[dict]:
        """The arguments of every accepted chat.postEphemeral."""
        return [c.args for c in self.calls("chat.postEphemeral") if c.response.get("ok")]

    def responses(self) -> list[dict]:
        """The bodies posted to response_urls."""
        return [c.args for c in self.calls("respond")]

    def messages(self, channel: str) -> list[dict]:
        """Every message in the channel, thread replies included, oldest first."""
        with self._lock:
            return [dict(m) for m in self._channels[channel].messages]

    def top_level(self, channel: str) -> list[dict]:
        """The channel's own messages (thread parents and unthreaded ones), oldest first."""
        return [m for m in self.messages(channel) if m.get("thread_ts") in (None, m["ts"])]

    def thread(self, channel: str, ts: str) -> list[dict]:
        """The replies in a thread (not the parent), oldest first."""
        return [m for m in self.messages(channel) if m.get("thread_ts") == ts and m["ts"] != ts]

    def uploaded(self, file_id: str) -> bytes:
        """The bytes uploaded for a file."""
        with self._lock:
            return self._files[file_id]["data"]

    def record(self) -> dict:
        """Everything as JSON-ready data (for `/_fake/record` and demo dumps)."""
        with self._lock:
            return {
                "channels": {c: ch.messages for c, ch in self._channels.items()},
                "calls": [asdict(c) for c in self._calls],
            }

    # -- Socket Mode -----------------------------------------------------------------------------

    def wait_connected(self, timeout: float = 5) -> bool:
        """Wait until an app holds a Socket Mode connection."""
        with self._changed:
            return self._changed.wait_for(lambda: bool(self._sockets), timeout)

    def disconnect(self) -> None:
        """Close every Socket Mode connection from the server's side."""
        with self._lock:
            sockets = list(self._sockets)
        for ws in sockets:
            ws.close()

    def send_envelope(self, kind: str, payload: dict) -> str:
        """Push an envelope ("slash_commands", "events_api") to the connected app; its id."""
        envelope_id = uuid.uuid4().hex
        message = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        with self._lock:
            if not self._sockets:
                raise RuntimeError("no app is connected over Socket Mode")
            ws = self._sockets[-1]
        ws.send_text(json.dumps(message))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 5) -> dict | None:
        """The app's acknowledgement of an envelope, or None if none came in time."""
        with self._changed:
            self._changed.wait_for(lambda: envelope_id in self._acks, timeout)
            return self._acks.get(envelope_id)

    # -- the API ---------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        self._ts += 1
        return f"{1_780_000_000 + self._ts}.{self._ts:06d}"

    def _store(self, channel: str, message: dict, thread_ts: str | None) -> dict:
        stored = {"type": "message", "ts": self._next_ts(), **message}
        if thread_ts:
            stored["thread_ts"] = thread_ts
            for parent in self._channels[channel].messages:
                if parent["ts"] == thread_ts:
                    parent["thread_ts"] = thread_ts
                    parent["reply_count"] = parent.get("reply_count", 0) + 1
        self._channels[channel].messages.append(stored)
        return stored

    def handle(
        self, method: str, args: dict[str, Any], token: str | None
    ) -> tuple[int, dict, dict]:
        """Answer one API call: (HTTP status, JSON body, extra headers)."""
        with self._lock:
            stall = self._stalls.get(method)
            done = sum(1 for c in self._calls if c.method == method and c.response.get("ok"))
            if stall is not None and done + (0 if not stall.stored else 1) == stall.at:
                del self._stalls[method]  # one call is held, once
            else:
                stall = None
        if stall is not None and not stall.stored:
            self._hold(stall)
            # The request never "reached" Slack: drop it without carrying it out.
            raise _Dropped(method)
        with self._lock:
            status, body, headers = self._answer(method, args, token)
            shown = {k: v for k, v in args.items() if k != "token"}
            self._calls.append(Call(method, shown, status, body, time.time()))
            self._changed.notify_all()
        if stall is not None and stall.stored:
            if not body.get("ok"):  # only a call Slack carried out is held
                with self._lock:
                    self._stalls.setdefault(method, stall)
                return status, body, headers
            self._hold(stall)
        return status, body, headers

    def _hold(self, stall: _Stall) -> None:
        with self._lock:
            self._holding += 1
            self._changed.notify_all()
        try:
            while not stall.release.wait(0.05) and not self._stopping.is_set():
                pass
        finally:
            with self._lock:
                self._holding -= 1

    def wait_stalled(self, timeout: float = 10) -> bool:
        """Wait until a stalled call is being held."""
        with self._changed:
            return self._changed.wait_for(lambda: self._holding > 0, timeout)

    def _answer(
        self, method: str, args: dict[str, Any], token: str | None
    ) -> tuple[int, dict, dict]:
        queue = self._faults.get(method)
        if queue:
            fault = queue.popleft()
            body: dict[str, Any] = {"ok": False, "error": fault.error}
            if fault.needed:
                body["needed"] = fault.needed
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(int(fault.retry_after))
            return fault.status, body, headers
        if method == "apps.connections.open":
            if token != self.app_token:
                return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
            return 200, {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket=1"}, {}
        if token != self.bot_token:
            return 200, {"ok": False, "error": "not_authed" if not token else "invalid_auth"}, {}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        try:
            return 200, handler(args), {}
        except _SlackError as err:
            return 200, {"ok": False, "error": str(err)}, {}

    def _channel(self, args: dict, key: str = "channel", *, write: bool = False) -> _Channel:
        channel = self._channels.get(str(args.get(key) or ""))
        if channel is None:
            raise _SlackError("channel_not_found")
        if write and not channel.member:
            raise _SlackError("not_in_channel")
        return channel

    def _find(self, channel: _Channel, ts: str) -> dict | None:
        return next((m for m in channel.messages if m["ts"] == ts), None)

    def _m_auth_test(self, args: dict) -> dict:
        return {
            "ok": True,
            "url": TEAM_URL,
            "team": "Fake Team",
            "user": "digestbot",
            "team_id": "T0FAKE",
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, args: dict) -> dict:
        channel = self._channel(args, write=True)
        text, blocks = args.get("text"), args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not text and not blocks:
            raise _SlackError("no_text")
        if text and len(text) > MAX_TEXT:
            raise _SlackError("msg_too_long")
        _check_blocks(blocks or [])
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            raise _SlackError("invalid_metadata_format")
        thread_ts = args.get("thread_ts")
        if thread_ts:
            parent = self._find(channel, thread_ts)
            if parent is None or parent.get("thread_ts") not in (None, thread_ts):
                raise _SlackError("thread_not_found")
        message = {"user": BOT_USER, "bot_id": BOT_ID, "text": text or ""}
        if blocks:
            message["blocks"] = blocks
        if metadata is not None:
            message["metadata"] = metadata
        stored = self._store(str(args["channel"]), message, thread_ts)
        return {"ok": True, "channel": args["channel"], "ts": stored["ts"], "message": stored}

    def _m_chat_postEphemeral(self, args: dict) -> dict:
        self._channel(args, write=True)
        if not args.get("user"):
            raise _SlackError("user_not_in_channel")
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not args.get("text") and not blocks:
            raise _SlackError("no_text")
        _check_blocks(blocks or [])
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_getPermalink(self, args: dict) -> dict:
        channel = self._channel(args)
        message = self._find(channel, str(args.get("message_ts") or ""))
        if message is None:
            raise _SlackError("message_not_found")
        link = f"{TEAM_URL}archives/{args['channel']}/p{message['ts'].replace('.', '')}"
        if message.get("thread_ts") not in (None, message["ts"]):
            link += f"?thread_ts={message['thread_ts']}&cid={args['channel']}"
        return {"ok": True, "channel": args["channel"], "permalink": link}

    def _shown(self, message: dict, metadata: bool) -> dict:
        shown = dict(message)
        if not metadata:
            shown.pop("metadata", None)
        return shown

    def _page(self, items: list[dict], args: dict) -> dict:
        start = int(args.get("cursor") or 0)
        limit = max(1, min(int(args.get("limit") or 100), 1000))
        page = items[start : start + limit]
        more = start + limit < len(items)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _m_conversations_history(self, args: dict) -> dict:
        channel = self._channel(args)
        metadata = _truthy(args.get("include_all_metadata"))
        top = [m for m in channel.messages if m.get("thread_ts") in (None, m["ts"])]
        return self._page([self._shown(m, metadata) for m in reversed(top)], args)

    def _m_conversations_replies(self, args: dict) -> dict:
        channel = self._channel(args)
        ts = str(args.get("ts") or "")
        parent = self._find(channel, ts)
        if parent is None:
            raise _SlackError("thread_not_found")
        metadata = _truthy(args.get("include_all_metadata"))
        thread = [parent] + [
            m for m in channel.messages if m.get("thread_ts") == ts and m is not parent
        ]
        return self._page([self._shown(m, metadata) for m in thread], args)

    def _m_files_getUploadURLExternal(self, args: dict) -> dict:
        if not args.get("filename") or not str(args.get("length") or "").isdigit():
            raise _SlackError("invalid_arguments")
        file_id = f"F{len(self._files) + 1:07d}"
        self._files[file_id] = {
            "name": args["filename"],
            "length": int(args["length"]),
            "data": None,
        }
        return {
            "ok": True,
            "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}",
            "file_id": file_id,
        }

    def upload(self, file_id: str, data: bytes) -> bool:
        """Take the bytes posted to an upload URL; False for an unknown file id."""
        with self._lock:
            entry = self._files.get(file_id)
            self._calls.append(
                Call("upload", {"file_id": file_id, "bytes": len(data)}, 200, {}, time.time())
            )
            if entry is None:
                return False
            entry["data"] = data
            return True

    def _m_files_completeUploadExternal(self, args: dict) -> dict:
        files = args.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        shared = []
        for item in files or []:
            entry = self._files.get(item.get("id", ""))
            if entry is None or entry["data"] is None:
                raise _SlackError("file_not_found")
            shared.append({"id": item["id"], "name": entry["name"], "title": item.get("title")})
        if not shared:
            raise _SlackError("invalid_arguments")
        if args.get("channel_id"):
            channel = self._channel(args, "channel_id", write=True)
            thread_ts = args.get("thread_ts")
            if thread_ts and self._find(channel, thread_ts) is None:
                raise _SlackError("thread_not_found")
            message = {
                "user": BOT_USER,
                "bot_id": BOT_ID,
                "text": args.get("initial_comment") or "",
                "files": shared,
            }
            self._store(str(args["channel_id"]), message, thread_ts)
        return {"ok": True, "files": shared}

    def respond(self, name: str, body: dict) -> None:
        """Record a body posted to a response_url."""
        with self._lock:
            self._calls.append(Call("respond", {"name": name, **body}, 200, {}, time.time()))
            self._changed.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 5) -> bool:
        """Wait until `predicate(self)` holds (it is re-checked after every request)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def _socket_ack(self, message: dict) -> None:
        with self._lock:
            self._acks[str(message.get("envelope_id"))] = message
            self._changed.notify_all()

    def _socket_open(self, ws: _WebSocket) -> None:
        with self._lock:
            self._sockets.append(ws)
            self._changed.notify_all()

    def _socket_closed(self, ws: _WebSocket) -> None:
        with self._lock:
            if ws in self._sockets:
                self._sockets.remove(ws)
            self._changed.notify_all()


class _Dropped(Exception):
    """A held request that is abandoned: the connection is closed without an answer."""


class _SlackError(Exception):
    """A Slack API error code, answered as ok=false."""


def _check_blocks(blocks: list) -> None:
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise _SlackError("invalid_blocks")
    for block in blocks:
        if not isinstance(block, dict):
            raise _SlackError("invalid_blocks")
        text = block.get("text")
        if block.get("type") == "header":
            if (
                not text
                or text.get("type") != "plain_text"
                or len(text.get("text", "")) > HEADER_LIMIT
            ):
                raise _SlackError("invalid_blocks")
        elif block.get("type") == "section":
            if not text or not 1 <= len(text.get("text", "")) <= SECTION_TEXT_LIMIT:
                raise _SlackError("invalid_blocks")
        else:
            raise _SlackError("invalid_blocks")


# -- HTTP plumbing ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the fake's record instead."""

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self._send(status, data, "application/json; charset=utf-8", headers)

    def _api(self, raw: bytes) -> None:
        split = urlsplit(self.path)
        method = split.path.removeprefix("/api/")
        args: dict[str, Any] = {k: v[-1] for k, v in parse_qs(split.query).items()}
        content_type = (self.headers.get("Content-Type") or "").lower()
        if raw and "json" in content_type:
            args.update(json.loads(raw))
        elif raw:
            args.update({k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()})
        auth = self.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ").strip() or args.get("token")
        try:
            status, body, headers = self.server.fake.handle(method, args, token)
        except _Dropped:
            self.close_connection = True
            return
        self._json(status, body, headers)

    def do_POST(self) -> None:
        raw = self._body()
        path = urlsplit(self.path).path
        if path.startswith("/api/"):
            self._api(raw)
        elif path.startswith("/upload/"):
            ok = self.server.fake.upload(path.removeprefix("/upload/"), raw)
            self._send(200 if ok else 404, b"OK" if ok else b"no such upload", "text/plain")
        elif path.startswith("/respond/"):
            self.server.fake.respond(path.removeprefix("/respond/"), json.loads(raw or b"{}"))
            self._send(200, b"ok", "text/plain")
        else:
            self._send(404, b"not found", "text/plain")

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/api/"):
            self._api(b"")
        elif path == "/_fake/record":
            self._json(200, self.server.fake.record())
        elif path == "/socket" and self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
        else:
            self._send(404, b"not found", "text/plain")

    def _websocket(self) -> None:
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        ws = _WebSocket(self.connection, self.server.fake)
        ws.serve()
        self.close_connection = True


class _WebSocket:
    """The server side of one WebSocket (RFC 6455, text frames, ping/pong, close)."""

    def __init__(self, sock: socket.socket, fake: FakeSlack) -> None:
        self.sock = sock
        self.fake = fake
        self._send_lock = threading.Lock()
        self._buffer = b""
        self._open = True

    def send_text(self, text: str) -> None:
        self._frame(0x1, text.encode("utf-8"))

    def _frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        if len(payload) < 126:
            header += bytes([len(payload)])
        elif len(payload) < 1 << 16:
            header += bytes([126]) + struct.pack("!H", len(payload))
        else:
            header += bytes([127]) + struct.pack("!Q", len(payload))
        with self._send_lock:
            self.sock.sendall(header + payload)

    def close(self) -> None:
        if self._open:
            self._open = False
            with contextlib.suppress(OSError):
                self._frame(0x8, b"")

    def _read(self, count: int) -> bytes | None:
        while len(self._buffer) < count:
            if self.fake._stopping.is_set() or not self._open:
                return None
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            self._buffer += chunk
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def serve(self) -> None:
        self.sock.settimeout(0.05)
        self.fake._socket_open(self)
        try:
            self.send_text(json.dumps({"type": "hello", "num_connections": 1}))
            while True:
                head = self._read(2)
                if head is None:
                    return
                opcode, length = head[0] & 0x0F, head[1] & 0x7F
                if length == 126:
                    length = struct.unpack("!H", self._read(2) or b"\0\0")[0]
                elif length == 127:
                    length = struct.unpack("!Q", self._read(8) or b"\0" * 8)[0]
                mask = self._read(4) if head[1] & 0x80 else b"\0\0\0\0"
                payload = self._read(length) if length else b""
                if mask is None or payload is None:
                    return
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                if opcode == 0x1:
                    self.fake._socket_ack(json.loads(data))
                elif opcode == 0x9:
                    self._frame(0xA, data)
                elif opcode == 0x8:
                    self.close()
                    return
        finally:
            self._open = False
            self.fake._socket_closed(self)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT, printing the base URL as the first line on stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.slack_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument(
        "--channel", action="append", default=[], help="channel id the bot is in (default C0TEST)"
    )
    parser.add_argument("--dump", help="write everything received to this JSON file on exit")
    args = parser.parse_args(argv)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    with FakeSlack(args.port, channels=args.channel or ["C0TEST"]) as fake:
        print(fake.base_url, flush=True)
        done.wait()
        if args.dump:
            with open(args.dump, "w", encoding="utf-8") as out:
                json.dump(fake.record(), out, indent=2, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
