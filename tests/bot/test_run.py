"""`digestbot run` as a real process against the loopback Slack: it serves signed
commands and stops cleanly on SIGTERM; a weekly run due while it was down posts once
within the grace period and is reported beyond it; a post killed with SIGKILL after k
messages is completed, without a repeat, when the bot starts again."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.config import Subscription
from bot.scheduler import last_fire_time
from digest.windows import default_window
from tests.fakes.slack_server import FakeSlack
from tests.support.jobstore import record_pending_job
from tests.support.paths import REPO
from tests.support.racing import seed

# Real `digestbot run` processes, each waiting for start-up: about a minute and a half.
pytestmark = pytest.mark.slow

SECRET = "signing-secret-for-tests"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STARTED = "digestbot running"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subscription_due(ago: timedelta) -> Subscription:
    """A weekly subscription whose latest fire time was `ago` ago (to the minute)."""
    fire = (datetime.now(UTC) - ago).replace(second=0, microsecond=0)
    return Subscription(
        "slack:C0TEST", "post-train", WEEKDAYS[fire.weekday()], f"{fire:%H:%M}", "UTC"
    )


def seed_due_job(db: Path, sub: Subscription) -> None:
    """What a previous bot process left in the job store: this week's run still pending."""
    record_pending_job(f"sqlite:///{db}", sub, last_fire_time(sub, datetime.now(UTC)))


def seed_week(db: Path, sub: Subscription, papers: int = 4) -> None:
    """The papers of the window the subscription's run posts, fetched completely already
    (so the bot needs no arXiv)."""
    seed(db, default_window(last_fire_time(sub, datetime.now(UTC))), papers)


class Bot:
    """One `digestbot run` process."""

    def __init__(self, tmp: Path, slack: FakeSlack, subs: list[Subscription], port: int) -> None:
        self.db = tmp / "bot.db"
        self.port = port
        config = tmp / "config.toml"
        lines = [
            "[slack]",
            'mode = "http"',
            f"http_port = {port}",
            "post_interval_seconds = 0",
            "[scheduler]",
            "grace_hours = 12",
            'admin_channel = "slack:CADMIN"',
        ]
        for sub in subs:
            lines += [
                "[[subscriptions]]",
                f'channel = "{sub.channel}"',
                f'topic = "{sub.topic}"',
                f'weekday = "{sub.weekday}"',
                f'time = "{sub.time}"',
                f'timezone = "{sub.timezone}"',
            ]
        config.write_text("\n".join(lines) + "\n")
        self.env = {
            **os.environ,
            "DIGESTBOT_CONFIG": str(config),
            "DIGESTBOT_DB": str(self.db),
            "DIGESTBOT_SLACK_API_URL": slack.base_url,
            "DIGESTBOT_ARXIV_API_URL": "http://127.0.0.1:9/api/query",
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
        }
        self.env.pop("DISCORD_TOKEN", None)
        self.log = tmp / "bot.log"
        self.process: subprocess.Popen | None = None
        self.offset = 0

    def start(self) -> Bot:
        self.offset = offset = len(self.log.read_text()) if self.log.exists() else 0
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("a"),
        )
        wait_for(lambda: STARTED in self.log.read_text()[offset:], 60, "the bot to start")
        return self

    def logged(self, text: str) -> bool:
        """Whether this run of the process (since the last start) has logged `text`."""
        return text in self.log.read_text()[self.offset :]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def next_runs(db: Path) -> list[float]:
    """When the scheduler's stored jobs run next (epoch seconds)."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT next_run_time FROM apscheduler_jobs").fetchall()
    return [row[0] for row in rows if row[0] is not None]


def parts(slack: FakeSlack, channel: str = "C0TEST") -> list[str]:
    """The ledger part key of every digest message in the channel, in order."""
    return [
        m["metadata"]["event_payload"]["part"]
        for m in slack.messages(channel)
        if m.get("metadata", {}).get("event_type") == "digestbot_part"
    ]


def complete(keys: list[str]) -> bool:
    return bool(keys) and keys[0] == "parent" and "catalog" in keys


@pytest.fixture
def slack():
    with FakeSlack(channels=("C0TEST", "CADMIN")) as fake:
        yield fake


def signed_command(port: int, text: str, secret: str = SECRET, age: int = 0):
    body = urllib.parse.urlencode(
        {
            "command": "/digest",
            "text": text,
            "user_id": "U1",
            "channel_id": "C0TEST",
            "team_id": "T1",
            "trigger_id": "t",
        }
    )
    stamp = str(int(time.time()) - age)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/events",
        data=body.encode(),
        headers={
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


class TestRunProcess:
    def test_http_mode_answers_signed_commands_and_stops_on_sigterm(self, tmp_path, slack) -> None:
        bot = Bot(tmp_path, slack, [], free_port()).start()
        assert signed_command(bot.port, "topics") == 200
        assert signed_command(bot.port, "topics", secret="wrong") == 401
        assert signed_command(bot.port, "topics", age=600) == 401
        wait_for(lambda: health(bot.port)[0] == 200, 20, "/healthz to report healthy")
        status, report = health(bot.port)
        assert status == 200
        assert report["ok"] is True and report["database"] == "ok"
        assert any("slack" in adapter for adapter in report["adapters"])
        wait_for(
            lambda: any("Topics" in p.get("text", "") for p in slack.posts("C0TEST")),
            20,
            "the topics reply",
        )
        assert bot.stop() == 0
        log = bot.log.read_text()
        assert "stopped" in log and "Traceback" not in log and SECRET not in log
        assert slack.bot_token not in log

    def test_a_command_digest_is_built_in_a_child_and_sigterm_leaves_no_child(
        self, tmp_path, slack
    ) -> None:
        window = default_window(datetime.now(UTC) - timedelta(days=14))
        bot = Bot(tmp_path, slack, [], free_port())
        seed(bot.db, window)
        bot.start()
        assert bot.process is not None
        text = f"post-train --since {window.since} --until {window.until}"
        assert signed_command(bot.port, text) == 200
        wait_for(lambda: complete(parts(slack)), 90, "the digest thread")
        children = [
            child
            for child in psutil.Process(bot.process.pid).children()
            if "spawn_main" in " ".join(child.cmdline())
        ]
        assert children and all(child.nice() == 19 for child in children)
        everything = psutil.Process(bot.process.pid).children(recursive=True)
        assert bot.stop() == 0
        _, alive = psutil.wait_procs(everything, timeout=10)
        assert alive == []
        log = bot.log.read_text()
        assert "stopped" in log and "Traceback" not in log

    def test_a_run_due_within_the_grace_posts_once(self, tmp_path, slack) -> None:
        sub = subscription_due(timedelta(hours=3))
        bot = Bot(tmp_path, slack, [sub], free_port())
        seed_week(bot.db, sub)
        seed_due_job(bot.db, sub)
        bot.start()
        wait_for(lambda: complete(parts(slack)), 60, "the weekly thread")
        assert bot.stop() == 0
        bot.start()  # a restart must not post the same week again
        # Positive signals that the restart has done all it would: its start-up resume has
        # finished, and the week's run is no longer pending in the job store.
        wait_for(lambda: bot.logged("start-up resume done: 0"), 30, "the start-up resume")
        assert next_runs(bot.db) and min(next_runs(bot.db)) > time.time()
        assert bot.stop() == 0
        keys = parts(slack)
        assert keys.count("parent") == 1 and len(keys) == len(set(keys))
        assert slack.posts("CADMIN") == []

    def test_a_run_missed_beyond_the_grace_posts_nothing_and_tells_the_admins(
        self, tmp_path, slack
    ) -> None:
        sub = subscription_due(timedelta(hours=13))
        bot = Bot(tmp_path, slack, [sub], free_port())
        seed_week(bot.db, sub)
        seed_due_job(bot.db, sub)
        bot.start()
        wait_for(lambda: slack.posts("CADMIN"), 30, "the admin notice")
        assert bot.stop() == 0
        assert parts(slack) == []
        (notice,) = slack.posts("CADMIN")
        assert "skipped" in notice["text"] and "grace period" in notice["text"]

    def test_two_subscriptions_for_one_channel_and_topic_post_once(self, tmp_path, slack) -> None:
        first = subscription_due(timedelta(hours=2))
        second = Subscription(first.channel, first.topic, first.weekday, first.time, "UTC")
        bot = Bot(tmp_path, slack, [first, second], free_port())
        seed_week(bot.db, first)
        seed_due_job(bot.db, first)
        bot.start()
        wait_for(lambda: complete(parts(slack)), 60, "the weekly thread")
        assert signed_command(bot.port, "post-train") == 200  # and a command for the same week
        wait_for(
            lambda: any("already in this channel" in e["text"] for e in slack.ephemerals()),
            30,
            "the command's answer that the week is already posted",
        )
        assert bot.stop() == 0
        assert Counter(parts(slack))["parent"] == 1 and len(parts(slack)) == len(set(parts(slack)))

    @pytest.mark.parametrize("k", [1, 3, 6])
    def test_killed_after_k_messages_then_restarted_completes_the_thread(
        self, tmp_path, slack, k
    ) -> None:
        sub = subscription_due(timedelta(hours=1))
        bot = Bot(tmp_path, slack, [sub], free_port())
        seed_week(bot.db, sub)
        seed_due_job(bot.db, sub)
        # The k-th message reaches the channel but its answer never comes back: the worst
        # moment to die (sent, not yet recorded as sent).
        release = slack.stall("chat.postMessage", after=k, stored=True)
        bot.start()
        wait_for(lambda: len(parts(slack)) >= k, 60, f"{k} messages")
        assert bot.stop(signal.SIGKILL) == -signal.SIGKILL
        release.set()
        assert len(parts(slack)) == k
        bot.start()
        wait_for(lambda: complete(parts(slack)), 60, "the completed thread")
        assert bot.stop() == 0
        keys = parts(slack)
        assert len(keys) == len(set(keys)), f"repeated: {keys}"
        assert keys[0] == "parent" and keys[-1] == "catalog"
        parents = [m for m in slack.top_level("C0TEST") if "metadata" in m]
        assert len(parents) == 1
        assert all(m.get("thread_ts") == parents[0]["ts"] for m in slack.messages("C0TEST")[1:])
