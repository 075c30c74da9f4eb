"""Weekly posts: one persistent APScheduler cron job per subscription.

The post ledger, not the scheduler, guarantees exactly once: a job posts the window of
the week it was scheduled for through `post_digest`, which skips what is already in the
channel. APScheduler's own job store keeps the schedule across restarts; a run missed
while the bot was down runs once on start within the grace period, and beyond it the
admins are told instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.config import Subscription

log = logging.getLogger(__name__)

JOB_PREFIX = "weekly:"
JOB_FUNCTION = "bot.scheduler:run_subscription"  # by reference, so stored jobs survive restarts


def weekly_trigger(sub: Subscription) -> CronTrigger:
    """The cron trigger of a subscription: its weekday (by name; APScheduler's numbers
    start at Monday = 0, unlike cron's) at its local time in its time zone."""
    hour, minute = (int(part) for part in sub.time.split(":"))
    return CronTrigger(
        day_of_week=sub.weekday, hour=hour, minute=minute, timezone=ZoneInfo(sub.timezone)
    )


def next_fire_time(sub: Subscription, now: datetime) -> datetime:
    """When the subscription next fires after `now` (aware), in UTC."""
    fire = weekly_trigger(sub).get_next_fire_time(None, now)
    return fire.astimezone(UTC)


def last_fire_time(sub: Subscription, now: datetime) -> datetime:
    """When the subscription last fired at or before `now`, in UTC (the run a late job
    belongs to, so a job that starts late still posts the week it was scheduled for)."""
    trigger = weekly_trigger(sub)
    fire = trigger.get_next_fire_time(None, now - timedelta(days=8))
    last = fire
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return last.astimezone(UTC)


def job_id(sub: Subscription) -> str:
    return f"{JOB_PREFIX}{sub.channel}:{sub.topic}"


@dataclass(frozen=True, slots=True)
class Due:
    """A subscription's run: which subscription, and the fire time it belongs to."""

    subscription: Subscription
    scheduled_for: datetime


# The running process's handler for due subscriptions. Stored jobs reference the module
# function `run_subscription` by name (so they survive restarts); it forwards here.
_handler: Callable[[Due], None] | None = None
_handler_lock = threading.Lock()


def run_subscription(channel: str, topic: str, weekday: str, time: str, timezone: str) -> None:
    """The job APScheduler runs: hand the due subscription to the running bot."""
    sub = Subscription(channel, topic, weekday, time, timezone)
    with _handler_lock:
        handler = _handler
    if handler is None:
        raise RuntimeError("the weekly job ran before the bot registered its handler")
    handler(Due(sub, last_fire_time(sub, datetime.now(UTC))))


class WeeklyScheduler:
    """APScheduler with a persistent job store, one job per subscription."""

    def __init__(
        self,
        database_url: str,
        grace_hours: float,
        on_due: Callable[[Due], None],
        on_missed: Callable[[Subscription, datetime], None],
        on_failed: Callable[[Subscription, BaseException], None],
    ) -> None:
        self._grace = int(grace_hours * 3600)
        self._on_missed = on_missed
        self._on_failed = on_failed
        self._on_due = on_due
        self._scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=database_url)},
            job_defaults={
                "coalesce": True,  # several missed runs of one job: run it once
                "max_instances": 1,
                "misfire_grace_time": self._grace,
            },
            timezone=UTC,
        )
        self._scheduler.add_listener(self._event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)

    def start(self, subscriptions: Iterable[Subscription]) -> None:
        """Register the handler, start paused, bring the jobs in line with the
        subscriptions, then let due and missed runs happen."""
        global _handler
        with _handler_lock:
            _handler = self._on_due
        self._scheduler.start(paused=True)
        self.sync(subscriptions)
        self._scheduler.resume()

    def sync(self, subscriptions: Iterable[Subscription]) -> None:
        """Add or update a job per subscription and remove jobs of subscriptions that are
        gone. An unchanged job keeps its next run time, so a missed run is not lost."""
        wanted = {job_id(s): s for s in subscriptions}
        for job in self._scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                job.remove()
        for identifier, sub in wanted.items():
            args = [sub.channel, sub.topic, sub.weekday, sub.time, sub.timezone]
            existing = self._scheduler.get_job(identifier)
            if existing is not None and list(existing.args) == args:
                if existing.misfire_grace_time != self._grace:
                    # A stored job keeps the grace it was added with; apply today's config.
                    existing.modify(misfire_grace_time=self._grace)
                continue
            self._scheduler.add_job(
                JOB_FUNCTION,
                trigger=weekly_trigger(sub),
                args=args,
                id=identifier,
                name=f"{sub.topic} to {sub.channel}",
                replace_existing=True,
            )
            log.info(
                "scheduled %s: every %s at %s %s", identifier, sub.weekday, sub.time, sub.timezone
            )

    def jobs(self) -> list[tuple[str, datetime | None]]:
        return [(job.id, job.next_run_time) for job in self._scheduler.get_jobs()]

    def shutdown(self) -> None:
        """Stop; a post in progress is finished first (it is resumable if killed anyway)."""
        global _handler
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        with _handler_lock:
            if _handler is self._on_due:
                _handler = None

    def _event(self, event: JobExecutionEvent) -> None:
        job = self._scheduler.get_job(event.job_id)
        sub = Subscription(*job.args) if job is not None else None
        if sub is None:
            return
        if event.code == EVENT_JOB_MISSED:
            self._on_missed(sub, event.scheduled_run_time)
        elif event.exception is not None:
            self._on_failed(sub, event.exception)
