"""Benchmark of our arXiv Atom parser (digest/feed.py) against the `arxiv` package's own
parser (`arxiv._feed.parse`), on the real saved responses in ../shared/data/arxiv/feeds.

Both parse the same bytes already in memory (no I/O is timed), each file `--runs` times
alternately, and the figure is the median per file in ms, papers per second, and the ratio
of the medians (theirs / ours: above 1 means ours is faster). The README and digest/feed.py
quote the ratio.

    .venv/bin/python bench/bench_feed.py [--runs 15]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arxiv import _feed as arxiv_feed

from bench.common import console, header, median, results_table, shared_arxiv
from digest.feed import parse_feed


def timed(parse: object, content: bytes) -> float:
    start = time.perf_counter()
    parse(content)  # type: ignore[operator]
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed parses per file and parser")
    args = parser.parse_args(argv)
    feeds = sorted(shared_arxiv("feeds").glob("*.atom.xml"))
    header(
        "arXiv feed parsing: digest.feed vs the arxiv package",
        [f"{args.runs} alternating runs per file and parser; medians; bytes in memory"],
    )
    table = results_table(
        "parse one saved API response",
        ["file", "papers", "ours ms", "arxiv ms", "ours papers/s", "ratio arxiv/ours"],
    )
    ratios = []
    for path in feeds:
        content = path.read_bytes()
        papers = len(parse_feed(content).results)
        arxiv_feed.parse(content)  # warm both once: imports, lxml's first-use costs
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(args.runs):
            ours.append(timed(parse_feed, content))
            theirs.append(timed(arxiv_feed.parse, content))
        ratio = median(theirs) / median(ours)
        ratios.append(ratio)
        table.add_row(
            path.name,
            f"{papers:,}",
            f"{median(ours) * 1000:.1f}",
            f"{median(theirs) * 1000:.1f}",
            f"{papers / median(ours):,.0f}",
            f"{ratio:.2f}x",
        )
    console.print(table)
    console.print(f"ratio range over the files: {min(ratios):.2f}x to {max(ratios):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
