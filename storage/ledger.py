"""The post ledger: which messages of which digest went to which channel, and where.

Each message is recorded as "sending" before the platform call and "sent" (with the
platform's message id) after it. A re-run skips what is sent; a crash leaves at most one
row in "sending", which the poster checks against the platform before sending again.

Across processes, a post is claimed first (`claim`): one row per digest per channel with an
owner and a lease, taken in a BEGIN IMMEDIATE transaction, so of any number of processes
sharing the database only the claim holder marks and sends parts (`mark` with `owner`
checks the claim in the same transaction). The lease lapses when it is not renewed, and at
once when the owner was a process on this host that has died.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from storage.corpus import Corpus
from storage.errors import StorageError

if TYPE_CHECKING:  # loaded only when a write needs it (storage.lazydb)
    import sqlite_utils

SENDING = "sending"
SENT = "sent"

# States of a claimed post (the post_claims table).
POSTING = "posting"  # begun, not every part sent: resumable
DONE = "done"
FAILED = "failed"  # the platform refused for good: listed by `digestbot posts`, not resumed

LEASE_SECONDS = 120.0  # renewed before every message, so only a stuck or dead owner lapses


class ClaimLost(StorageError):
    """Another process took over this post (our lease lapsed); stop sending at once."""


def new_owner() -> str:
    """A claim owner name unique to this call: host, process id and a random token."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_alive(owner: str) -> bool:
    """Whether the process that holds a claim may still be running (only a process on this
    host can be checked; others count as alive until their lease lapses)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class LedgerKey:
    """One digest in one channel."""

    channel: str
    topic: str
    since: date
    until: date


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    part: str
    position: int
    state: str
    message_ref: str | None
    thread_ref: str | None
    digest_id: int | None


@dataclass(frozen=True, slots=True)
class PostRecord:
    """A claimed post as `digestbot posts` lists it."""

    id: int
    key: LedgerKey
    state: str
    error: str
    updated_at: str
    sent: int  # messages of it in the channel


class PostLedger:
    """Reads and writes the post ledger of a corpus."""

    def __init__(self, corpus: Corpus, lease_seconds: float = LEASE_SECONDS) -> None:
        self._corpus = corpus
        self.lease_seconds = lease_seconds

    # -- claims across processes ------------------------------------------------------------

    def claim(self, key: LedgerKey, owner: str) -> bool:
        """Take the post for `owner` unless a live owner holds it; True when taken. Atomic
        across processes (BEGIN IMMEDIATE): of two claimants, one wins."""
        where, params = self._where(key)
        now = time.time()
        with self._corpus.immediate() as db:
            row = db.conn.execute(
                f"SELECT owner, lease_until FROM post_claims WHERE {where}", params
            ).fetchone()
            if row is None:
                db.conn.execute(
                    "INSERT INTO post_claims (channel, topic, since, until, state, owner, "
                    "lease_until, error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?)",
                    [*params, POSTING, owner, now + self.lease_seconds, _now()],
                )
                return True
            holder, lease_until = row
            if holder and holder != owner and lease_until > now and owner_alive(holder):
                return False
            db.conn.execute(
                f"UPDATE post_claims SET owner = ?, lease_until = ?, updated_at = ? WHERE {where}",
                [owner, now + self.lease_seconds, _now(), *params],
            )
            return True

    def renew(self, key: LedgerKey, owner: str) -> None:
        """Extend `owner`'s lease; raises ClaimLost when another process has taken over."""
        where, params = self._where(key)
        with self._corpus.immediate() as db:
            self._hold(db, key, owner)
            db.conn.execute(
                f"UPDATE post_claims SET lease_until = ? WHERE {where}",
                [time.time() + self.lease_seconds, *params],
            )

    def release(self, key: LedgerKey, owner: str, state: str, error: str = "") -> None:
        """Give the claim up, recording how the post stands (POSTING, DONE or FAILED). A
        claim already taken over is left to its new owner."""
        where, params = self._where(key)
        with self._corpus.immediate() as db:
            db.conn.execute(
                f"UPDATE post_claims SET owner = NULL, lease_until = 0, state = ?, error = ?, "
                f"updated_at = ? WHERE {where} AND owner = ?",
                [state, error, _now(), *params, owner],
            )

    def fail(self, key: LedgerKey, error: str) -> None:
        """Record a post as failed for good without a claim (a target found malformed when
        resuming an old record): it is then listed, not resumed."""
        where, params = self._where(key)
        with self._corpus.immediate() as db:
            db.conn.execute(
                "INSERT OR IGNORE INTO post_claims (channel, topic, since, until, state, owner, "
                "lease_until, error, updated_at) VALUES (?, ?, ?, ?, ?, NULL, 0, ?, ?)",
                [*params, FAILED, error, _now()],
            )
            db.conn.execute(
                f"UPDATE post_claims SET state = ?, error = ?, owner = NULL, updated_at = ? "
                f"WHERE {where}",
                [FAILED, error, _now(), *params],
            )

    def _hold(self, db: sqlite_utils.Database, key: LedgerKey, owner: str) -> None:
        where, params = self._where(key)
        row = db.conn.execute(f"SELECT owner FROM post_claims WHERE {where}", params).fetchone()
        if row is None or row[0] != owner:
            raise ClaimLost(
                f"another digestbot process took over posting {key.topic} to {key.channel}"
            )

    def posts(self, states: tuple[str, ...] = (POSTING, FAILED)) -> list[PostRecord]:
        """Claimed posts in these states (pending and failed, by default), oldest first."""
        marks = ",".join("?" * len(states))
        with self._corpus.reading() as db:
            rows = list(
                db.query(
                    "SELECT c.*, (SELECT count(*) FROM post_ledger l WHERE l.channel = c.channel "
                    "AND l.topic = c.topic AND l.since = c.since AND l.until = c.until "
                    f"AND l.state = 'sent') AS sent FROM post_claims c WHERE c.state IN ({marks}) "
                    "ORDER BY c.id",
                    list(states),
                )
            )
        return [
            PostRecord(
                id=r["id"],
                key=_key(r),
                state=r["state"],
                error=r["error"],
                updated_at=r["updated_at"],
                sent=r["sent"],
            )
            for r in rows
        ]

    def clear(self, post_id: int) -> LedgerKey | None:
        """Drop a pending or failed post so it is neither resumed nor listed; the messages
        already in the channel keep their record. None when there is no such post."""
        with self._corpus.immediate() as db:
            row = db.conn.execute(
                "SELECT channel, topic, since, until FROM post_claims WHERE id = ? AND state != ?",
                [post_id, DONE],
            ).fetchone()
            if row is None:
                return None
            key = _key(dict(zip(("channel", "topic", "since", "until"), row, strict=True)))
            where, params = self._where(key)
            db.conn.execute(f"DELETE FROM post_claims WHERE {where}", params)
            db.conn.execute(
                f"DELETE FROM post_ledger WHERE {where} AND state = ?", [*params, SENDING]
            )
        return key

    def digest_body(self, digest_id: int) -> dict | None:
        """The stored JSON of a digest a post began with (so a resumed post sends it)."""
        stored = self._corpus.get_digest(digest_id)
        return stored.body if stored else None

    @staticmethod
    def _where(key: LedgerKey) -> tuple[str, list[str]]:
        return (
            "channel = ? AND topic = ? AND since = ? AND until = ?",
            [key.channel, key.topic, key.since.isoformat(), key.until.isoformat()],
        )

    def entries(self, key: LedgerKey) -> dict[str, LedgerEntry]:
        """Every recorded message of this digest in this channel, by part."""
        where, params = self._where(key)
        with self._corpus.reading() as db:
            rows = list(
                db.query(f"SELECT * FROM post_ledger WHERE {where} ORDER BY position", params)
            )
        return {
            row["part"]: LedgerEntry(
                part=row["part"],
                position=row["position"],
                state=row["state"],
                message_ref=row["message_ref"],
                thread_ref=row["thread_ref"],
                digest_id=row["digest_id"],
            )
            for row in rows
        }

    def mark(
        self,
        key: LedgerKey,
        part: str,
        position: int,
        state: str,
        *,
        message_ref: str | None = None,
        thread_ref: str | None = None,
        digest_id: int | None = None,
        owner: str | None = None,
    ) -> None:
        """Record a message's state; one committed transaction, so a crash keeps it. With
        `owner`, only while that owner holds the post's claim (else ClaimLost), checked in
        the same transaction, and its lease is renewed."""
        with self._corpus.immediate() as db:
            if owner is not None:
                self._hold(db, key, owner)
                where, params = self._where(key)
                db.conn.execute(
                    f"UPDATE post_claims SET lease_until = ? WHERE {where}",
                    [time.time() + self.lease_seconds, *params],
                )
            db.conn.execute(
                "INSERT OR REPLACE INTO post_ledger (channel, topic, since, until, part, "
                "position, state, message_ref, thread_ref, digest_id, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    key.channel,
                    key.topic,
                    key.since.isoformat(),
                    key.until.isoformat(),
                    part,
                    position,
                    state,
                    message_ref,
                    thread_ref,
                    digest_id,
                    _now(),
                ],
            )

    def forget(self, key: LedgerKey) -> None:
        """Drop the record of this digest in this channel (a forced re-post starts anew)."""
        where, params = self._where(key)
        with self._corpus.writing() as db:
            db.conn.execute(f"DELETE FROM post_ledger WHERE {where}", params)

    def find_thread(self, channel: str, thread_ref: str) -> tuple[LedgerKey, int | None] | None:
        """The digest posted in this thread of this channel, and its stored digest id."""
        with self._corpus.reading() as db:
            rows = list(
                db.query(
                    "SELECT channel, topic, since, until, digest_id FROM post_ledger "
                    "WHERE channel = ? AND (thread_ref = ? OR message_ref = ?) LIMIT 1",
                    [channel, thread_ref, thread_ref],
                )
            )
        if not rows:
            return None
        r = rows[0]
        key = LedgerKey(
            r["channel"], r["topic"], date.fromisoformat(r["since"]), date.fromisoformat(r["until"])
        )
        return key, r["digest_id"]

    def unfinished(self) -> list[LedgerKey]:
        """Digests whose post was begun but not completed, for resuming: a claim still
        "posting" (even one cut off before its first message was recorded) or a message
        left "sending". Posts that failed for good, and posts a live process is working on
        now, are not among them."""
        now = time.time()
        with self._corpus.reading() as db:
            claims = list(
                db.query("SELECT * FROM post_claims WHERE state = ? ORDER BY since", [POSTING])
            )
            # Rows left "sending" by a version without claims; where a claim exists, it
            # alone says whether the post is finished.
            sending = list(
                db.query(
                    "SELECT DISTINCT l.channel, l.topic, l.since, l.until FROM post_ledger l "
                    "WHERE l.state = ? AND NOT EXISTS (SELECT 1 FROM post_claims c WHERE "
                    "c.channel = l.channel AND c.topic = l.topic AND c.since = l.since AND "
                    "c.until = l.until) ORDER BY l.since",
                    [SENDING],
                )
            )
        keys: dict[LedgerKey, None] = {}
        for r in claims:
            held = r["owner"] and r["lease_until"] > now and owner_alive(r["owner"])
            if not held:
                keys[_key(r)] = None
        for r in sending:
            keys[_key(r)] = None
        return sorted(keys, key=lambda k: (k.since, k.channel, k.topic))


def _key(row: dict) -> LedgerKey:
    return LedgerKey(
        row["channel"],
        row["topic"],
        date.fromisoformat(row["since"]),
        date.fromisoformat(row["until"]),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
