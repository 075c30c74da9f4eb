"""Real processes racing to post one digest into one channel, on one SQLite file, against
the loopback Slack: shared by tests/bot/test_race.py and bench/bench_faults.py.

Each racer is `digestbot digest TOPIC --post slack:CHANNEL` (a CLI post) or `digestbot run`
with a subscription due now (the weekly post), started together. What the channel holds
afterwards is the verdict: every part exactly once, in one thread.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Subscription
from bot.scheduler import last_fire_time
from digest.topics import POST_TRAIN
from digest.windows import Window, default_window
from storage import FetchRecord, open_corpus
from tests.fakes.slack_server import FakeSlack
from tests.support.jobstore import record_pending_job
from tests.support.papers import make_paper
from tests.support.paths import REPO

CHANNEL = "C0RACE"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STARTED = "digestbot running"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def due_subscription(channel: str = CHANNEL) -> Subscription:
    """A weekly subscription whose latest fire time was an hour ago."""
    fire = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)
    return Subscription(f"slack:{channel}", "post-train", WEEKDAYS[fire.weekday()], f"{fire:%H:%M}")


def seed(db: Path, window: Window, count: int = 5) -> None:
    """The window's papers, fetched completely already (so no racer needs arXiv)."""
    made = [
        make_paper(
            f"2606.{i:05d}",
            title=f"Racer{i}: Reward Models for Step-Level Credit",
            abstract=f"We propose Racer{i}, a reward model for LLM post-training with GRPO. "
            "Experiments on math show gains. A limitation is labelling cost.",
            published=datetime.combine(window.since, datetime.min.time(), UTC) + timedelta(hours=i),
        )
        for i in range(1, count + 1)
    ]
    query = POST_TRAIN.window_query(*window.arxiv_range())
    record = FetchRecord(
        "post-train", window.since, window.until, query, datetime.now(UTC), True, count
    )
    with open_corpus(db) as corpus:
        corpus.store_fetch(made, record)


@dataclass
class Trial:
    """One race's outcome, read from the channel."""

    parts: Counter[str]
    parents: int  # top-level digest messages (threads started)
    expected: int  # distinct parts a complete post has
    codes: list[int]

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.parts.values() if n > 1) + max(0, self.parents - 1)

    def missing(self, expected_parts: set[str]) -> int:
        return len(expected_parts - set(self.parts))


class Arena:
    """A home directory with a config, a database and the env for racers."""

    def __init__(
        self,
        home: Path,
        slack: FakeSlack,
        *,
        channel: str = CHANNEL,
        post_interval: float = 0.1,
    ) -> None:
        self.home = home
        self.db = home / "race.db"
        self.slack = slack
        self.channel = channel
        self.sub = due_subscription(channel)
        self.window = default_window(last_fire_time(self.sub, datetime.now(UTC)))
        config = home / "config.toml"
        config.write_text(
            "\n".join(
                [
                    "[slack]",
                    'mode = "http"',
                    f"http_port = {free_port()}",
                    f"post_interval_seconds = {post_interval}",
                    "[scheduler]",
                    "grace_hours = 12",
                    "[[subscriptions]]",
                    f'channel = "{self.sub.channel}"',
                    f'topic = "{self.sub.topic}"',
                    f'weekday = "{self.sub.weekday}"',
                    f'time = "{self.sub.time}"',
                    'timezone = "UTC"',
                ]
            )
            + "\n"
        )
        self.env = {
            **os.environ,
            "DIGESTBOT_CONFIG": str(config),
            "DIGESTBOT_DB": str(self.db),
            "DIGESTBOT_SLACK_API_URL": slack.base_url,
            "DIGESTBOT_ARXIV_API_URL": "http://127.0.0.1:9/api/query",
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": "race-secret",
        }
        for name in ("DISCORD_TOKEN", "ANTHROPIC_API_KEY", "SLACK_APP_TOKEN"):
            self.env.pop(name, None)
        seed(self.db, self.window)

    def cli_post(self) -> subprocess.Popen:
        argv = ["digest", "post-train", "--since", str(self.window.since)]
        argv += ["--until", str(self.window.until), "--post", f"slack:{self.channel}"]
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *argv],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def bot(self, log: Path) -> subprocess.Popen:
        record_pending_job(f"sqlite:///{self.db}", self.sub, self.window_fire())
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("a"),
        )

    def window_fire(self) -> datetime:
        return last_fire_time(self.sub, datetime.now(UTC))

    def race(self, clis: int, bots: int = 0, timeout: float = 120) -> Trial:
        """Start `clis` CLI posts and `bots` bots together; wait for the CLIs, then for the
        bots' thread to be complete; stop the bots; read the channel."""
        log = self.home / "bot.log"
        runners = [self.bot(log) for _ in range(bots)] + [self.cli_post() for _ in range(clis)]
        deadline = time.monotonic() + timeout
        codes: list[int] = []
        for proc in runners[bots:]:
            proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            codes.append(proc.returncode)
        if bots:
            while time.monotonic() < deadline and not self._complete():
                time.sleep(0.2)
            time.sleep(0.5)  # a duplicate would arrive now, if any
            for proc in runners[:bots]:
                proc.send_signal(signal.SIGTERM)
            for proc in runners[:bots]:
                codes.append(proc.wait(timeout=30))
        return self.read(codes)

    def race_with_bot(
        self, clis: int, expected: set[str], *, hold_after: int = 3, hold: float = 15
    ) -> Trial:
        """The bot posts the due weekly digest; its `hold_after`-th message is held (sent,
        unanswered) while `clis` CLI posts of the same window start, for up to `hold`
        seconds (long enough for an unguarded CLI to post); then everything runs out."""
        release = self.slack.stall("chat.postMessage", after=hold_after, stored=True)
        bot = self.bot(self.home / "bot.log")
        codes: list[int] = []
        try:
            if not self.slack.wait_stalled(timeout=90):
                raise RuntimeError("the bot never began its post")
            racers = [self.cli_post() for _ in range(clis)]
            deadline = time.monotonic() + hold
            while any(r.poll() is None for r in racers) and time.monotonic() < deadline:
                time.sleep(0.1)
            release.set()
            for racer in racers:
                racer.communicate(timeout=120)
                codes.append(racer.returncode)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.read().missing(expected):
                time.sleep(0.2)
            time.sleep(0.5)  # a duplicate would arrive now, if any
        finally:
            release.set()
            bot.send_signal(signal.SIGTERM)
            codes.append(bot.wait(timeout=30))
        return self.read(codes)

    def _complete(self) -> bool:
        keys = digest_parts(self.slack, self.channel)
        return bool(keys) and "parent" in keys and "catalog" in keys

    def read(self, codes: list[int] | None = None) -> Trial:
        keys = digest_parts(self.slack, self.channel)
        parents = [
            m
            for m in self.slack.top_level(self.channel)
            if m.get("metadata", {}).get("event_type") == "digestbot_part"
        ]
        return Trial(Counter(keys), len(parents), len(set(keys)), codes or [])


def digest_parts(slack: FakeSlack, channel: str = CHANNEL) -> list[str]:
    """The ledger part key of every digest message in the channel, in order."""
    return [
        m["metadata"]["event_payload"]["part"]
        for m in slack.messages(channel)
        if m.get("metadata", {}).get("event_type") == "digestbot_part"
    ]


def expected_parts(home: Path, slack: FakeSlack, channel: str = "C0SOLO") -> set[str]:
    """The parts a complete post of the arena's digest has: one racer, alone, in its own
    channel (the same papers make the same sections)."""
    arena = Arena(home, slack, channel=channel)
    proc = arena.cli_post()
    _, err = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"the solo post failed: {err}")
    return set(digest_parts(slack, channel))
