"""The running bot's posting duties: weekly runs, resuming cut-off posts, telling admins.

Shared by the scheduler (weekly runs), the chat adapters (/digest in a channel) and
start-up (resume). One lock per (channel, topic, window), so two triggers for the same
post cannot race each other into two threads; the ledger makes it exactly once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.config import Subscription
from bot.errors import BotError, ChannelMalformed, PlatformError
from bot.posting import (
    PostCutOff,
    Poster,
    PostOutcome,
    post_digest,
    post_with_retries,
    split_channel,
)
from bot.scheduler import Due
from digest.errors import DigestError
from digest.model import Digest
from digest.service import DigestService
from digest.windows import Window, default_window
from storage import StorageError
from storage.ledger import ClaimLost, LedgerKey, PostLedger

log = logging.getLogger(__name__)

Notifier = Callable[[str], None]
RETRY_DELAYS = (30.0, 120.0, 600.0)  # back-off before finishing a cut-off weekly post


class Runtime:
    """Builds and posts digests for the running bot, exactly once per channel and window."""

    def __init__(
        self,
        service: DigestService,
        ledger: PostLedger,
        posters: dict[str, Poster],
        notify_admins: Notifier,
        window_days: int = 7,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.service = service
        self.ledger = ledger
        self.posters = posters
        self.notify_admins = notify_admins
        self.window_days = window_days
        self.retry_delays = tuple(retry_delays)
        self._stopping = threading.Event()
        # Pauses between retries end at once on stop(), so shutdown is not held up.
        self._sleep = sleep or self._stopping.wait
        self._locks: dict[LedgerKey, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def stop(self) -> None:
        """Cut short any back-off in progress (the bot is shutting down)."""
        self._stopping.set()

    def _lock(self, key: LedgerKey) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def digest_for(self, key: LedgerKey) -> tuple[Digest, int | None]:
        """The digest to post for this key: the one a started post used (so a resumed
        thread gets the same messages), else a fresh one."""
        for entry in self.ledger.entries(key).values():
            if entry.digest_id is not None:
                stored = self.service.corpus.get_digest(entry.digest_id)
                if stored is not None:
                    return Digest.from_json(stored.body), stored.id
        digest = self.service.build(key.topic, Window(key.since, key.until))
        stored = self.service.corpus.latest_digest(key.topic, key.since, key.until)
        return digest, stored.id if stored else None

    def post(
        self,
        topic: str,
        channel: str,
        window: Window,
        *,
        force: bool = False,
        digest: Digest | None = None,
        digest_id: int | None = None,
    ) -> PostOutcome:
        """Post (or finish posting) topic's digest of the window to the channel."""
        platform, _ = split_channel(channel)
        poster = self.posters.get(platform)
        if poster is None:
            raise PlatformError(
                f"no {platform} connection is running, so {channel} cannot be posted to"
            )
        key = LedgerKey(channel, topic, window.since, window.until)
        with self._lock(key):
            if digest is None or (self.ledger.entries(key) and not force):
                digest, digest_id = self.digest_for(key)
            return post_digest(
                digest, channel, poster, self.ledger, digest_id=digest_id, force=force
            )

    def run_due(self, due: Due) -> None:
        """A weekly run: the window of the week it was scheduled for, posted once."""
        sub = due.subscription
        window = default_window(due.scheduled_for, self.window_days)
        try:
            # A post cut off by a passing failure is finished here, after a bounded back-off,
            # rather than left half-posted until the next restart.
            outcome = post_with_retries(
                lambda: self.post(sub.topic, sub.channel, window), self.retry_delays, self._sleep
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
        for key in self.ledger.unfinished():
            try:
                self.post(key.topic, key.channel, Window(key.since, key.until))
                resumed += 1
            except ChannelMalformed as err:
                # Recorded by an older version: it can never be posted, so stop resuming it.
                self.ledger.fail(key, str(err))
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
