"""Faults, counted: real processes racing to post one digest, kills during an ingest, and
arXiv's empty page. Every count printed must be 0.

1. Race: 3 `digestbot digest --post` processes started together on one database, against
   the loopback Slack, `--trials` times (default 20), plus `--mixed` trials of the bot's
   weekly run against a CLI post. Counts messages sent twice (or threads started twice)
   and parts never sent.
2. Kills: `digestbot ingest --feed` of the 2,489-paper listing, SIGKILLed at a random
   moment while it writes, `--kills` times (default 10). Counts databases left with part of
   the feed (papers without their topic, or some papers only).
3. Empty page: arXiv answers a window with an empty page that claims results, on every
   retry, to `digest --post`; then answers properly. Counts "quiet week" digests posted or
   stored, and a real digest refused as "already posted".

Usage: .venv/bin/python -m bench.bench_faults [--trials N] [--mixed N] [--kills N]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, console, machine_line, shared_arxiv
from tests.fakes.arxiv_server import FakeArxiv, load_feed_entries
from tests.fakes.slack_server import FakeSlack
from tests.support.racing import Arena, digest_parts, expected_parts

LISTING = ("feeds", "listings_2026-05-14_to_05-21_all.atom.xml")
POST_TRAIN_WEEK = ("feeds", "post-train_2026-05-28_to_06-03.atom.xml")
WRITING = 256 * 1024  # bytes of write-ahead log: more than migrations write, less than papers


def race(trials: int, mixed: int, work: Path) -> dict[str, float]:
    duplicates = missing = failures = 0
    seconds: list[float] = []
    with FakeSlack(channels=("C0SOLO",)) as slack:
        solo = work / "solo"
        solo.mkdir()
        expected = expected_parts(solo, slack)
        for n in range(trials + mixed):
            home = work / f"race{n}"
            home.mkdir()
            channel = f"C0RACE{n}"
            slack.add_channel(channel)
            arena = Arena(home, slack, channel=channel)
            started = time.perf_counter()
            # After the CLI races: the bot's weekly post held mid-thread while 2 CLI posts start.
            trial = arena.race(clis=3) if n < trials else arena.race_with_bot(2, expected)
            seconds.append(time.perf_counter() - started)
            duplicates += trial.duplicates
            missing += trial.missing(expected)
            failures += sum(1 for code in trial.codes if code != 0)
            kind = "3 CLI" if n < trials else "bot, held, + 2 CLI"
            console.print(
                f"  race {n + 1:>2} ({kind}): {sum(trial.parts.values())} messages for "
                f"{len(expected)} parts, {trial.duplicates} duplicate(s), "
                f"{trial.missing(expected)} missing, exits {trial.codes}"
            )
    return {
        "duplicates": duplicates,
        "missing": missing,
        "failed racers": failures,
        "median s": statistics.median(seconds),
    }


def _ingest(db: Path, feed: Path) -> subprocess.Popen:
    env = {**os.environ, "DIGESTBOT_DB": str(db)}
    env.pop("DIGESTBOT_CONFIG", None)  # built-in defaults: no topic or config of the caller
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "ingest", "--feed", str(feed), "--topic", "post-train"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _counts(db: Path) -> tuple[int, int]:
    if not db.exists():
        return 0, 0
    conn = sqlite3.connect(db)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "papers" not in tables or "topic_papers" not in tables:
            return 0, 0
        papers = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
        filed = conn.execute("SELECT count(*) FROM topic_papers").fetchone()[0]
        return papers, filed
    finally:
        conn.close()


def _wait_for_writing(proc: subprocess.Popen, db: Path) -> None:
    wal = db.with_name(db.name + "-wal")
    while proc.poll() is None and not (wal.exists() and wal.stat().st_size > WRITING):
        time.sleep(0.002)


def kills(count: int, work: Path) -> dict[str, float]:
    feed = shared_arxiv(*LISTING)
    solo_db = work / "solo-ingest.db"
    started = time.perf_counter()
    proc = _ingest(solo_db, feed)
    _wait_for_writing(proc, solo_db)
    writing = time.perf_counter()
    proc.wait(timeout=600)
    whole, write = time.perf_counter() - started, time.perf_counter() - writing
    full = _counts(solo_db)
    console.print(
        f"  whole ingest: {full[0]} papers, {full[1]} filed, {whole:.1f} s, "
        f"of which writing {write:.2f} s"
    )
    rng = random.Random(10)
    partial = nothing = everything = finished = 0
    for n in range(count):
        db = work / f"kill{n}.db"
        proc = _ingest(db, feed)
        # Kill while it writes: once the write-ahead log has grown past what the schema
        # takes (the papers are going in), anywhere in the time the write took alone.
        _wait_for_writing(proc, db)
        delay = rng.uniform(0.0, 1.0) * write
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        else:
            finished += 1
        proc.wait(timeout=60)
        got = _counts(db)
        if got == (0, 0):
            nothing += 1
        elif got == full:
            everything += 1
        else:
            partial += 1
        console.print(
            f"  kill {n + 1:>2}, {delay * 1000:.0f} ms into the write (exit {proc.returncode}): "
            f"{got[0]} papers, {got[1]} filed"
        )
    return {
        "partially committed": partial,
        "nothing stored": nothing,
        "all stored": everything,
        "finished before the kill": finished,
    }


def empty_page(work: Path) -> dict[str, float]:
    entries = load_feed_entries(shared_arxiv(*POST_TRAIN_WEEK))
    false_quiet = refused = stored_empty = 0
    with FakeArxiv() as arxiv, FakeSlack(channels=("C0EMPTY",)) as slack:
        arxiv.add_entries(entries)
        arxiv.empty_page_next(times=100)
        home = work / "empty"
        home.mkdir()
        config = home / "config.toml"
        config.write_text(
            "[arxiv]\ndelay_seconds = 0\nbackoff_seconds = 0.01\nretries = 3\n"
            "[slack]\npost_interval_seconds = 0\n"
        )
        env = {
            **os.environ,
            "DIGESTBOT_CONFIG": str(config),
            "DIGESTBOT_DB": str(home / "c.db"),
            "DIGESTBOT_ARXIV_API_URL": arxiv.url,
            "DIGESTBOT_SLACK_API_URL": slack.base_url,
            "SLACK_BOT_TOKEN": slack.bot_token,
        }
        env.pop("ANTHROPIC_API_KEY", None)
        argv = [sys.executable, "-m", "bot.cli", "digest", "post-train"]
        argv += ["--since", "2026-05-28", "--until", "2026-06-03", "--post", "slack:C0EMPTY"]
        first = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
        quiet = [m for m in slack.messages("C0EMPTY") if "No new papers" in str(m.get("text", ""))]
        false_quiet += len(quiet)
        arxiv.reset()
        arxiv.add_entries(entries)
        second = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
        if "already posted" in second.stderr:
            refused += 1
        conn = sqlite3.connect(home / "c.db")
        try:
            stored_empty = conn.execute(
                "SELECT count(*) FROM digests WHERE json_extract(body, '$.paper_count') = 0"
            ).fetchone()[0]
        finally:
            conn.close()
        parts = digest_parts(slack, "C0EMPTY")
        console.print(
            f"  empty pages: exit {first.returncode}: {first.stderr.strip().splitlines()[-1]}"
        )
        console.print(
            f"  arXiv back: exit {second.returncode}, {len(parts)} messages posted, "
            f"{parts.count('parent')} parent"
        )
    return {
        "false quiet-week posts": false_quiet,
        "zero-paper digests stored": stored_empty,
        "real digest refused": refused,
        "exit on empty pages": first.returncode,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="3-process CLI races")
    parser.add_argument("--mixed", type=int, default=3, help="bot + 2 CLI races")
    parser.add_argument("--kills", type=int, default=10, help="kills during an ingest")
    parser.add_argument(
        "--only", choices=("empty", "kills", "race"), help="run one of the three parts"
    )
    args = parser.parse_args()
    shared_arxiv(*LISTING)  # skip (exit 0) where the real data is absent
    console.print(machine_line())
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        work = Path(tmp)
        empty = {"false quiet-week posts": 0, "zero-paper digests stored": 0}
        empty |= {"real digest refused": 0, "exit on empty pages": 1}
        killed = {"partially committed": 0, "nothing stored": 0, "all stored": 0}
        killed |= {"finished before the kill": 0}
        raced = {"duplicates": 0, "missing": 0, "failed racers": 0, "median s": 0.0}
        if args.only in (None, "empty"):
            console.print("[bold]empty arXiv page[/]")
            empty = empty_page(work)
        if args.only in (None, "kills"):
            console.print("[bold]kills during ingest --feed[/]")
            killed = kills(args.kills, work)
        if args.only in (None, "race"):
            console.print(f"[bold]races ({args.trials} x 3 CLI, {args.mixed} x bot + 2 CLI)[/]")
            raced = race(args.trials, args.mixed, work)
    console.print()
    console.print(f"duplicates: {raced['duplicates']:.0f}")
    console.print(f"missing parts: {raced['missing']:.0f}")
    console.print(f"partially committed feeds: {killed['partially committed']:.0f}")
    console.print(f"false quiet-week posts: {empty['false quiet-week posts']:.0f}")
    console.print(
        f"(also: racers failing {raced['failed racers']:.0f}; median race "
        f"{raced['median s']:.1f} s; kills leaving nothing {killed['nothing stored']:.0f}, "
        f"everything {killed['all stored']:.0f}, ingest done before the kill "
        f"{killed['finished before the kill']:.0f}; zero-paper digests stored "
        f"{empty['zero-paper digests stored']:.0f}; real digest refused "
        f"{empty['real digest refused']:.0f}; exit on empty pages "
        f"{empty['exit on empty pages']:.0f})"
    )
    bad = (
        raced["duplicates"]
        + raced["missing"]
        + killed["partially committed"]
        + empty["false quiet-week posts"]
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
