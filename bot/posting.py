"""Posting a digest into a channel as a parent message with its sections in a thread,
exactly once: every message goes through the post ledger.

Platform-neutral: a `Poster` (one per platform) renders the digest into parts within its
limits and sends them; this module decides what still needs sending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from bot.errors import PlatformError
from digest.model import Digest
from storage.ledger import SENDING, SENT, LedgerKey, PostLedger

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Part:
    """One message to send: `key` names it in the ledger ("parent", "themes", "themes#2")."""

    key: str
    payload: Any  # what the platform's API takes (Slack blocks and text, Discord content)


class Poster(Protocol):
    """One chat platform's way of sending messages. Adapters implement it; tests fake it."""

    platform: str  # "slack" or "discord": the prefix of channel names like "slack:C0123"

    def render(self, digest: Digest) -> list[Part]:
        """The parent first, then every thread message, each within the platform's limits."""
        ...

    def send(self, channel_id: str, part: Part, thread_ref: str | None) -> str:
        """Send one message (into the thread when given); return the platform's message id."""
        ...

    def open_thread(self, channel_id: str, parent_ref: str, title: str) -> str:
        """Where replies to the parent go (Slack: the parent's ts; Discord: a new thread)."""
        ...

    def find_sent(self, channel_id: str, thread_ref: str | None, part: Part) -> str | None:
        """After a crash: the id of this part if it did reach the channel, else None."""
        ...


@dataclass(frozen=True, slots=True)
class PostOutcome:
    """What a post did: how many messages it sent now, and whether it was already done."""

    sent: int
    total: int
    already_posted: bool
    thread_ref: str | None


def split_channel(channel: str) -> tuple[str, str]:
    """'slack:C0123' -> ('slack', 'C0123')."""
    platform, _, channel_id = channel.partition(":")
    if not channel_id or platform not in ("slack", "discord"):
        raise PlatformError(
            f"{channel!r} is not a channel: write slack:CHANNEL_ID or discord:CHANNEL_ID"
        )
    return platform, channel_id


def post_digest(
    digest: Digest,
    channel: str,
    poster: Poster,
    ledger: PostLedger,
    *,
    digest_id: int | None = None,
    force: bool = False,
) -> PostOutcome:
    """Post the digest into `channel` unless it is already there; finish a post that was
    cut off; with `force`, post it again as a new thread."""
    platform, channel_id = split_channel(channel)
    if platform != poster.platform:
        raise PlatformError(f"{channel} is not a {poster.platform} channel")
    key = LedgerKey(channel, digest.topic, digest.since, digest.until)
    if force:
        ledger.forget(key)
    parts = poster.render(digest)
    done = ledger.entries(key)
    if parts and all(done.get(p.key) and done[p.key].state == SENT for p in parts):
        thread = done[parts[0].key].thread_ref
        return PostOutcome(0, len(parts), already_posted=True, thread_ref=thread)
    sent = 0

    def ensure(part: Part, position: int, thread: str | None) -> str:
        nonlocal sent
        entry = done.get(part.key)
        if entry is not None and entry.state == SENT and entry.message_ref:
            return entry.message_ref
        if entry is not None and entry.state == SENDING:
            # Killed between sending and recording: ask the platform before sending again.
            found = poster.find_sent(channel_id, thread, part)
            if found:
                ledger.mark(
                    key,
                    part.key,
                    position,
                    SENT,
                    message_ref=found,
                    thread_ref=thread,
                    digest_id=digest_id,
                )
                return found
        ledger.mark(key, part.key, position, SENDING, thread_ref=thread, digest_id=digest_id)
        ref = poster.send(channel_id, part, thread)
        ledger.mark(
            key, part.key, position, SENT, message_ref=ref, thread_ref=thread, digest_id=digest_id
        )
        sent += 1
        return ref

    parent, *replies = parts
    parent_ref = ensure(parent, 0, None)
    recorded = ledger.entries(key).get(parent.key)
    thread = recorded.thread_ref if recorded and recorded.thread_ref else None
    if thread is None:
        title = f"{digest.title}, {digest.since} to {digest.until}"
        thread = poster.open_thread(channel_id, parent_ref, title)
        ledger.mark(
            key, parent.key, 0, SENT, message_ref=parent_ref, thread_ref=thread, digest_id=digest_id
        )
    for position, part in enumerate(replies, start=1):
        ensure(part, position, thread)
    log.info(
        "posted %s %s..%s to %s: %d of %d messages sent now",
        digest.topic,
        digest.since,
        digest.until,
        channel,
        sent,
        len(parts),
    )
    return PostOutcome(sent, len(parts), already_posted=False, thread_ref=thread)
