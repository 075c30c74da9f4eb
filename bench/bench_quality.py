"""Benchmark of how the offline digest reads, on the shared real weeks.

Per week it prints: theme coherence (for each theme, the share of its papers whose title or
contribution sentence names the theme's concept; goal >= 0.8 for every theme), the share of
"Other papers", sentences cut with "…" (0), LaTeX residue (0), dangling demonstratives in
statements about a paper (0), repeated boilerplate sentences (0), the share of the window's
papers given a descriptive TL;DR (>= 0.6), broken short names (0), and the engine time
(median wall seconds of `OfflineEngine.synthesize` on cold per-abstract caches; 87 papers
< 1 s, 2,489 < 8 s, and < 3 s as the issue-16 goal).

Weeks: the post-train weeks of 42 and 87 papers, one day of cs.AI/cs.LG (50 papers, post-train
topic), and all 2,489 listings papers as one topic-free week (its concepts are learned).

    .venv/bin/python bench/bench_quality.py [--runs 5] [--big-runs 3] [--show LABEL]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import console, header, median, results_table, shared_arxiv, time_runs, verdict

GENERATED_AT = datetime(2026, 6, 16, 7, 0, tzinfo=UTC)
WEEKS = (
    # label, file under the shared data, window (since, until), topic ("pt" = post-train,
    # "" = the topic-free listings topic whose concepts are learned)
    (
        "post-train 42",
        "feeds/post-train_2026-05-13_to_05-19.atom.xml",
        (date(2026, 5, 13), date(2026, 5, 19)),
        "pt",
    ),
    (
        "post-train 87",
        "feeds/post-train_2026-05-28_to_06-03.atom.xml",
        (date(2026, 5, 28), date(2026, 6, 3)),
        "pt",
    ),
    (
        "day 50",
        "atom_2026-07-13_cat-cs.AI-OR-cs.LG_newest_50entries.xml",
        (date(2026, 7, 10), date(2026, 7, 10)),
        "pt",
    ),
    (
        "listings 2489",
        "feeds/listings_2026-05-14_to_05-21_all.atom.xml",
        (date(2026, 5, 1), date(2026, 5, 28)),
        "",
    ),
)
TIME_TARGETS = {"post-train 87": 1.0, "listings 2489": 8.0}
ISSUE_16_TARGET = 3.0


def _window(spec: tuple[date, date]):
    from digest.windows import Window

    return Window(*spec)


def cold_caches() -> None:
    """Forget the per-abstract caches, so a timed run pays what a fresh process pays."""
    from digest.offline.text import clear_caches

    clear_caches()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the small weeks")
    parser.add_argument("--big-runs", type=int, default=3, help="timed runs of 2,489 papers")
    parser.add_argument("--show", metavar="LABEL", help="also print that week's text digest")
    args = parser.parse_args()

    from digest.feed import read_feed_file
    from digest.offline.analysis import WindowAnalysis
    from digest.offline.engine import OfflineEngine
    from digest.offline.quality import measure
    from digest.render import to_text
    from digest.synthesis import History, SynthesisRequest
    from digest.topics import POST_TRAIN, Topic

    listings = Topic(
        "listings",
        "AI/CL/CV listings",
        ("cs.CV", "cs.CL", "cs.AI", "cs.GR", "cs.IT", "cs.CE", "cs.GT", "cs.LG"),
        (),
    )
    header(
        "Offline digest quality on the shared weeks",
        [
            "coherence: per theme, share of its papers whose title or contribution sentence "
            "names its concept (min over themes shown; goal >= 0.8)",
            f"time: median wall seconds of OfflineEngine.synthesize over {args.runs} runs "
            f"({args.big_runs} for 2,489 papers), cold per-abstract caches, after a warm-up",
        ],
    )
    table = results_table(
        "Offline digest quality",
        # Short headers: the table must fit 110 columns when piped.
        ["week", "n", "themes", "coh", "Other", "…", "TeX", "dangl", "boil", "descr", "names", "s"],
    )
    engine = OfflineEngine()
    details = []
    for label, path, spec, topic_key in WEEKS:
        papers = tuple(read_feed_file(shared_arxiv(*path.split("/"))).results)
        topic = POST_TRAIN if topic_key == "pt" else listings
        request = SynthesisRequest(
            topic=topic,
            window=_window(spec),
            papers=papers,
            generated_at=GENERATED_AT,
            history=History(),
        )
        digest = engine.synthesize(request)  # warm-up, and the digest measured
        runs = args.big_runs if len(papers) > 500 else args.runs
        seconds = median(
            time_runs(lambda r=request: engine.synthesize(r), runs, setup=cold_caches)
        )
        analysis = WindowAnalysis(list(papers), topic.name)
        quality = measure(digest, analysis)
        target = TIME_TARGETS.get(label)
        table.add_row(
            label,
            str(len(papers)),
            str(len(quality.coherence)),
            f"{quality.min_coherence:.2f}",
            f"{quality.other_share:.0%}",
            str(quality.ellipsis_cuts),
            str(quality.latex_residue),
            str(quality.dangling),
            str(quality.boilerplate),
            f"{quality.descriptive_share:.2f}",
            str(len(quality.broken_names)),
            f"{seconds:.2f}",
        )
        if target:
            details.append(
                f"{label}: engine {seconds:.2f} s, target < {target:g} s: "
                + verdict(seconds, target, higher_is_better=False)
            )
        if len(papers) > 500:
            details.append(
                f"{label}: issue-16 goal < {ISSUE_16_TARGET:g} s: "
                + verdict(seconds, ISSUE_16_TARGET, higher_is_better=False)
            )
        themes = "; ".join(f"{name} {share:.2f}" for name, share in quality.coherence.items())
        details.append(f"{label} themes (coherence): {themes}")
        if quality.broken_names:
            details.append(f"{label} broken names: {', '.join(quality.broken_names)}")
        if args.show and args.show == label:
            console.print(to_text(digest))
    console.print(table)
    console.print(
        "columns: n papers, themes named, coh = lowest theme coherence, Other = share of "
        "papers in Other papers, … = cut sentences, TeX = LaTeX residue, dangl = dangling "
        "demonstratives, boil = repeated boilerplate, descr = share with a descriptive TL;DR, "
        "names = broken short names, s = median engine seconds"
    )
    for line in details:
        console.print(line)


if __name__ == "__main__":
    main()
