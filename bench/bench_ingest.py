"""Benchmark of feed ingestion: papers/s into an empty and into a full corpus, and peak RSS.

Measures the real code path, `digest.ingest.ingest_feed_file` (parse + topic filter + upsert
+ FTS triggers, one transaction), on the 2,489-paper week of real listings, with the built-in
post-train topic and without a topic. The re-ingest checks the whole file but parses, judges
and writes no paper (all unchanged: issue 16). Each run uses a fresh temp SQLite file (WAL, as the
bot opens it); opening and migrating it is not timed. Peak RSS comes from a fresh child
process that does one ingest and one re-ingest, so this harness's memory is not counted.

    .venv/bin/python bench/bench_ingest.py [--runs 5] [--rss-runs 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    PEAK_RSS_SOURCE,
    console,
    header,
    median,
    results_table,
    run_child,
    shared_arxiv,
    time_runs,
    verdict,
)
from digest.feed import read_feed_file
from digest.ingest import ingest_feed_file
from digest.topics import POST_TRAIN, Topic
from storage import open_corpus

FEED = ("feeds", "listings_2026-05-14_to_05-21_all.atom.xml")
EXPECTED_PAPERS = 2489
TARGET_EMPTY = 2_000.0  # papers/s into an empty corpus
TARGET_FULL = 20_000.0  # papers/s re-ingesting into the now-full corpus (issue 16)
TARGET_RSS_MB = 200.0

# The RSS child imports only what `digestbot ingest --feed` needs (no rich, no bench code),
# does one ingest and one re-ingest with the post-train topic, and prints its peak RSS.
_RSS_CHILD = (
    PEAK_RSS_SOURCE
    + """
import json, resource, sys, tempfile
from pathlib import Path
from digest.ingest import ingest_feed_file
from digest.topics import POST_TRAIN
from storage import open_corpus
baseline = peak_rss_kb()
with tempfile.TemporaryDirectory(prefix="digestbot-bench-") as tmp:
    corpus = open_corpus(Path(tmp) / "corpus.db")
    first = ingest_feed_file(corpus, sys.argv[1], POST_TRAIN)
    again = ingest_feed_file(corpus, sys.argv[1], POST_TRAIN)
    corpus.close()
print(json.dumps({
    "peak_rss_kb": peak_rss_kb(),
    "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "baseline_kb": baseline,
    "new": first.counts.new,
    "unchanged": again.counts.unchanged,
}))
"""
)


class IngestRuns:
    """Timed ingest + re-ingest runs of one feed with one topic (or none), fresh DB each run."""

    def __init__(self, feed: Path, topic: Topic | None) -> None:
        self.feed = feed
        self.topic = topic
        self.empty_s: list[float] = []
        self.full_s: list[float] = []
        self.empty_cpu: list[float] = []  # process CPU seconds: less disturbed by other load
        self.full_cpu: list[float] = []
        self.papers = 0
        self.filed = 0

    def run_once(self, *, record: bool = True) -> None:
        """One fresh temp corpus: time the first ingest, then the re-ingest into it."""
        with tempfile.TemporaryDirectory(prefix="digestbot-bench-") as tmp:
            corpus = open_corpus(Path(tmp) / "corpus.db")
            try:
                start, start_cpu = time.perf_counter(), time.process_time()
                first = ingest_feed_file(corpus, self.feed, self.topic)
                middle, middle_cpu = time.perf_counter(), time.process_time()
                again = ingest_feed_file(corpus, self.feed, self.topic)
                end, end_cpu = time.perf_counter(), time.process_time()
            finally:
                corpus.close()
        if first.counts.new != EXPECTED_PAPERS or again.counts.unchanged != EXPECTED_PAPERS:
            raise RuntimeError(
                f"unexpected counts: first {first.counts}, again {again.counts} "
                f"(expected {EXPECTED_PAPERS} new, then {EXPECTED_PAPERS} unchanged)"
            )
        self.papers, self.filed = first.counts.total, first.filed
        if record:
            self.empty_s.append(middle - start)
            self.full_s.append(end - middle)
            self.empty_cpu.append(middle_cpu - start_cpu)
            self.full_cpu.append(end_cpu - middle_cpu)


def measure_rss(feed: Path, children: int) -> None:
    """Print the peak RSS of fresh processes that each do one ingest + re-ingest."""
    results = [run_child(["-c", _RSS_CHILD, str(feed)]) for _ in range(children)]
    for result in results:
        if result.report["new"] != EXPECTED_PAPERS:
            raise RuntimeError(f"RSS child stored {result.report['new']} papers, not 2,489")
    peaks = [result.peak_rss_mb for result in results]
    maxrss = [result.report["ru_maxrss_kb"] / 1024 for result in results]
    baselines = [result.report["baseline_kb"] / 1024 for result in results]
    table = results_table(
        f"Peak RSS of a fresh process doing ingest + re-ingest, post-train topic "
        f"({children} children)",
        ["measure", "median MB", "max MB", "target", ""],
    )
    table.add_row(
        "after imports, before ingest", f"{median(baselines):.1f}", f"{max(baselines):.1f}"
    )
    table.add_row(
        "peak (VmHWM)",
        f"{median(peaks):.1f}",
        f"{max(peaks):.1f}",
        f"< {TARGET_RSS_MB:.0f}",
        verdict(max(peaks), TARGET_RSS_MB, higher_is_better=False),
    )
    table.add_row(
        "peak (ru_maxrss; valid as the harness is smaller)",
        f"{median(maxrss):.1f}",
        f"{max(maxrss):.1f}",
    )
    console.print(table)


def measure_throughput(feed: Path, runs: int) -> None:
    """Print ingest and re-ingest throughput, with and without the post-train topic."""
    table = results_table(
        f"Throughput: median of {runs} runs (papers/s = 2,489 / median s)",
        ["case", "median s", "min s", "max s", "papers/s", "target", "", "cpu papers/s"],
    )
    for label, topic in (("post-train topic", POST_TRAIN), ("no topic", None)):
        cases = IngestRuns(feed, topic)
        cases.run_once(record=False)
        for _ in range(runs):
            cases.run_once()
        for phase, seconds, cpu, target in (
            ("empty", cases.empty_s, cases.empty_cpu, TARGET_EMPTY),
            ("full", cases.full_s, cases.full_cpu, TARGET_FULL),
        ):
            rate = cases.papers / median(seconds)
            table.add_row(
                f"{label}, into {phase} corpus",
                f"{median(seconds):.3f}",
                f"{min(seconds):.3f}",
                f"{max(seconds):.3f}",
                f"{rate:,.0f}",
                f">= {target:,.0f}",
                verdict(rate, target, higher_is_better=True),
                f"{cases.papers / median(cpu):,.0f}",
            )
        if topic is not None:
            console.print(f"· {topic.name}: {cases.filed} of {cases.papers} papers filed")
    parse_s = time_runs(lambda: read_feed_file(feed), runs)
    table.add_row(
        "  of which parsing (read_feed_file)",
        f"{median(parse_s):.3f}",
        f"{min(parse_s):.3f}",
        f"{max(parse_s):.3f}",
        f"{EXPECTED_PAPERS / median(parse_s):,.0f}",
    )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    """Run the ingest benchmark and print its tables; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (default 5)")
    parser.add_argument("--rss-runs", type=int, default=3, help="RSS children (default 3)")
    args = parser.parse_args(argv)
    feed = shared_arxiv(*FEED)
    header(
        "bench_ingest: ingest_feed_file on the 2,489-paper listings feed",
        [
            f"feed {feed.name} ({feed.stat().st_size / 1e6:.1f} MB)",
            f"{args.runs} timed runs per case after 1 untimed warm-up; a fresh temp SQLite "
            "file per run (opening + migrations not timed)",
            "'empty' = ingest into the new corpus (parse + topic filter + upsert + FTS "
            "triggers, one transaction); 'full' = the same call again on the now-full corpus "
            "(the file checked whole, entries read to their id/version/updated, nothing "
            "parsed further, judged or written)",
            "RSS is measured first, in children spawned while this harness is still small",
            "cpu papers/s = 2,489 / median process CPU seconds: closer to an idle machine's "
            "wall-clock figure when other processes compete for the 2 cores",
        ],
    )
    measure_rss(feed, args.rss_runs)
    measure_throughput(feed, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
