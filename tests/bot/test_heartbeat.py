"""The heartbeat carries each chat connection's liveness: a connection down past its limit
makes the bot unhealthy (and `run` exit 1, so a supervisor restarts it) instead of a
process that looks alive but no longer listens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.cli import main
from bot.heartbeat import Heartbeat, health
from tests.fakes.slack_server import FakeSlack
from tests.support.paths import REPO
from tests.support.racing import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class TestHeartbeat:
    def test_a_connection_down_past_its_limit_is_unhealthy_once(self, tmp_path: Path) -> None:
        clock, dead, up = Clock(), [], {"discord": True, "slack": True}
        beat = Heartbeat(tmp_path / "hb", down_limit=60, on_dead=dead.append, clock=clock)
        for name in up:
            beat.watch(name, lambda name=name: up[name])

        assert beat.beat() == [] and health(tmp_path / "hb")[0]
        up["discord"] = False
        clock.now += 1
        assert beat.beat() == []
        healthy, why = health(tmp_path / "hb")
        assert healthy and "reconnecting: discord" in why
        clock.now += 60
        assert beat.beat() == ["discord"]
        clock.now += 30
        beat.beat()

        healthy, why = health(tmp_path / "hb")
        assert not healthy and "discord connection down" in why
        assert dead == [["discord"]]

    def test_a_connection_that_comes_back_in_time_is_healthy(self, tmp_path: Path) -> None:
        clock, state = Clock(), {"up": False}
        beat = Heartbeat(tmp_path / "hb", down_limit=60, clock=clock)
        beat.watch("slack", lambda: state["up"])
        beat.beat()
        clock.now += 50
        state["up"] = True
        beat.beat()
        state["up"] = False
        clock.now += 50
        assert beat.beat() == []
        assert health(tmp_path / "hb")[0]

    def test_a_probe_that_raises_counts_as_down(self, tmp_path: Path) -> None:
        def broken() -> bool:
            raise AttributeError("'NoneType' object has no attribute 'sequence'")

        clock = Clock()
        beat = Heartbeat(tmp_path / "hb", down_limit=0, clock=clock)
        beat.watch("discord", broken)
        assert beat.beat() == ["discord"]


class TestRunWithADeadConnection:
    def test_run_exits_1_and_health_fails(self, tmp_path: Path, capsys, monkeypatch) -> None:
        """Discord unreachable: `digestbot health` fails once the limit has passed, and
        `run` exits 1 by itself, with no traceback and no `_MissingSentinel` error."""
        config = tmp_path / "config.toml"
        config.write_text("[scheduler]\nadapter_down_seconds = 2\n")
        env = {
            **os.environ,
            "DIGESTBOT_CONFIG": str(config),
            "DIGESTBOT_DB": str(tmp_path / "bot.db"),
            "DIGESTBOT_DISCORD_API_URL": "http://127.0.0.1:9/api/v10",
            "DIGESTBOT_ARXIV_API_URL": "http://127.0.0.1:9/api/query",
            "DISCORD_TOKEN": "not-a-real-token",
        }
        for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "ANTHROPIC_API_KEY"):
            env.pop(name, None)
        log = tmp_path / "bot.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        try:
            code = proc.wait(timeout=90)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        text = log.read_text()

        assert code == 1, text
        assert "discord down for over 2 s" in text
        assert "Traceback" not in text and "_MissingSentinel" not in text
        monkeypatch.setenv("DIGESTBOT_CONFIG", str(config))
        monkeypatch.setenv("DIGESTBOT_DB", str(tmp_path / "bot.db"))
        assert main(["health"]) == 1
        assert "discord connection down" in capsys.readouterr().out


class TestSigterm:
    def test_sigterm_twice_logs_once_and_exits_0(self, tmp_path: Path) -> None:
        config = tmp_path / "config.toml"
        config.write_text(f'[slack]\nmode = "http"\nhttp_port = {free_port()}\n')
        slack = FakeSlack().start()
        env = {
            **os.environ,
            "DIGESTBOT_CONFIG": str(config),
            "DIGESTBOT_DB": str(tmp_path / "bot.db"),
            "DIGESTBOT_SLACK_API_URL": slack.base_url,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": "secret",
        }
        env.pop("DISCORD_TOKEN", None)
        log = tmp_path / "bot.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        deadline = time.monotonic() + 60
        while "digestbot running" not in log.read_text() and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        finally:
            slack.stop()
        text = log.read_text()

        assert code == 0, text
        assert text.count("received SIGTERM") == 1
        assert "stopped" in text and "Traceback" not in text
