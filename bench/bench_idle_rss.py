"""Benchmark of the bot's idle memory: `digestbot run` with the Slack adapter (Socket Mode,
the default) and the weekly scheduler, connected and waiting. Target: RSS < 150 MB.

The bot runs as a real process against the loopback Slack stand-in (Web API and the
Socket Mode WebSocket), with one weekly subscription scheduled. Its resident memory is read
from /proc after it has been idle for a while; median of several fresh processes.

    .venv/bin/python bench/bench_idle_rss.py [--runs 3] [--idle 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, console, header, median, results_table, skip, verdict
from tests.fakes.slack_server import FakeSlack

TARGET_MB = 150.0
STARTED = "digestbot running"


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc/PID/status."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def one_run(slack: FakeSlack, tmp: Path, idle: float) -> tuple[float, float]:
    config = tmp / "config.toml"
    config.write_text(
        '[[subscriptions]]\nchannel = "slack:C0TEST"\ntopic = "post-train"\n'
        'weekday = "mon"\ntime = "09:00"\ntimezone = "Europe/Berlin"\n'
    )
    log = tmp / "bot.log"
    env = {
        **os.environ,
        "DIGESTBOT_CONFIG": str(config),
        "DIGESTBOT_DB": str(tmp / "bot.db"),
        "DIGESTBOT_SLACK_API_URL": slack.base_url,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
    }
    env.pop("DISCORD_TOKEN", None)
    env.pop("ANTHROPIC_API_KEY", None)
    with log.open("w") as stderr:
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 90
        while STARTED not in log.read_text():
            if bot.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bot did not start:\n{log.read_text()}")
            time.sleep(0.2)
        if not slack.wait_connected(30):
            raise RuntimeError("the bot did not open its Socket Mode connection")
        time.sleep(idle)
        return rss_mb(bot.pid)
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh bot processes")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds idle before reading")
    args = parser.parse_args()
    if not Path("/proc/self/status").exists():
        skip("needs Linux /proc to read a process's resident memory")
    header(
        "Idle memory of `digestbot run` (Slack Socket Mode + scheduler)",
        [
            f"median of {args.runs} fresh processes, each read after {args.idle:g} s idle "
            "(connected, one subscription scheduled); VmRSS from /proc"
        ],
    )
    current, peaks = [], []
    for _ in range(args.runs):
        with FakeSlack() as slack, tempfile.TemporaryDirectory(prefix="digestbot-bench-") as tmp:
            rss, peak = one_run(slack, Path(tmp), args.idle)
        current.append(rss)
        peaks.append(peak)
    table = results_table("Idle RSS", ["", "median MiB", "runs", "target", ""])
    table.add_row(
        "RSS when idle",
        f"{median(current):.0f}",
        ", ".join(f"{v:.0f}" for v in current),
        f"< {TARGET_MB:g}",
        verdict(median(current), TARGET_MB, higher_is_better=False),
    )
    table.add_row(
        "peak since start", f"{median(peaks):.0f}", ", ".join(f"{v:.0f}" for v in peaks), "", ""
    )
    console.print(table)


if __name__ == "__main__":
    main()
