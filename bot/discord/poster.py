"""Posting a digest to Discord over the REST API: the parent message in the channel, a
thread started from it, and every other part inside that thread.

`DiscordPoster` implements the synchronous `bot.posting.Poster` protocol on top of
discord.py, which is asynchronous: each call runs a coroutine on an event loop in another
thread and waits for it. In the bot that loop is the client's own (the poster borrows it,
and must then be called from a worker thread, never from the loop); for the CLI the poster
starts a loop thread of its own and logs in over REST only, with no gateway connection.

Exactly once: `bot.posting.post_digest` records every part in the ledger; here each part
carries a nonce with `enforce_nonce`, so a resend shortly after a crash is deduplicated by
Discord itself, and `find_sent` looks through the recent history of the channel or thread
for a message of ours with the part's content.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, Final, TypeVar

import discord

from bot.config import Config
from bot.discord.api import (
    is_thread_exists,
    no_mentions,
    platform_error,
    quiet_voice_warnings,
    use_api_url,
)
from bot.discord.render import Outgoing, digest_parts, reply_contents
from bot.errors import ConfigError, PlatformError
from bot.posting import Part
from digest.model import Digest
from digest.render import Message

log = logging.getLogger(__name__)

T = TypeVar("T")

# Final, so it types as the literal: Discord takes only 60, 1440, 4320 or 10080 minutes.
THREAD_ARCHIVE_MINUTES: Final = 10080  # a week: the thread stays open until the next digest
HISTORY_SCAN = 100  # recent messages searched for a part that may have been sent
CALL_TIMEOUT = 180.0  # seconds one call may take, rate-limit waits included
MAX_RATELIMIT_WAIT = 60.0  # a longer 429 fails the call instead of stalling the post
NONCE_LENGTH = 25  # Discord's maximum


def new_client(**options: Any) -> discord.Client:
    """A client that pings nobody by default and gives up on very long rate-limit waits."""
    # Intents only matter on the gateway; the defaults keep discord.py from warning about
    # a missing guilds intent.
    options.setdefault("intents", discord.Intents.default())
    quiet_voice_warnings()
    return discord.Client(
        allowed_mentions=no_mentions(), max_ratelimit_timeout=MAX_RATELIMIT_WAIT, **options
    )


def part_nonce(part: Part, channel_id: str, thread_ref: str | None) -> str:
    """The nonce of a part in a channel (and thread): the same on every attempt to send it,
    different for every other part, digest, channel or thread."""
    payload = _outgoing(part)
    identity = f"{payload.seed}|{channel_id}|{thread_ref or ''}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:NONCE_LENGTH]


def _outgoing(part: Part) -> Outgoing:
    if not isinstance(part.payload, Outgoing):
        raise TypeError(f"part {part.key!r} was not rendered for Discord")
    return part.payload


def _snowflake(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise PlatformError(
            f"{value!r} is not a Discord {what} id; ids are numbers like 123456789012345678"
        ) from None


class DiscordPoster:
    """Sends digests to Discord channels as a parent message and a thread (platform
    "discord"). Build it with `from_config` (CLI) or `borrow` (inside the bot)."""

    platform = "discord"

    def __init__(
        self,
        client: discord.Client,
        loop: asyncio.AbstractEventLoop | None,
        *,
        own_thread: threading.Thread | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> None:
        self._client = client
        self._loop = loop  # None: the client's own loop, once it runs
        self._own_thread = own_thread  # set when this poster started the loop itself
        self._timeout = timeout
        self._channels: dict[int, Any] = {}  # channel or thread id -> fetched channel
        self._closed = False

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Config) -> DiscordPoster:
        """A poster with its own loop thread, logged in over REST (no gateway).

        Raises `ConfigError` when the token is missing, `PlatformError` when Discord
        refuses it or cannot be reached."""
        token = config.secrets.discord_token
        if not token:
            raise ConfigError(
                f"${config.discord.token_env} is not set: put the bot token from the Discord "
                "Developer Portal (Bot > Token) in that environment variable"
            )
        use_api_url(config.discord.api_url)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="discord-poster", daemon=True)
        thread.start()

        async def login() -> discord.Client:
            client = new_client()
            try:
                await client.login(token.reveal())
            except BaseException:
                await client.close()
                raise
            return client

        try:
            client = asyncio.run_coroutine_threadsafe(login(), loop).result(CALL_TIMEOUT)
        except BaseException as err:
            _stop_loop(loop, thread)
            if isinstance(err, Exception):
                raise platform_error(err, "log in to Discord", config.discord.token_env) from None
            raise
        log.info("logged in to Discord as %s (REST only)", client.user)
        return cls(client, loop, own_thread=thread)

    @classmethod
    def borrow(cls, client: discord.Client) -> DiscordPoster:
        """A poster that uses the bot's client and its loop (it may be built before the bot
        starts; it works once the bot runs). Call it from worker threads, never the loop."""
        return cls(client, None)

    def close(self) -> None:
        """Log out and stop the loop, if this poster started them (a borrowed client is
        left alone); idempotent."""
        if self._own_thread is None or self._loop is None:
            return
        if self._closed:
            return
        self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(30)
        except Exception as err:  # closing must not hide the outcome of the post
            log.warning("closing the Discord client failed: %s", err)
        finally:
            _stop_loop(self._loop, self._own_thread)

    # -- the Poster protocol ------------------------------------------------------------------

    def render(self, digest: Digest) -> list[Part]:
        """The digest as Discord messages: the parent, then the thread's messages."""
        return digest_parts(digest)

    def send(self, channel_id: str, part: Part, thread_ref: str | None) -> str:
        """Send one part to the channel, or into the thread; returns the message id."""
        where = f"Discord thread {thread_ref}" if thread_ref else f"Discord channel {channel_id}"
        return self._call(self._send(channel_id, part, thread_ref), f"send to {where}")

    def open_thread(self, channel_id: str, parent_ref: str, title: str) -> str:
        """Start the digest's thread from the parent message; returns the thread's id."""
        return self._call(
            self._open_thread(channel_id, parent_ref, title),
            f"open a thread in Discord channel {channel_id}",
        )

    def find_sent(self, channel_id: str, thread_ref: str | None, part: Part) -> str | None:
        """The id of our message carrying this part in the recent history, if any."""
        where = f"Discord thread {thread_ref}" if thread_ref else f"Discord channel {channel_id}"
        return self._call(
            self._find_sent(channel_id, thread_ref, part), f"read the history of {where}"
        )

    def post_reply(
        self, channel_id: str, messages: Sequence[Message], thread_ref: str | None = None
    ) -> list[str]:
        """Send neutral messages (a notice to admins, an answer) to a channel or thread;
        returns the message ids. (The same call as the Slack poster's, for admin notices.)"""
        where = f"Discord thread {thread_ref}" if thread_ref else f"Discord channel {channel_id}"
        return self._call(
            self._send_contents(thread_ref or channel_id, reply_contents(messages)),
            f"send to {where}",
        )

    # -- coroutines on the client's loop -------------------------------------------------------

    async def _send_contents(self, channel_id: str, contents: Sequence[str]) -> list[str]:
        target = await self._channel(channel_id)
        sent = []
        for content in contents:
            message = await target.send(
                content, allowed_mentions=no_mentions(), suppress_embeds=True
            )
            sent.append(str(message.id))
        return sent

    async def _channel(self, channel_id: str) -> Any:
        """The channel or thread, fetched once: creating a thread needs its guild."""
        key = _snowflake(channel_id, "channel")
        if key not in self._channels:
            self._channels[key] = await self._client.fetch_channel(key)
        return self._channels[key]

    async def _send(self, channel_id: str, part: Part, thread_ref: str | None) -> str:
        payload = _outgoing(part)
        target = await self._channel(thread_ref or channel_id)
        file = None
        if payload.attachment is not None:
            file = discord.File(
                io.BytesIO(payload.attachment.data), filename=payload.attachment.filename
            )
        message = await target.send(
            payload.content,
            file=file,
            nonce=part_nonce(part, channel_id, thread_ref),
            allowed_mentions=no_mentions(),
            suppress_embeds=True,
        )
        return str(message.id)

    async def _open_thread(self, channel_id: str, parent_ref: str, title: str) -> str:
        channel = await self._channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            raise PlatformError(
                f"Discord channel {channel_id} is a {channel.type} channel; a digest needs a "
                "text channel where threads can be started"
            )
        parent = channel.get_partial_message(_snowflake(parent_ref, "message"))
        name = " ".join(title.split())[:100] or "Digest"
        # Either the new thread or, after a crash, the channel fetched by its id: only the
        # id is used below.
        thread: discord.abc.Snowflake
        try:
            thread = await parent.create_thread(
                name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES
            )
        except discord.HTTPException as err:
            if not is_thread_exists(err):
                raise
            # Created before a crash, but never recorded: a thread started from a message
            # has that message's id, so it can be found again.
            thread = await self._client.fetch_channel(parent.id)
        self._channels[thread.id] = thread
        return str(thread.id)

    async def _find_sent(self, channel_id: str, thread_ref: str | None, part: Part) -> str | None:
        payload = _outgoing(part)
        target = await self._channel(thread_ref or channel_id)
        me = self._client.user
        wanted = payload.content.strip()
        async for message in target.history(limit=HISTORY_SCAN):
            if me is not None and message.author.id != me.id:
                continue
            if message.content.strip() != wanted:
                continue
            # A parent that already has a thread belongs to an earlier, complete post of the
            # same digest (a forced re-post); the one cut off has none yet.
            if thread_ref is None and (message.flags.has_thread or message.thread is not None):
                continue
            return str(message.id)
        return None

    # -- running coroutines from synchronous code ----------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T], action: str) -> T:
        loop = self._loop or self._client.loop
        if (
            self._closed
            or self._client.is_closed()
            or not isinstance(loop, asyncio.AbstractEventLoop)
        ):
            coro.close()
            raise PlatformError(f"cannot {action}: the Discord connection is not running")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coro.close()
            # Waiting here for the loop we are running on would never return.
            raise RuntimeError("DiscordPoster is synchronous: call it from a worker thread")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(self._timeout)
        except PlatformError:
            raise
        except TimeoutError as err:
            future.cancel()
            raise platform_error(err, action) from None
        except Exception as err:
            raise platform_error(err, action) from err


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    if not thread.is_alive():
        loop.close()
