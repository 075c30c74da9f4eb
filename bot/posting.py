"""Posting a digest into a channel as a parent message with its sections in a thread,
exactly once: every message goes through the post ledger.

Platform-neutral: a `Poster` (one per platform) renders the digest into parts within its
limits and sends them; this module decides what still needs sending.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.errors import ChannelMalformed, PlatformError, PlatformRefused
from digest.model import Digest
from storage import StorageError
from storage.ledger import (
    DONE,
    FAILED,
    POSTING,
    SENDING,
    SENT,
    ClaimLost,
    LedgerEntry,
    LedgerKey,
    PostLedger,
    new_owner,
)

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


_SLACK_ID = re.compile(r"[A-Z0-9]{2,}")  # C0123ABC, G..., D...: upper-case letters, digits
_DISCORD_ID = re.compile(r"[0-9]{1,20}")  # a snowflake


def split_channel(channel: str) -> tuple[str, str]:
    """'slack:C0123' -> ('slack', 'C0123'). A target that cannot be a channel id raises
    ChannelMalformed before anything is recorded or sent."""
    platform, _, channel_id = channel.partition(":")
    if not channel_id or platform not in ("slack", "discord"):
        raise ChannelMalformed(
            f"{channel!r} is not a channel: write slack:CHANNEL_ID or discord:CHANNEL_ID"
        )
    if platform == "slack" and not _SLACK_ID.fullmatch(channel_id):
        raise ChannelMalformed(
            f"{channel!r} is not a Slack channel id: write slack:CHANNEL_ID with the id "
            "(like C0123ABCD, from the channel's details), not its name"
        )
    if platform == "discord" and not _DISCORD_ID.fullmatch(channel_id):
        raise ChannelMalformed(
            f"{channel!r} is not a Discord channel id: write discord:CHANNEL_ID with the "
            "number (like 123456789012345678, from Copy Channel ID), not its name"
        )
    return platform, channel_id


class PostCutOff(PlatformError):
    """A post stopped part-way: says which parts are in the channel and which are not."""

    def __init__(
        self,
        reason: BaseException,
        channel: str,
        in_channel: list[str],
        missing: list[str],
        *,
        permanent: bool,
    ) -> None:
        self.reason = reason
        self.channel = channel
        self.in_channel = in_channel
        self.missing = missing
        self.permanent = permanent
        super().__init__(str(reason))

    def what_is_where(self) -> str:
        """One or two sentences on what readers of the channel see now."""
        if not self.in_channel:
            return f"Nothing of it reached {self.channel}."
        return (
            f"In {self.channel} now: {', '.join(self.in_channel)} "
            f"({len(self.in_channel)} of {len(self.in_channel) + len(self.missing)} messages); "
            f"not posted: {', '.join(self.missing) or 'nothing'}."
        )


class PostBusy(PlatformError):
    """Another process kept the post claimed past our wait (it is still posting it)."""


CLAIM_WAIT_SECONDS = 300.0  # how long to wait for another process's post of the same digest
CLAIM_POLL_SECONDS = 0.2


def _await_claim(ledger: PostLedger, key: LedgerKey, owner: str, wait: float, poll: float) -> None:
    deadline = time.monotonic() + wait
    while not ledger.claim(key, owner):
        if time.monotonic() >= deadline:
            raise PostBusy(
                f"another digestbot process is still posting {key.topic} to {key.channel}; "
                "try again when it is done"
            )
        time.sleep(poll)


def post_digest(
    digest: Digest,
    channel: str,
    poster: Poster,
    ledger: PostLedger,
    *,
    digest_id: int | None = None,
    force: bool = False,
    claim_wait: float = CLAIM_WAIT_SECONDS,
) -> PostOutcome:
    """Post the digest into `channel` unless it is already there; finish a post that was
    cut off; with `force`, post it again as a new thread.

    The post is claimed in the database first, so any number of processes sharing it send
    each part once: a second claimant waits for the first, then finds the parts sent. A post
    that has begun keeps its digest (the ledger's digest id), whoever finishes it. A failure
    raises PostCutOff saying what is in the channel; one the platform will never accept
    (PlatformRefused) marks the post failed, so it is listed by `digestbot posts` and not
    resumed.
    """
    platform, channel_id = split_channel(channel)
    if platform != poster.platform:
        raise PlatformError(f"{channel} is not a {poster.platform} channel")
    key = LedgerKey(channel, digest.topic, digest.since, digest.until)
    owner = new_owner()
    _await_claim(ledger, key, owner, claim_wait, CLAIM_POLL_SECONDS)
    parts: list[Part] = []
    done: dict[str, LedgerEntry] = {}
    try:
        if force:
            ledger.forget(key)
        done = ledger.entries(key)
        begun_with = next((e.digest_id for e in done.values() if e.digest_id is not None), None)
        if begun_with is not None and begun_with != digest_id:
            body = ledger.digest_body(begun_with)
            if body is not None:  # finish the thread with the messages it began with
                digest, digest_id = Digest.from_json(body), begun_with
        parts = poster.render(digest)
        outcome = _post_parts(
            digest, channel_id, poster, ledger, key, owner, parts, done, digest_id
        )
    except ClaimLost:
        raise
    except (PlatformError, StorageError) as err:
        _release_cut_off(ledger, key, owner, err)
        try:
            entries = ledger.entries(key)
        except StorageError:  # the database itself is failing: say what we know
            entries = {}
        raise _cut_off(err, channel, parts, entries) from err
    except BaseException:
        # Anything else (a bug, an interrupt): leave it resumable, not claimed by us.
        ledger.release(key, owner, POSTING, "interrupted")
        raise
    ledger.release(key, owner, DONE)
    return outcome


def _release_cut_off(ledger: PostLedger, key: LedgerKey, owner: str, err: Exception) -> None:
    state = FAILED if isinstance(err, PlatformRefused) else POSTING
    try:
        ledger.release(key, owner, state, str(err))
    except StorageError:  # the database itself failed: the lease lapses on its own
        log.exception("could not record the failed post of %s to %s", key.topic, key.channel)


def _cut_off(
    err: Exception, channel: str, parts: list[Part], entries: dict[str, LedgerEntry]
) -> PostCutOff:
    sent = {k for k, e in entries.items() if e.state == SENT} if entries else set()
    return PostCutOff(
        err,
        channel,
        [p.key for p in parts if p.key in sent],
        [p.key for p in parts if p.key not in sent],
        permanent=isinstance(err, PlatformRefused),
    )


def _post_parts(
    digest: Digest,
    channel_id: str,
    poster: Poster,
    ledger: PostLedger,
    key: LedgerKey,
    owner: str,
    parts: list[Part],
    done: dict[str, LedgerEntry],
    digest_id: int | None,
) -> PostOutcome:
    channel = key.channel
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
                    owner=owner,
                )
                return found
        # Recorded as ours before the call: only the claim holder gets past this line.
        ledger.mark(
            key, part.key, position, SENDING, thread_ref=thread, digest_id=digest_id, owner=owner
        )
        ref = poster.send(channel_id, part, thread)
        ledger.mark(
            key,
            part.key,
            position,
            SENT,
            message_ref=ref,
            thread_ref=thread,
            digest_id=digest_id,
            owner=owner,
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
            key,
            parent.key,
            0,
            SENT,
            message_ref=parent_ref,
            thread_ref=thread,
            digest_id=digest_id,
            owner=owner,
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


def post_with_retries(
    attempt: Callable[[], PostOutcome],
    delays: Sequence[float],
    sleep: Callable[[float], object] = time.sleep,
) -> PostOutcome:
    """Run a post, and again after each of `delays` seconds while it is cut off by a failure
    that may pass (a permanent refusal is not retried). Bounded: the last failure raises,
    as does one during a pause when `sleep` returns True (an Event's wait: shutting down)."""
    for pause in [*delays, None]:
        try:
            return attempt()
        except PostCutOff as err:
            if err.permanent or pause is None:
                raise
            log.warning("post cut off (%s); trying again in %.0f s", err, pause)
            if sleep(pause) is True:
                raise
    raise AssertionError("unreachable")  # the loop returns or raises
