"""Weekly schedules: fire times across daylight-saving switches, persistence across
restarts, and runs missed while the bot was down (within and beyond the grace period)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Subscription
from bot.scheduler import (
    Due,
    WeeklyScheduler,
    job_id,
    last_fire_time,
    next_fire_time,
)
from tests.support.jobstore import record_pending_job


def monday_nine(tz: str) -> Subscription:
    return Subscription("slack:C1", "post-train", "mon", "09:00", tz)


class TestFireTimes:
    @pytest.mark.parametrize(
        ("tz", "now", "expected"),
        [
            # Berlin: CET (UTC+1) until Sunday 2026-03-29, then CEST (UTC+2)
            (
                "Europe/Berlin",
                datetime(2026, 3, 20, tzinfo=UTC),
                datetime(2026, 3, 23, 8, 0, tzinfo=UTC),
            ),
            (
                "Europe/Berlin",
                datetime(2026, 3, 27, tzinfo=UTC),
                datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
            ),
            # ... and back to CET on Sunday 2026-10-25
            (
                "Europe/Berlin",
                datetime(2026, 10, 23, tzinfo=UTC),
                datetime(2026, 10, 26, 8, 0, tzinfo=UTC),
            ),
            # New York: EST (UTC-5) until 2026-03-08, EDT (UTC-4) until 2026-11-01
            (
                "America/New_York",
                datetime(2026, 3, 6, tzinfo=UTC),
                datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
            ),
            (
                "America/New_York",
                datetime(2026, 3, 1, tzinfo=UTC),
                datetime(2026, 3, 2, 14, 0, tzinfo=UTC),
            ),
            (
                "America/New_York",
                datetime(2026, 10, 30, tzinfo=UTC),
                datetime(2026, 11, 2, 14, 0, tzinfo=UTC),
            ),
            # Kolkata: no daylight saving, always UTC+5:30
            (
                "Asia/Kolkata",
                datetime(2026, 3, 27, tzinfo=UTC),
                datetime(2026, 3, 30, 3, 30, tzinfo=UTC),
            ),
            (
                "Asia/Kolkata",
                datetime(2026, 10, 30, tzinfo=UTC),
                datetime(2026, 11, 2, 3, 30, tzinfo=UTC),
            ),
        ],
    )
    def test_monday_nine_local(self, tz: str, now: datetime, expected: datetime) -> None:
        assert next_fire_time(monday_nine(tz), now) == expected

    def test_weekday_names_not_numbers(self) -> None:
        """'mon' is Monday: APScheduler's from_crontab('0 9 * * 1') would be Tuesday."""
        fire = next_fire_time(monday_nine("UTC"), datetime(2026, 6, 3, tzinfo=UTC))
        assert fire.weekday() == 0

    def test_last_fire_time_is_the_run_a_late_job_belongs_to(self) -> None:
        sub = monday_nine("Europe/Berlin")
        late = datetime(2026, 6, 8, 19, 30, tzinfo=UTC)  # Monday evening, 11.5 h late
        assert last_fire_time(sub, late) == datetime(2026, 6, 8, 7, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.due: list[Due] = []
        self.missed: list[tuple[Subscription, datetime]] = []
        self.event = threading.Event()

    def on_due(self, due: Due) -> None:
        self.due.append(due)
        self.event.set()

    def on_missed(self, sub: Subscription, when: datetime) -> None:
        self.missed.append((sub, when))
        self.event.set()

    def on_failed(self, sub: Subscription, error: BaseException) -> None:
        raise AssertionError(error)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


class TestWeeklyScheduler:
    def test_jobs_survive_a_restart(self, url: str) -> None:
        sub = monday_nine("Asia/Kolkata")
        first = WeeklyScheduler(url, 12, *_callbacks(Recorder()))
        first.start([sub])
        first.shutdown()
        second = WeeklyScheduler(url, 12, *_callbacks(Recorder()))
        second.start([])  # nothing configured now: the stored job is removed, not kept
        assert second.jobs() == []
        second.sync([sub])
        ((identifier, when),) = second.jobs()
        second.shutdown()
        third = WeeklyScheduler(url, 12, *_callbacks(Recorder()))
        third.start([sub])
        assert third.jobs() == [(identifier, when)]
        third.shutdown()

    def test_a_run_missed_within_the_grace_runs_once_on_start(self, url: str) -> None:
        sub = monday_nine("UTC")
        record_pending_job(url, sub, datetime.now(UTC) - timedelta(hours=3))
        recorder = Recorder()
        scheduler = WeeklyScheduler(url, 12, *_callbacks(recorder))
        scheduler.start([sub])
        assert recorder.event.wait(10)
        scheduler.shutdown()
        assert len(recorder.due) == 1 and recorder.missed == []
        assert recorder.due[0].subscription == sub

    def test_a_run_missed_beyond_the_grace_is_reported_not_run(self, url: str) -> None:
        sub = monday_nine("UTC")
        due_at = datetime.now(UTC) - timedelta(hours=13)
        record_pending_job(url, sub, due_at)
        recorder = Recorder()
        scheduler = WeeklyScheduler(url, 12, *_callbacks(recorder))
        scheduler.start([sub])
        assert recorder.event.wait(10)
        scheduler.shutdown()
        assert recorder.due == []
        ((missed_sub, when),) = recorder.missed
        assert missed_sub == sub and abs(when - due_at) < timedelta(seconds=1)

    def test_sync_updates_changed_and_removes_gone_subscriptions(self, url: str) -> None:
        a, b = monday_nine("UTC"), Subscription("discord:9", "post-train", "fri", "17:00", "UTC")
        scheduler = WeeklyScheduler(url, 12, *_callbacks(Recorder()))
        scheduler.start([a, b])
        assert {j for j, _ in scheduler.jobs()} == {job_id(a), job_id(b)}
        moved = Subscription(a.channel, a.topic, "tue", "10:00", "UTC")
        scheduler.sync([moved])
        ((identifier, when),) = scheduler.jobs()
        scheduler.shutdown()
        assert identifier == job_id(moved) and when.weekday() == 1


def _callbacks(recorder: Recorder):
    return recorder.on_due, recorder.on_missed, recorder.on_failed
