"""Loopback stand-in for Discord's REST API (v10), for tests and CLI demos.

The real discord.py talks to it once `Route.BASE` points here (`bot.discord.api.use_api_url`
with `fake.base_url`). It serves what the bot uses: logging in (`users/@me`,
`oauth2/applications/@me`), channels and threads, sending messages (JSON or multipart with
files), starting a thread from a message, history, typing, registering slash commands, and
the interaction callback and follow-up webhooks. It answers like Discord where that matters
to the client: `Content-Type: application/json` exactly (discord.py parses nothing else),
Discord's error bodies and codes (Missing Access 50001, Unknown Channel 10003, Invalid Form
Body 50035 for content over 2000 characters, 160004 for a second thread on a message),
`enforce_nonce` deduplication, 429s with a `Via` header and a JSON `retry_after`.

Interactions follow Discord's documented rule that the first follow-up after a deferred
("thinking") response replaces that message and keeps its visibility, whatever flags the
follow-up asks for; once the deferred message is deleted, a follow-up is a message of its
own with its own flags (this last part is our reading of Discord's behaviour).

Tests script faults (`fail`, `rate_limit`, `deny`) and stalls (`stall`: a request held, before
or after it takes effect, so a test can kill the client at that moment), and read back every
call (`calls`) and every message (`created`, `messages`). All of it is thread-safe.

Run ``python -m tests.fakes.discord_server`` for a standalone server: it prints its base URL
(``http://127.0.0.1:PORT/api/v10``) and every message it receives.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import web

API_PREFIX = "/api/v10"
GUILD_ID = 900000000000000001
CHANNEL_ID = 900000000000000010
BOT_ID = 900000000000000100  # the bot user; a bot's application has the same id
USER_ID = 900000000000000200  # a person in the guild
CONTENT_LIMIT = 2000
NONCE_LIMIT = 25
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
HAS_THREAD = 1 << 5  # message flag
EPHEMERAL = 1 << 6  # message flag

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the fake received it, and the status it answered."""

    method: str
    path: str  # after /api/v10, e.g. "/channels/900000000000000010/messages"
    query: dict[str, str]
    body: Any  # the JSON body, or a multipart request's payload_json
    files: tuple[tuple[str, bytes], ...]
    authorization: str | None
    status: int


@dataclass(frozen=True, slots=True)
class Created:
    """A message the fake created from a POST: what the client asked for, and its id."""

    id: int
    channel_id: int
    content: str
    allowed_mentions: Any
    nonce: str | None
    enforce_nonce: bool
    flags: int
    files: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Followup:
    """An interaction response or follow-up as the user would see it."""

    token: str
    content: str
    ephemeral: bool  # the visibility the message really has
    requested_flags: int
    allowed_mentions: Any
    replaced_thinking: bool  # this follow-up replaced the deferred "thinking" message


@dataclass
class _Script:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Json
    headers: dict[str, str]
    times: int


@dataclass
class _Stall:
    method: str
    pattern: re.Pattern[str]
    nth: int
    after: bool  # hold the answer after the request took effect (else before)
    reached: threading.Event = field(default_factory=threading.Event)
    seen: int = 0


@dataclass
class _Interaction:
    deferred: bool = False
    ephemeral: bool = False
    original_filled: bool = False
    original_deleted: bool = False


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(status: int, body: Any) -> web.Response:
    # Exactly "application/json": discord.py compares the header verbatim, so aiohttp's
    # json_response (which appends "; charset=utf-8") would make it treat bodies as text.
    return web.Response(
        status=status,
        body=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    )


def _error(status: int, code: int, message: str, **extra: Any) -> web.Response:
    return _json(status, {"message": message, "code": code, **extra})


class FakeDiscord:
    """A Discord REST API on 127.0.0.1 with one guild, its text channels, and a bot user."""

    def __init__(
        self,
        *,
        channels: Iterable[int] = (CHANNEL_ID,),
        guild_id: int = GUILD_ID,
        token: str | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.guild_id = guild_id
        self.token = token  # when set, other tokens get 401
        self._echo = echo
        self._lock = threading.Lock()
        self._ids = itertools.count(1_300_000_000_000_000_000)
        self._channels: dict[int, Json] = {}
        self._messages: dict[int, list[Json]] = {}
        self._message_index: dict[int, Json] = {}
        self._nonces: dict[tuple[int, int, str], Json] = {}
        self._denied: set[int] = set()
        self._calls: list[Call] = []
        self._created: list[Created] = []
        self._followups: list[Followup] = []
        self._interactions: dict[str, _Interaction] = {}
        self._commands: dict[str, list[Json]] = {}
        self._scripts: list[_Script] = []
        self._stalls: list[_Stall] = []
        self._release: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        for channel_id in channels:
            self.add_channel(channel_id)

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def start(self, port: int = 0) -> FakeDiscord:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fake-discord", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(port), loop).result(10)
        return self

    async def _serve(self, port: int) -> None:
        self._release = asyncio.Event()
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self.release()
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- set-up and scripting -----------------------------------------------------------------

    def add_channel(self, channel_id: int, name: str = "digests") -> None:
        """A guild text channel the bot can see."""
        with self._lock:
            self._channels[channel_id] = {
                "id": str(channel_id),
                "type": 0,
                "guild_id": str(self.guild_id),
                "name": name,
                "position": len(self._channels),
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "rate_limit_per_user": 0,
                "last_message_id": None,
                "default_auto_archive_duration": 1440,
            }
            self._messages.setdefault(channel_id, [])

    def deny(self, channel_id: int) -> None:
        """The bot cannot see this channel: everything on it answers 403 Missing Access."""
        with self._lock:
            self._denied.add(channel_id)

    def fail(
        self, method: str, path: str, status: int, code: int, message: str, times: int = 1
    ) -> None:
        """The next `times` requests matching `method` and the regex `path` get this error."""
        body = {"message": message, "code": code}
        with self._lock:
            self._scripts.append(_Script(method, re.compile(path), status, body, {}, times))

    def rate_limit(self, method: str, path: str, retry_after: float = 0.05, times: int = 1) -> None:
        """The next `times` matching requests get 429, the way Discord sends it (Via header,
        JSON body with retry_after)."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
        }
        headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(retry_after)))}
        with self._lock:
            self._scripts.append(_Script(method, re.compile(path), 429, body, headers, times))

    def stall(self, method: str, path: str, nth: int = 1, *, after: bool = True) -> threading.Event:
        """Hold the `nth` matching request (after it took effect, or before) until `release`.
        The returned event is set once it is held: the moment to kill the client."""
        stall = _Stall(method, re.compile(path), nth, after)
        with self._lock:
            self._stalls.append(stall)
        return stall.reached

    def release(self) -> None:
        """Let every held request finish (a "before" stall then fails with 503)."""
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    # -- what happened ------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def created(self, channel_id: int | None = None) -> list[Created]:
        """Messages created from POSTs, in order (deduplicated resends not repeated)."""
        with self._lock:
            return [c for c in self._created if channel_id is None or c.channel_id == channel_id]

    def messages(self, channel_id: int) -> list[Json]:
        """The messages of a channel or thread, oldest first, as Discord would return them."""
        with self._lock:
            return [dict(m) for m in self._messages.get(channel_id, [])]

    def threads(self, parent_id: int | None = None) -> list[Json]:
        with self._lock:
            return [
                dict(c)
                for c in self._channels.values()
                if c["type"] == 11 and (parent_id is None or int(c["parent_id"]) == parent_id)
            ]

    def followups(self, token: str | None = None) -> list[Followup]:
        with self._lock:
            return [f for f in self._followups if token is None or f.token == token]

    def commands(self, guild_id: int | None = None) -> list[Json]:
        """The slash commands last registered globally, or in a guild."""
        with self._lock:
            return list(self._commands.get(str(guild_id) if guild_id else "global", []))

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Poll until `condition()` holds (for work the client does in the background)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.01)
        return condition()

    # -- payloads the gateway would deliver (for tests) -------------------------------------------

    def user(self, user_id: int = USER_ID, name: str = "ada") -> Json:
        return {
            "id": str(user_id),
            "username": name,
            "discriminator": "0",
            "global_name": name.title(),
            "avatar": None,
            "bot": user_id == BOT_ID,
        }

    def interaction(
        self,
        name: str,
        options: dict[str, str],
        *,
        channel_id: int = CHANNEL_ID,
        user_id: int = USER_ID,
    ) -> Json:
        """An INTERACTION_CREATE payload of a slash command in a guild channel; its token is
        known to the fake, so the callback and follow-ups work."""
        interaction_id = next(self._ids)
        token = f"token-{interaction_id}"
        with self._lock:
            self._interactions[token] = _Interaction()
            channel = dict(self._channels[channel_id])
        return {
            "id": str(interaction_id),
            "application_id": str(BOT_ID),
            "type": 2,
            "token": token,
            "version": 1,
            "guild_id": str(self.guild_id),
            "channel_id": str(channel_id),
            "channel": channel,
            "locale": "en-US",
            "guild_locale": "en-US",
            "app_permissions": "309237746688",
            "attachment_size_limit": 10 * 1024 * 1024,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "member": {
                "user": self.user(user_id),
                "roles": [],
                "joined_at": _now(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": "309237746688",
            },
            "data": {
                "id": str(next(self._ids)),
                "name": name,
                "type": 1,
                "guild_id": str(self.guild_id),
                "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()],
            },
        }

    def post_user_message(
        self, channel_id: int, content: str, *, user_id: int = USER_ID, mentions_bot: bool = True
    ) -> Json:
        """A message by a person, stored in the channel (so threads can start from it), as
        the MESSAGE_CREATE payload the gateway would deliver."""
        with self._lock:
            message = self._new_message(channel_id, content, author=self.user(user_id))
            if mentions_bot:
                message["mentions"] = [self.user(BOT_ID, "digestbot")]
            return dict(message)

    # -- the HTTP side ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        method = request.method
        body: Any = None
        files: list[tuple[str, bytes]] = []
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    body = json.loads(data)
                else:
                    files.append((part.filename or "", bytes(data)))  # type: ignore[union-attr]
        elif request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        response = await self._respond(method, path, request, body, files)
        with self._lock:
            self._calls.append(
                Call(
                    method,
                    path,
                    dict(request.query),
                    body,
                    tuple(files),
                    request.headers.get("Authorization"),
                    response.status,
                )
            )
        return response

    async def _respond(
        self, method: str, path: str, request: web.Request, body: Any, files: list
    ) -> web.StreamResponse:
        public = path.startswith(("/webhooks/", "/interactions/"))  # authorised by their token
        if not public:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bot ") or (
                self.token is not None and auth != f"Bot {self.token}"
            ):
                return _error(401, 0, "401: Unauthorized")
        with self._lock:
            for script in self._scripts:
                if script.times > 0 and script.method == method and script.pattern.search(path):
                    script.times -= 1
                    response = _json(script.status, script.body)
                    response.headers.update(script.headers)
                    return response
            stall = None
            for candidate in self._stalls:
                if candidate.method == method and candidate.pattern.search(path):
                    candidate.seen += 1
                    if candidate.seen == candidate.nth:
                        stall = candidate
        if stall is None:
            return self._route(method, path, request, body, files)
        assert self._release is not None
        if stall.after:
            response = self._route(method, path, request, body, files)
            stall.reached.set()
            await self._release.wait()
            return response
        stall.reached.set()
        await self._release.wait()
        return _error(503, 0, "held by the test and released")

    def _route(
        self, method: str, path: str, request: web.Request, body: Any, files: list
    ) -> web.StreamResponse:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                with self._lock:
                    return handler(
                        self, *match.groups(), body=body, files=files, query=request.query
                    )
        return _error(404, 0, "404: Not Found")

    # Handlers run under the lock, on the server's loop.

    def _me(self, **_: Any) -> web.Response:
        return _json(
            200,
            {
                **self.user(BOT_ID, "digestbot"),
                "flags": 0,
                "mfa_enabled": False,
                "verified": True,
                "locale": "en-US",
            },
        )

    def _application(self, **_: Any) -> web.Response:
        return _json(
            200,
            {
                "id": str(BOT_ID),
                "name": "digestbot",
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": self.user(USER_ID),
                "flags": 0,
                "team": None,
                "summary": "",
                "rpc_origins": [],
            },
        )

    def _channel_or_error(self, channel_id: str) -> Json | web.Response:
        key = int(channel_id)
        if key in self._denied:
            return _error(403, 50001, "Missing Access")
        channel = self._channels.get(key)
        if channel is None:
            return _error(404, 10003, "Unknown Channel")
        return channel

    def _get_channel(self, channel_id: str, **_: Any) -> web.Response:
        found = self._channel_or_error(channel_id)
        return found if isinstance(found, web.Response) else _json(200, found)

    def _new_message(
        self,
        channel_id: int,
        content: str,
        *,
        author: Json,
        flags: int = 0,
        nonce: str | None = None,
        attachments: Iterable[tuple[str, bytes]] = (),
    ) -> Json:
        message_id = next(self._ids)
        message = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": str(self.guild_id),
            "type": 0,
            "content": content,
            "author": author,
            "attachments": [
                {
                    "id": str(next(self._ids)),
                    "filename": name,
                    "size": len(data),
                    "url": f"https://cdn.example.invalid/{message_id}/{name}",
                    "proxy_url": f"https://media.example.invalid/{message_id}/{name}",
                    "content_type": "text/markdown; charset=utf-8",
                }
                for name, data in attachments
            ],
            "embeds": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": _now(),
            "edited_timestamp": None,
            "flags": flags,
            "components": [],
        }
        if nonce is not None:
            message["nonce"] = nonce
        self._messages.setdefault(channel_id, []).append(message)
        self._message_index[message_id] = message
        channel = self._channels.get(channel_id)
        if channel is not None:
            channel["last_message_id"] = str(message_id)
            if channel["type"] == 11:
                channel["message_count"] += 1
                channel["total_message_sent"] += 1
        return message

    def _post_message(self, channel_id: str, *, body: Any, files: list, **_: Any) -> web.Response:
        found = self._channel_or_error(channel_id)
        if isinstance(found, web.Response):
            return found
        body = body or {}
        content = body.get("content") or ""
        if len(content.encode("utf-16-le")) // 2 > CONTENT_LIMIT:
            return _error(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "content": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 2000 or fewer in length.",
                            }
                        ]
                    }
                },
            )
        if not content and not files:
            return _error(400, 50006, "Cannot send an empty message")
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > NONCE_LIMIT:
            return _error(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "nonce": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 25 or fewer in length.",
                            }
                        ]
                    }
                },
            )
        key = int(channel_id)
        if nonce is not None and body.get("enforce_nonce"):
            seen = self._nonces.get((key, BOT_ID, str(nonce)))
            if seen is not None:  # Discord returns the first message instead of a duplicate
                return _json(200, seen)
        message = self._new_message(
            key,
            content,
            author=self.user(BOT_ID, "digestbot"),
            flags=int(body.get("flags") or 0),
            nonce=None if nonce is None else str(nonce),
            attachments=files,
        )
        if nonce is not None:
            self._nonces[(key, BOT_ID, str(nonce))] = message
        self._created.append(
            Created(
                id=int(message["id"]),
                channel_id=key,
                content=content,
                allowed_mentions=body.get("allowed_mentions"),
                nonce=None if nonce is None else str(nonce),
                enforce_nonce=bool(body.get("enforce_nonce")),
                flags=int(body.get("flags") or 0),
                files=tuple(files),
            )
        )
        if self._echo is not None:
            where = self._channels[key]
            label = f"thread {key}" if where["type"] == 11 else f"channel {key}"
            first = content.splitlines()[0] if content else "(file)"
            self._echo(f"{label} <- message {message['id']}: {first[:100]} ({len(content)} chars)")
        return _json(200, message)

    def _history(self, channel_id: str, *, query: Any, **_: Any) -> web.Response:
        found = self._channel_or_error(channel_id)
        if isinstance(found, web.Response):
            return found
        limit = max(1, min(100, int(query.get("limit", 50))))
        newest_first = list(reversed(self._messages.get(int(channel_id), [])))
        if "before" in query:
            newest_first = [m for m in newest_first if int(m["id"]) < int(query["before"])]
        if "after" in query:  # the oldest `limit` after it, still newest first
            newer = [m for m in newest_first if int(m["id"]) > int(query["after"])]
            return _json(200, newer[-limit:])
        return _json(200, newest_first[:limit])

    def _start_thread(
        self, channel_id: str, message_id: str, *, body: Any, **_: Any
    ) -> web.Response:
        found = self._channel_or_error(channel_id)
        if isinstance(found, web.Response):
            return found
        message = self._message_index.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            return _error(404, 10008, "Unknown Message")
        if "thread" in message:
            return _error(400, 160004, "A thread has already been created for this message")
        name = (body or {}).get("name") or ""
        duration = (body or {}).get("auto_archive_duration", 1440)
        if not 1 <= len(name) <= 100 or duration not in ARCHIVE_DURATIONS:
            return _error(400, 50035, "Invalid Form Body")
        thread = {
            "id": message_id,  # as on Discord: a thread started from a message has its id
            "type": 11,
            "guild_id": str(self.guild_id),
            "parent_id": channel_id,
            "owner_id": str(BOT_ID),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": duration,
                "archive_timestamp": _now(),
                "locked": False,
                "create_timestamp": _now(),
            },
        }
        self._channels[int(message_id)] = thread
        self._messages.setdefault(int(message_id), [])
        message["thread"] = thread
        message["flags"] = int(message.get("flags") or 0) | HAS_THREAD
        if self._echo is not None:
            self._echo(f"channel {channel_id}: thread {message_id} {name!r} started")
        return _json(201, thread)

    def _typing(self, channel_id: str, **_: Any) -> web.Response:
        found = self._channel_or_error(channel_id)
        return found if isinstance(found, web.Response) else web.Response(status=204)

    def _put_commands(
        self, app_id: str, guild_id: str | None = None, *, body: Any, **_: Any
    ) -> web.Response:
        registered = [
            {
                "id": str(next(self._ids)),
                "application_id": app_id,
                "version": "1",
                "type": 1,
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
                **command,
                **({"guild_id": guild_id} if guild_id else {}),
            }
            for command in body or []
        ]
        self._commands[guild_id or "global"] = registered
        return _json(200, registered)

    def _put_guild_commands(self, app_id: str, guild_id: str, **kwargs: Any) -> web.Response:
        return self._put_commands(app_id, guild_id, **kwargs)

    def _callback(self, interaction_id: str, token: str, *, body: Any, **_: Any) -> web.Response:
        state = self._interactions.get(token)
        if state is None:
            return _error(404, 10062, "Unknown interaction")
        if state.deferred or state.original_filled:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        kind = int((body or {}).get("type", 0))
        flags = int(((body or {}).get("data") or {}).get("flags") or 0)
        state.ephemeral = bool(flags & EPHEMERAL)
        if kind == 5:
            state.deferred = True
        elif kind == 4:
            state.original_filled = True
            data = (body or {}).get("data") or {}
            self._followups.append(
                Followup(
                    token,
                    data.get("content") or "",
                    state.ephemeral,
                    flags,
                    data.get("allowed_mentions"),
                    replaced_thinking=False,
                )
            )
        return _json(
            200,
            {
                "interaction": {
                    "id": interaction_id,
                    "type": 2,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": state.ephemeral,
                },
                "resource": {"type": kind},
            },
        )

    def _webhook_message(self, content: str, flags: int) -> Json:
        return {
            "id": str(next(self._ids)),
            "channel_id": str(CHANNEL_ID),
            "type": 0,
            "content": content,
            "author": self.user(BOT_ID, "digestbot"),
            "webhook_id": str(BOT_ID),
            "attachments": [],
            "embeds": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": _now(),
            "edited_timestamp": None,
            "flags": flags,
            "components": [],
        }

    def _followup(self, app_id: str, token: str, *, body: Any, **_: Any) -> web.Response:
        state = self._interactions.get(token)
        if state is None or not (state.deferred or state.original_filled):
            return _error(404, 10015, "Unknown Webhook")
        body = body or {}
        content = body.get("content") or ""
        if len(content.encode("utf-16-le")) // 2 > CONTENT_LIMIT:
            return _error(400, 50035, "Invalid Form Body")
        flags = int(body.get("flags") or 0)
        replaces = state.deferred and not state.original_filled and not state.original_deleted
        if replaces:  # Discord: the first follow-up fills the "thinking" message
            state.original_filled = True
            ephemeral = state.ephemeral
        else:
            ephemeral = bool(flags & EPHEMERAL)
        self._followups.append(
            Followup(token, content, ephemeral, flags, body.get("allowed_mentions"), replaces)
        )
        return _json(200, self._webhook_message(content, EPHEMERAL if ephemeral else 0))

    def _edit_original(self, app_id: str, token: str, *, body: Any, **_: Any) -> web.Response:
        state = self._interactions.get(token)
        if state is None or state.original_deleted:
            return _error(404, 10008, "Unknown Message")
        content = (body or {}).get("content") or ""
        state.original_filled = True
        self._followups.append(
            Followup(token, content, state.ephemeral, 0, (body or {}).get("allowed_mentions"), True)
        )
        return _json(200, self._webhook_message(content, EPHEMERAL if state.ephemeral else 0))

    def _delete_original(self, app_id: str, token: str, **_: Any) -> web.Response:
        state = self._interactions.get(token)
        if state is None or state.original_deleted or not (state.deferred or state.original_filled):
            return _error(404, 10008, "Unknown Message")
        state.original_deleted = True
        return web.Response(status=204)

    _ID = r"(\d+)"
    _routes: ClassVar[list[tuple[str, re.Pattern[str], Callable[..., web.StreamResponse]]]] = [
        ("GET", re.compile(r"/users/@me"), _me),
        ("GET", re.compile(r"/oauth2/applications/@me"), _application),
        ("GET", re.compile(rf"/channels/{_ID}"), _get_channel),
        ("POST", re.compile(rf"/channels/{_ID}/messages"), _post_message),
        ("GET", re.compile(rf"/channels/{_ID}/messages"), _history),
        ("POST", re.compile(rf"/channels/{_ID}/messages/{_ID}/threads"), _start_thread),
        ("POST", re.compile(rf"/channels/{_ID}/typing"), _typing),
        ("PUT", re.compile(rf"/applications/{_ID}/commands"), _put_commands),
        ("PUT", re.compile(rf"/applications/{_ID}/guilds/{_ID}/commands"), _put_guild_commands),
        ("POST", re.compile(rf"/interactions/{_ID}/([^/]+)/callback"), _callback),
        ("POST", re.compile(rf"/webhooks/{_ID}/([^/]+)"), _followup),
        ("PATCH", re.compile(rf"/webhooks/{_ID}/([^/]+)/messages/@original"), _edit_original),
        ("DELETE", re.compile(rf"/webhooks/{_ID}/([^/]+)/messages/@original"), _delete_original),
    ]


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted, printing the base URL and every message received."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any)")
    parser.add_argument(
        "--channel", type=int, action="append", help=f"a text channel id (default {CHANNEL_ID})"
    )
    args = parser.parse_args(argv)
    channels = args.channel or [CHANNEL_ID]
    fake = FakeDiscord(channels=channels, echo=lambda line: print(line, flush=True))
    fake.start(args.port)
    print(fake.base_url, flush=True)
    print(
        f"guild {fake.guild_id}, channels {', '.join(map(str, channels))}; any token is "
        "accepted. Ctrl-C to stop.",
        file=sys.stderr,
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "BOT_ID",
    "CHANNEL_ID",
    "GUILD_ID",
    "USER_ID",
    "Call",
    "Created",
    "FakeDiscord",
    "Followup",
    "main",
]
