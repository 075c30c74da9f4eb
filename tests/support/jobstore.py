"""Test helper: a job store as a previous bot process left it, with a run still pending."""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bot.config import Subscription
from bot.scheduler import JOB_FUNCTION, job_id, weekly_trigger


def record_pending_job(
    url: str, sub: Subscription, next_run: datetime, grace_seconds: int = 12 * 3600
) -> None:
    """Write the subscription's job with `next_run` (in the past: missed while down) straight
    into the store: a scheduler being shut down would process a due job on its way out."""
    owner = BackgroundScheduler(timezone=UTC)
    store = SQLAlchemyJobStore(url=url)
    store.start(owner, "default")
    store.add_job(
        Job(
            owner,
            id=job_id(sub),
            func=JOB_FUNCTION,
            trigger=weekly_trigger(sub),
            executor="default",
            args=[sub.channel, sub.topic, sub.weekday, sub.time, sub.timezone],
            kwargs={},
            name="previous process",
            misfire_grace_time=grace_seconds,
            coalesce=True,
            max_instances=1,
            next_run_time=next_run,
        )
    )
    store.shutdown()
