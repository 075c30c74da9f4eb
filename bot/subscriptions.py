"""The bot's subscriptions: the config file's and the ones made in chat, as one list."""

from __future__ import annotations

from collections.abc import Iterable

from bot.config import Subscription
from storage.subscriptions import StoredSubscription


def merge_subscriptions(
    configured: Iterable[Subscription], stored: Iterable[StoredSubscription]
) -> list[Subscription]:
    """Config subscriptions, then chat ones; one per (channel, topic), and a chat one wins
    over the config's for the same channel and topic (it is the newer word). What the
    scheduler runs and what `/digest status` lists, so the two never disagree."""
    merged = {(s.channel, s.topic): s for s in configured}
    for s in stored:
        merged[(s.channel, s.topic)] = Subscription(
            s.channel, s.topic, s.weekday, s.time, s.timezone
        )
    return list(merged.values())
