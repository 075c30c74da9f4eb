"""Start-up: wall time of fresh `digestbot` processes, as a user at a terminal pays it.

Four commands, each a new process, median of N runs (after one untimed warm-up run):
`python -c pass` (the interpreter alone, for the ratio), `digestbot --help`, `digestbot ask`
over a corpus of the 2,489 papers of feeds/listings_2026-05-14_to_05-21_all.atom.xml (offline,
abstracts only), and a cached `digestbot digest` (the post-train week of
feeds/post-train_2026-05-28_to_06-03.atom.xml, complete and its digest stored). Targets:
--help < 0.15 s, ask < 0.3 s, cached digest < 0.5 s. The corpus is built in a temp directory
through the CLI itself (`ingest --feed`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import console, header, median, results_table, shared_arxiv, verdict

BIG = ("feeds", "listings_2026-05-14_to_05-21_all.atom.xml")
SMALL = ("feeds", "post-train_2026-05-28_to_06-03.atom.xml")
TARGET_HELP_S = 0.15
TARGET_ASK_S = 0.3
TARGET_CACHED_S = 0.5


def digestbot() -> list[str]:
    """The installed console script when there is one (what a user runs), else `-m`.
    DIGESTBOT_BENCH_MODULE=1 forces `python -m bot.cli` (run from another checkout's root,
    that checkout's code: how the before figures were taken)."""
    if os.environ.get("DIGESTBOT_BENCH_MODULE") == "1":
        return [sys.executable, "-m", "bot.cli"]
    script = Path(sys.executable).with_name("digestbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def timed(argv: Sequence[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall seconds of `runs` fresh processes of argv (one untimed warm-up first, so the
    page cache holds the files as it would for a user's second command)."""
    subprocess.run(argv, env=env, check=True, capture_output=True)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="timed runs of each command")
    args = parser.parse_args()
    big_feed, small_feed = shared_arxiv(*BIG), shared_arxiv(*SMALL)
    header(
        "bench_startup",
        [f"median of {args.runs} fresh processes per command, after one warm-up run"],
    )
    command = digestbot()
    with tempfile.TemporaryDirectory(prefix="digestbot-bench-") as tmp:
        env = {**os.environ, "DIGESTBOT_DB": str(Path(tmp) / "startup.db")}
        env.pop("DIGESTBOT_CONFIG", None)  # built-in defaults: the offline engine
        for feed_args in (
            ["ingest", "--feed", str(big_feed)],
            ["ingest", "--feed", str(small_feed), "--topic", "post-train"],
        ):
            subprocess.run([*command, *feed_args], env=env, check=True, capture_output=True)
        digest = [
            *command,
            *("digest", "post-train", "--since", "2026-05-28", "--until", "2026-06-03"),
            "--no-fetch",
        ]
        subprocess.run(digest, env=env, check=True, capture_output=True)  # stores the digest
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("digestbot --help", [*command, "--help"], TARGET_HELP_S),
            (
                'digestbot ask "...reward hacking?" (2,489 papers)',
                [
                    *command,
                    *("ask", "--no-fulltext", "which papers are about reward hacking?"),
                ],
                TARGET_ASK_S,
            ),
            (
                "digestbot ask ARXIV_ID (2,489 papers)",
                [*command, "ask", "--no-fulltext", "what is 2605.30353 about?"],
                TARGET_ASK_S,
            ),
            ("cached digestbot digest post-train", digest, TARGET_CACHED_S),
        ]
        results = [(label, timed(argv, env, args.runs), target) for label, argv, target in cases]
    bare = median(results[0][1])
    table = results_table(
        "Start-up, fresh process (wall)",
        ["command", "median s", "min s", "x python -c pass", "target", ""],
    )
    for label, seconds, target in results:
        table.add_row(
            label,
            f"{median(seconds):.3f}",
            f"{min(seconds):.3f}",
            f"{median(seconds) / bare:.1f}x",
            f"< {target:g}" if target else "",
            verdict(median(seconds), target, higher_is_better=False) if target else "",
        )
    console.print(table)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    console.print(f"load average (1 min) at the end: {load:.1f}")


if __name__ == "__main__":
    main()
