"""The running bot's duties: weekly runs, resuming cut-off posts, telling admins.

The scheduler calls `run_due`, `missed` and `failed`; start-up calls `resume_unfinished`.
Posting itself, and its locks, belong to the `Publisher` the chat adapters share.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.config import Subscription
from bot.errors import BotError, ChannelMalformed
from bot.posting import PostCutOff, post_with_retries
from bot.publisher import Publisher
from bot.scheduler import Due
from digest.errors import DigestError
from digest.windows import Window, default_window
from storage import StorageError
from storage.ledger import ClaimLost

log = logging.getLogger(__name__)

Notifier = Callable[[str], None]
RETRY_DELAYS = (30.0, 120.0, 600.0)  # back-off before finishing a cut-off weekly post


class Runtime:
    """The running bot's weekly duties; every post goes through the one `Publisher`."""

    def __init__(
        self,
        publisher: Publisher,
        notify_admins: Notifier,
        window_days: int = 7,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.publisher = publisher
        self.notify_admins = notify_admins
        self.window_days = window_days
        self.retry_delays = tuple(retry_delays)
        self._stopping = threading.Event()
        # Pauses between retries end at once on stop(), so shutdown is not held up.
        self._sleep = sleep or self._stopping.wait

    def stop(self) -> None:
        """Cut short any back-off in progress (the bot is shutting down)."""
        self._stopping.set()

    def run_due(self, due: Due) -> None:
        """A weekly run: the window of the week it was scheduled for, posted once."""
        sub = due.subscription
        window = default_window(due.scheduled_for, self.window_days)
        try:
            # A post cut off by a passing failure is finished here, after a bounded back-off,
            # rather than left half-posted until the next restart.
            outcome = post_with_retries(
                lambda: self.publisher.publish(sub.topic, window, sub.channel).outcome,
                self.retry_delays,
                self._sleep,
            )
        except ClaimLost as err:  # another process took the post over and finishes it
            log.warning("weekly %s to %s: %s", sub.topic, sub.channel, err)
            return
        except PostCutOff as err:
            log.error("weekly %s to %s cut off: %s", sub.topic, sub.channel, err)
            later = (
                "It will not be retried: fix that, then run `digestbot posts` to see it."
                if err.permanent
                else "It will be finished at the next start, or by /digest "
                f"{sub.topic} in that channel."
            )
            self.notify_admins(
                f"The weekly {sub.topic} digest for {window} could not be fully posted to "
                f"{sub.channel}: {err} {err.what_is_where()} {later}"
            )
            return
        except (DigestError, StorageError, BotError) as err:
            log.error("weekly %s to %s failed: %s", sub.topic, sub.channel, err)
            self.notify_admins(
                f"The weekly {sub.topic} digest for {window} could not be posted to "
                f"{sub.channel}: {err} Nothing of it was posted; the next run tries again."
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
            except ChannelMalformed as err:
                # Recorded by an older version: it can never be posted, so stop resuming it.
                self.publisher.ledger.fail(key, str(err))
                log.error("not resuming %s to %s: %s", key.topic, key.channel, err)
            except PostCutOff as err:
                log.error(
                    "could not resume %s to %s: %s %s%s",
                    key.topic,
                    key.channel,
                    err,
                    err.what_is_where(),
                    " Marked failed: see digestbot posts." if err.permanent else "",
                )
            except (DigestError, StorageError, BotError) as err:
                log.error("could not resume %s to %s: %s", key.topic, key.channel, err)
        return resumed
