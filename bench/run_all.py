"""Runner for every benchmark: each bench/bench_*.py in turn, as its own subprocess.

New benchmarks are picked up by their file name alone. Their output is passed through as it
comes; a summary follows. The exit code is 1 if any benchmark crashed (non-zero exit); one
that skipped itself for want of data (exit 0, a "SKIPPED:" line) is not a failure.

    .venv/bin/python bench/run_all.py [NAME_PART ...]   # e.g. `search` runs bench_search.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one benchmark run ended."""

    name: str
    returncode: int
    seconds: float
    skipped: bool

    @property
    def status(self) -> str:
        if self.returncode != 0:
            return f"FAILED (exit {self.returncode})"
        return "skipped" if self.skipped else "ok"


def discover(parts: list[str]) -> list[Path]:
    """The bench_*.py files, sorted; only those whose name contains one of `parts`, if any."""
    found = sorted(BENCH_DIR.glob("bench_*.py"))
    return [path for path in found if not parts or any(part in path.name for part in parts)]


def run(path: Path) -> Outcome:
    """Run one benchmark with this interpreter from the repo root, echoing its output live."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    skipped = False
    with subprocess.Popen(
        [sys.executable, str(path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            skipped = skipped or line.startswith("SKIPPED:")
            sys.stdout.write(line)
            sys.stdout.flush()
        returncode = child.wait()
    return Outcome(path.name, returncode, time.perf_counter() - start, skipped)


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks in turn and print a summary; 1 if any crashed."""
    benches = discover(sys.argv[1:] if argv is None else argv)
    if not benches:
        print(f"no bench_*.py matched in {BENCH_DIR}")
        return 1
    outcomes = []
    for path in benches:
        print(f"\n>>> {path.relative_to(REPO)}", flush=True)
        outcomes.append(run(path))
    print("\nSummary")
    for outcome in outcomes:
        print(f"  {outcome.name:<28} {outcome.status:<18} {outcome.seconds:7.1f} s")
    return 1 if any(outcome.returncode != 0 for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
