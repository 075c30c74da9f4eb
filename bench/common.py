"""Shared helpers for the benchmarks: timing statistics, child-process peak RSS, the shared
data location, and a compact results table.

The benchmarks print figures; they are not pass/fail tests. A missing data set makes a
benchmark print why and exit 0 ("skipped"), so `make bench` works outside the dev workspace.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "bench"
CACHE_DIR = BENCH_DIR / ".cache"  # git-ignored: built corpora reused between runs
SHARED_ARXIV = REPO.parent / "shared" / "data" / "arxiv"
SKIP_EXIT = 0  # a skipped benchmark is not a failure

# Piped output (run_all, make, CI) would otherwise wrap tables at 80 columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 110)

# Source of `peak_rss_kb()` for measurement children, which import nothing of the harness.
# On Linux it reads VmHWM: ru_maxrss survives exec, so a child spawned by a big harness would
# report at least the harness's RSS (measured: a child of a 300 MB parent said 318 MB, VmHWM
# 11 MB). Elsewhere it falls back to ru_maxrss.
PEAK_RSS_SOURCE = """
def peak_rss_kb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource, sys
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak
"""


def shared_arxiv(*relative: str) -> Path:
    """The shared arXiv data directory (or a path inside it); exits 0 as skipped if absent.

    DIGESTBOT_BENCH_DATA overrides the location (the directory that holds `feeds/` and
    `listings/`).
    """
    base = Path(os.environ.get("DIGESTBOT_BENCH_DATA") or SHARED_ARXIV)
    target = base.joinpath(*relative)
    if not target.exists():
        skip(
            f"the real arXiv data is not present at {target} (it lives in ../shared/data/arxiv "
            "of the dev workspace; set DIGESTBOT_BENCH_DATA to point elsewhere)"
        )
    return target


def skip(reason: str) -> NoReturn:
    """Stop the benchmark as skipped, saying why, with exit code 0."""
    console.print(f"SKIPPED: {reason}")
    sys.exit(SKIP_EXIT)


def median(values: Sequence[float]) -> float:
    """The median of the values (the figure we report on noisy machines)."""
    return statistics.median(values)


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (pct in 0..100) of the values: an observed value, never
    an interpolated one, so p95 of 200 samples is the 190th smallest."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (nearest rank) of the values."""
    return percentile(values, 95)


def time_runs(
    action: Callable[[], object],
    runs: int,
    *,
    setup: Callable[[], object] | None = None,
    teardown: Callable[[], object] | None = None,
) -> list[float]:
    """Wall-clock seconds of `action` over `runs` runs; `setup`/`teardown` run untimed around
    each one (a fresh temp database, say)."""
    seconds: list[float] = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - start)
        if teardown is not None:
            teardown()
    return seconds


@dataclass(frozen=True, slots=True)
class ChildResult:
    """What a measurement child reported (its last JSON line) plus its peak RSS in MiB."""

    report: dict
    peak_rss_mb: float


def run_child(argv: Sequence[str], *, timeout: float = 600) -> ChildResult:
    """Run `python argv...` in a fresh process and return the JSON object it printed last.

    The child must print one JSON line with `peak_rss_kb`, its own peak RSS from
    `PEAK_RSS_SOURCE`, so neither the harness's memory nor its imports are counted.
    """
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"measurement child {argv} failed with exit code {done.returncode}:\n{done.stderr}"
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"measurement child {argv} printed no JSON:\n{done.stdout}")
    report = json.loads(lines[-1])
    return ChildResult(report, kb_to_mb(report["peak_rss_kb"]))


def kb_to_mb(kib: float) -> float:
    """KiB to MiB."""
    return kib / 1024


def machine_line() -> str:
    """One line naming the machine, so figures are read against the hardware they came from."""
    cores = os.cpu_count() or 0
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    import sqlite3

    return (
        f"{platform.node()} · {cores} cores · Python {platform.python_version()} · "
        f"SQLite {sqlite3.sqlite_version} · load avg {load}"
    )


def verdict(value: float, target: float, *, higher_is_better: bool) -> str:
    """'ok' or 'MISS' against a target, for the table's last column."""
    met = value >= target if higher_is_better else value < target
    return "[green]ok[/]" if met else "[bold red]MISS[/]"


def results_table(title: str, columns: Sequence[str]) -> Table:
    """A compact table with right-aligned figure columns after the first (label) column."""
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for index, name in enumerate(columns):
        table.add_column(name, justify="left" if index == 0 else "right", no_wrap=index == 0)
    return table


def header(name: str, notes: Sequence[str] = ()) -> None:
    """Print a benchmark's heading, the machine line and any method notes."""
    console.rule(f"[bold]{name}")
    console.print(machine_line())
    for note in notes:
        console.print(f"· {note}")
