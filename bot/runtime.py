"""The running bot's duties: weekly runs, resuming cut-off posts, telling admins.

The scheduler calls `run_due`, `missed` and `failed`; start-up calls `resume_unfinished`.
Posting itself, and its locks, belong to the `Publisher` the chat adapters share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.config import Subscription
from bot.errors import BotError
from bot.publisher import Publisher
from bot.scheduler import Due
from digest.errors import DigestError
from digest.windows import Window, default_window
from storage import StorageError

log = logging.getLogger(__name__)

Notifier = Callable[[str], None]


class Runtime:
    """The running bot's weekly duties; every post goes through the one `Publisher`."""

    def __init__(
        self,
        publisher: Publisher,
        notify_admins: Notifier,
        window_days: int = 7,
    ) -> None:
        self.publisher = publisher
        self.notify_admins = notify_admins
        self.window_days = window_days

    def run_due(self, due: Due) -> None:
        """A weekly run: the window of the week it was scheduled for, posted once."""
        sub = due.subscription
        window = default_window(due.scheduled_for, self.window_days)
        try:
            outcome = self.publisher.publish(sub.topic, window, sub.channel).outcome
        except (DigestError, StorageError, BotError) as err:
            log.error("weekly %s to %s failed: %s", sub.topic, sub.channel, err)
            self.notify_admins(
                f"The weekly {sub.topic} digest for {window} could not be posted to "
                f"{sub.channel}: {err} Nothing half-done was left; the next run tries again."
            )
            return
        if outcome.already_posted:
            log.info("weekly %s to %s: already posted", sub.topic, sub.channel)

    def missed(self, sub: Subscription, scheduled: datetime) -> None:
        """A run missed by more than the grace period (the bot was down): say so."""
        log.warning("missed the weekly %s to %s due %s", sub.topic, sub.channel, scheduled)
        self.notify_admins(
            f"The weekly {sub.topic} digest due {scheduled:%Y-%m-%d %H:%M UTC} for "
            f"{sub.channel} was skipped: the bot was down past the grace period. Run "
            f"/digest {sub.topic} in that channel to post it now."
        )

    def failed(self, sub: Subscription, error: BaseException) -> None:
        log.error("weekly %s to %s raised: %r", sub.topic, sub.channel, error)
        self.notify_admins(f"The weekly {sub.topic} digest for {sub.channel} failed: {error}")

    def resume_unfinished(self) -> int:
        """Finish every post a crash cut off; returns how many were resumed."""
        resumed = 0
        for key in self.publisher.ledger.unfinished():
            try:
                self.publisher.publish(key.topic, Window(key.since, key.until), key.channel)
                resumed += 1
            except (DigestError, StorageError, BotError) as err:
                log.error("could not resume %s to %s: %s", key.topic, key.channel, err)
        return resumed
