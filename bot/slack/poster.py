"""`SlackPoster`: posting into Slack channels and threads over the Web API.

It implements `bot.posting.Poster` (a digest as a parent message with its sections in the
parent's thread, through the post ledger) and the smaller sends the Bolt app needs: replies
in a thread, ephemeral messages, permalinks of our own messages.

Every digest message carries message metadata (`digestbot_part`: the ledger's part key and
the digest's topic and window), so after a crash between sending and recording,
`find_sent` can find it again with `conversations.history`/`conversations.replies` instead
of posting it twice. Posts to one channel are paced (about one a second, Slack's limit) and
serialised; a 429 is retried after its Retry-After (see `bot.slack.client`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.config import Config
from bot.errors import ConfigError
from bot.posting import Part
from bot.slack.client import Sleep, make_client, translate
from bot.slack.render import (
    METADATA_EVENT,
    SLACK_PERMALINK,
    SlackFile,
    SlackMessage,
    render_digest,
    render_messages,
)
from digest.model import Digest
from digest.render import Message

log = logging.getLogger(__name__)

Clock = Callable[[], float]

POST_INTERVAL = 1.0  # seconds between messages to one channel (Slack: about 1 a second)
HISTORY_PAGES = 5  # pages of channel history searched for a parent cut off by a crash
PAGE_SIZE = 200


class Pacer:
    """Keeps `interval` seconds between the starts of two sends to the same channel, and
    lets one send at a time into each channel (so a thread's messages stay in order)."""

    def __init__(
        self,
        interval: float = POST_INTERVAL,
        *,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.interval = interval
        self._sleep = sleep
        self._clock = clock
        self._next: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def turn(self, channel_id: str) -> Iterator[None]:
        """Wait for the channel's turn, then hold it while sending."""
        with self._guard:
            lock = self._locks.setdefault(channel_id, threading.Lock())
        with lock:
            wait = self._next.get(channel_id, 0.0) - self._clock()
            if wait > 0:
                self._sleep(wait)
            started = self._clock()
            try:
                yield
            finally:
                self._next[channel_id] = started + self.interval


class SlackPoster:
    """Posts digests and replies to Slack through a `WebClient` (platform "slack")."""

    platform = "slack"

    def __init__(
        self,
        client: WebClient,
        *,
        interval: float = POST_INTERVAL,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.client = client
        self.pacer = Pacer(interval, sleep=sleep, clock=clock)

    @classmethod
    def from_config(
        cls, config: Config, *, sleep: Sleep = time.sleep, clock: Clock = time.monotonic
    ) -> SlackPoster:
        """The poster for the configured workspace; `ConfigError` when the bot token is unset."""
        token = config.secrets.slack_bot_token
        if not token:
            raise ConfigError(
                f"${config.slack.bot_token_env} is not set: export the Slack app's Bot User "
                "OAuth Token (xoxb-...), from its OAuth & Permissions page, to post to Slack"
            )
        client = make_client(token.reveal(), config.slack.api_url, sleep=sleep)
        return cls(client, interval=config.slack.post_interval_seconds, sleep=sleep, clock=clock)

    def close(self) -> None:
        """Nothing to release: the SDK opens a connection per call."""

    # -- Poster ------------------------------------------------------------------------------

    def render(self, digest: Digest) -> list[Part]:
        """The parent, every section (split to Slack's limits), and the catalog last."""
        return render_digest(digest)

    def send(self, channel_id: str, part: Part, thread_ref: str | None) -> str:
        """Post one part (into the thread when given); its ts, or the file id for a file."""
        if isinstance(part.payload, SlackFile):
            return self.upload_file(channel_id, part.payload, thread_ref)
        return self.post_message(channel_id, part.payload, thread_ts=thread_ref)

    def open_thread(self, channel_id: str, parent_ref: str, title: str) -> str:
        """A Slack thread is the parent message's ts: replies name it as `thread_ts`."""
        return parent_ref

    def find_sent(self, channel_id: str, thread_ref: str | None, part: Part) -> str | None:
        """The ts (or file id) of this part if an earlier, cut-off run did post it."""
        if thread_ref is None:
            candidates = self._history(channel_id)  # newest first: a forced re-post wins
        else:
            candidates = list(reversed(self._replies(channel_id, thread_ref)))
        for message in candidates:
            found = _match(message, part)
            if found:
                log.info("found %s already posted in %s as %s", part.key, channel_id, found)
                return found
        return None

    # -- sending -------------------------------------------------------------------------------

    def post_message(
        self, channel_id: str, message: SlackMessage, *, thread_ts: str | None = None
    ) -> str:
        """Post a message into a channel (or a thread), paced; returns its ts."""
        kwargs: dict[str, Any] = {
            "channel": channel_id,
            "text": message.text,
            "blocks": list(message.blocks) or None,
            "thread_ts": thread_ts,
            # Never unfurl, never turn names into mentions: what we send is what shows.
            "unfurl_links": False,
            "unfurl_media": False,
            "link_names": False,
            "parse": "none",
        }
        if message.metadata is not None:
            kwargs["metadata"] = message.metadata
        with self.pacer.turn(channel_id):
            response = self._call(
                "post a message", channel_id, self.client.chat_postMessage, kwargs
            )
        return str(response["ts"])

    def post_messages(
        self, channel_id: str, messages: Sequence[SlackMessage], *, thread_ts: str | None = None
    ) -> list[str]:
        """Post several messages in order (a reply that needed splitting)."""
        return [self.post_message(channel_id, m, thread_ts=thread_ts) for m in messages]

    def post_reply(
        self, channel_id: str, messages: Sequence[Message], *, thread_ts: str | None = None
    ) -> list[str]:
        """Render neutral messages (an answer, a notice to admins) and post them in order."""
        return self.post_messages(
            channel_id, render_messages(messages, self.permalink), thread_ts=thread_ts
        )

    def post_ephemeral(
        self,
        channel_id: str,
        user: str,
        message: SlackMessage,
        *,
        thread_ts: str | None = None,
    ) -> None:
        """Show a message to one user only (help, usage, errors). Not paced: it is not a
        channel message."""
        kwargs: dict[str, Any] = {
            "channel": channel_id,
            "user": user,
            "text": message.text,
            "blocks": list(message.blocks) or None,
            "thread_ts": thread_ts,
            "link_names": False,
            "parse": "none",
        }
        self._call("show a message", channel_id, self.client.chat_postEphemeral, kwargs)

    def upload_file(self, channel_id: str, file: SlackFile, thread_ts: str | None) -> str:
        """Upload a file into the thread with a short message; returns the file id."""
        # Text goes as `content`; binary (the chart's PNG) as `file`.
        body = "file" if isinstance(file.content, bytes) else "content"
        kwargs: dict[str, Any] = {
            "channel": channel_id,
            "thread_ts": thread_ts,
            body: file.content,
            "filename": file.filename,
            "title": file.title,
            "initial_comment": file.comment,
        }
        with self.pacer.turn(channel_id):
            response = self._call("upload a file", channel_id, self.client.files_upload_v2, kwargs)
        uploaded = response.get("file") or (response.get("files") or [{}])[0]
        return str(uploaded.get("id", ""))

    def permalink(self, ref: str) -> str | None:
        """A Slack permalink for a "post:slack:CHANNEL:TS" reference to one of our messages,
        or None (the caller shows plain text)."""
        platform_channel, _, ts = ref.removeprefix("post:").rpartition(":")
        platform, _, channel_id = platform_channel.partition(":")
        if platform != "slack" or not channel_id or not ts:
            return None
        try:
            response = self.client.chat_getPermalink(channel=channel_id, message_ts=ts)
        except (SlackClientError, OSError) as err:
            log.info("no permalink for %s: %s", ref, translate(err, "link a message", channel_id))
            return None
        link = str(response.get("permalink") or "")
        return link if SLACK_PERMALINK.match(link) else None

    # -- reading back --------------------------------------------------------------------------

    def _history(self, channel_id: str) -> list[dict]:
        return self._read_pages(
            "read the channel's history", channel_id, self.client.conversations_history, {}
        )

    def _replies(self, channel_id: str, thread_ts: str) -> list[dict]:
        return self._read_pages(
            "read the thread", channel_id, self.client.conversations_replies, {"ts": thread_ts}
        )

    def _read_pages(self, action: str, channel_id: str, method, args: dict) -> list[dict]:
        """Messages (with our metadata) page by page, at most HISTORY_PAGES pages: a crash
        leaves its message among the newest, never further back."""
        messages: list[dict] = []
        cursor = None
        for _ in range(HISTORY_PAGES):
            response = self._call(
                action,
                channel_id,
                method,
                {
                    "channel": channel_id,
                    **args,
                    "include_all_metadata": True,
                    "limit": PAGE_SIZE,
                    "cursor": cursor,
                },
            )
            messages.extend(response.get("messages") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not response.get("has_more") or not cursor:
                break
        return messages

    def _call(
        self, action: str, channel_id: str, method: Callable[..., Any], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return method(**{k: v for k, v in kwargs.items() if v is not None})
        except (SlackClientError, OSError) as err:
            raise translate(err, action, channel_id, self.client.base_url) from err


def _match(message: dict, part: Part) -> str | None:
    """This message's ts (or file id) if it is the given part of the same digest."""
    payload = part.payload
    if isinstance(payload, SlackFile):
        for shared in message.get("files") or []:
            if shared.get("name") == payload.filename:
                return str(shared.get("id") or message.get("ts"))
        return None
    if not isinstance(payload, SlackMessage) or payload.metadata is None:
        return None
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return None
    if metadata.get("event_payload") != payload.metadata["event_payload"]:
        return None
    return str(message.get("ts")) if message.get("ts") else None
