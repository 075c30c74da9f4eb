"""The post ledger: which messages of which digest went to which channel, and where.

Each message is recorded as "sending" before the platform call and "sent" (with the
platform's message id) after it. A re-run skips what is sent; a crash leaves at most one
row in "sending", which the poster checks against the platform before sending again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from storage.corpus import Corpus

SENDING = "sending"
SENT = "sent"


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


class PostLedger:
    """Reads and writes the post ledger of a corpus."""

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus

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
    ) -> None:
        """Record a message's state; one committed transaction, so a crash keeps it."""
        with self._corpus.writing() as db:
            db["post_ledger"].upsert(
                {
                    "channel": key.channel,
                    "topic": key.topic,
                    "since": key.since.isoformat(),
                    "until": key.until.isoformat(),
                    "part": part,
                    "position": position,
                    "state": state,
                    "message_ref": message_ref,
                    "thread_ref": thread_ref,
                    "digest_id": digest_id,
                    "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
                pk=("channel", "topic", "since", "until", "part"),
            )

    def forget(self, key: LedgerKey) -> None:
        """Drop the record of this digest in this channel (a forced re-post starts anew)."""
        where, params = self._where(key)
        with self._corpus.writing() as db:
            db.execute(f"DELETE FROM post_ledger WHERE {where}", params)

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
        """Digests whose thread was started but not completed (for resuming on start-up)."""
        with self._corpus.reading() as db:
            rows = list(
                db.query(
                    "SELECT DISTINCT channel, topic, since, until FROM post_ledger "
                    "WHERE state = ? ORDER BY since",
                    [SENDING],
                )
            )
        return [
            LedgerKey(
                r["channel"],
                r["topic"],
                date.fromisoformat(r["since"]),
                date.fromisoformat(r["until"]),
            )
            for r in rows
        ]
