"""Weekly digest subscriptions added from chat (config subscriptions live in the config)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from storage.corpus import Corpus


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    channel: str
    topic: str
    weekday: str
    time: str
    timezone: str
    created_by: str


class SubscriptionStore:
    """Subscriptions in the corpus database, one per (channel, topic)."""

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus

    def add(self, sub: StoredSubscription) -> None:
        """Add or replace the subscription of this channel to this topic."""
        with self._corpus.writing() as db:
            db.table("subscriptions").upsert(
                {
                    "channel": sub.channel,
                    "topic": sub.topic,
                    "weekday": sub.weekday,
                    "time": sub.time,
                    "timezone": sub.timezone,
                    "created_by": sub.created_by,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
                pk=("channel", "topic"),
            )

    def remove(self, channel: str, topic: str | None = None) -> int:
        """Remove the channel's subscription to `topic` (or all of them); returns how many."""
        sql, params = "DELETE FROM subscriptions WHERE channel = ?", [channel]
        if topic is not None:
            sql += " AND topic = ?"
            params.append(topic)
        with self._corpus.writing() as db:
            return db.execute(sql, params).rowcount

    def all(self) -> list[StoredSubscription]:
        with self._corpus.reading() as db:
            rows = list(db.query("SELECT * FROM subscriptions ORDER BY channel, topic"))
        return [
            StoredSubscription(
                r["channel"], r["topic"], r["weekday"], r["time"], r["timezone"], r["created_by"]
            )
            for r in rows
        ]
