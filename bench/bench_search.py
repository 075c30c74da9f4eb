"""Benchmark of ranked full-text search (`Corpus.search`) against exact BM25, on a corpus of
200,000 (or `--papers`) distinct papers.

The corpus starts from the real daily listings in ../shared/data/arxiv/listings (id, title,
summary, authors, categories), deduplicated by id, and is grown with papers synthesised from
them (see `synthetic_papers`: real titles and abstracts with words and sentences swapped for
real ones drawn by their real frequency), so no two papers are the same: copies would tie in
BM25 and hide ranking errors. Inserted through `Corpus.upsert_papers` in batches, cached in
bench/.cache/ (git-ignored) and reused while the source files and the build recipe are
unchanged; opened through `open_corpus`, so pending migrations are applied to it.

A fixed, seeded set of 2-4 word queries drawn from real title words and bigrams runs through
`Corpus.search(text, limit=10)`: all words (the default), restricted to 200 ids, and
`any_term=True`. The baseline is FTS5 ranking every match by bm25() in the same run; the
overlap is the share of its top 10 that the search returns. "first search" is each query's
first run in a freshly opened corpus, which reads the postings of its words not read yet (as
after a restart); the very first search also loads the docs' lengths. The other figures are
the p50/p95/max over queries of each query's median over `--runs` runs. The index's size is
its tables' pages (dbstat) and its rebuild time that of indexing every stored paper again
(what migration 0009 does to an existing corpus), rolled back afterwards.

    .venv/bin/python bench/bench_search.py [--runs 5] [--papers 200000] [--queries 240]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    CACHE_DIR,
    REPO,
    console,
    header,
    median,
    p95,
    results_table,
    shared_arxiv,
    verdict,
)
from storage import Corpus, Paper, bm25_index, open_corpus
from storage.bm25 import fts_totals
from storage.corpus import fts_query

PAPERS = 200_000
BATCH = 5_000  # papers per upsert_papers call (one transaction each)
BUILD_RECIPE = 3  # bump when the way the corpus is built changes, to invalidate the cache
SEED = 20260521
QUERIES = 240
TARGET_P95_MS = 20.0
TARGET_OVERLAP = 0.9

# Words a user would not search for on their own; kept out of generated queries (but a
# hand-written query may still contain one, as users type them).
_STOP = set(
    """
    a an and are as at be beyond by can do does for from how in into is it its of on or our
    over the their this to toward towards under via vs we what when where which while who
    why with without your not all than more new using based through across between
    """.split()
)
_TITLE_WORD = re.compile(r"[a-z][a-z0-9]+")

# Realistic queries typed by hand, including the examples.
_CURATED = (
    "reward model",
    "preference optimization dpo",
    "vision language grounding",
    "diffusion video generation",
    "retrieval augmented generation",
    "chain of thought reasoning",
    "large language models",
    "reinforcement learning verifiable rewards",
    "instruction tuning",
    "multimodal large language model",
    "hallucination detection",
    "speculative decoding",
    "mixture of experts",
    "knowledge distillation",
    "text to image",
    "3d gaussian splatting",
    "medical image segmentation",
    "autonomous driving",
    "graph neural network",
    "in-context learning",
    "tool use agents",
    "code generation benchmark",
    "machine translation low resource",
    "point cloud",
)


@dataclass(frozen=True, slots=True)
class Row:
    """One real listing row: the fields the corpus stores, and the listing's day."""

    id: str
    title: str
    summary: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    listed: datetime


def read_listings(files: Sequence[Path]) -> list[Row]:
    """The unique papers of the listing files (first appearance wins), in file order."""
    rows: dict[str, Row] = {}
    for path in files:
        # A listing named D holds papers submitted about D-1: date them D-1 18:00 UTC.
        day = datetime.fromisoformat(path.stem).replace(tzinfo=UTC) - timedelta(hours=6)
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                item = json.loads(line)
                if item["id"] in rows or not item.get("categories"):
                    continue
                rows[item["id"]] = Row(
                    id=item["id"],
                    title=item["title"] or "",
                    summary=item["summary"] or "",
                    authors=tuple(item["authors"] or ()),
                    categories=tuple(item["categories"]),
                    listed=day,
                )
    return list(rows.values())


def synthetic_papers(rows: Sequence[Row], total: int) -> Iterator[Paper]:
    """`total` distinct papers: the real rows with their ids, then synthesised ones with
    renumbered ids (3001.00001 ... 3001.99999, 3002.00001 ...), each "copy" dated a week
    earlier than the last.

    A synthesised paper starts from a real one (its base) and is made distinct while keeping
    real term statistics: each title word is swapped, with probability 0.25, for a word drawn
    from all real title words (so by their real frequency); each abstract sentence is swapped,
    with probability 0.3, for a sentence of another random real paper, then 10% of the abstract
    words for words drawn from all real abstract words; the authors are drawn from all real
    authors. Copies of one listing would tie in BM25 and hide ranking errors; these do not.
    """
    rng = random.Random(SEED)
    title_words = [w for row in rows for w in row.title.split()]
    abstract_words = [w for row in rows for w in row.summary.split()]
    all_authors = [a for row in rows for a in row.authors]
    sentences = [re.split(r"(?<=\.)\s+", row.summary) for row in rows]
    serial = 0
    copy = 0
    while True:
        shift = timedelta(weeks=copy)
        for index, row in enumerate(rows):
            if serial >= total:
                return
            title, summary, authors = row.title, row.summary, row.authors
            if copy == 0:
                paper_id = row.id
            else:
                block, number = divmod(serial - len(rows), 99_999)
                paper_id = f"{3001 + block}.{number + 1:05d}"
                title = _perturb(rng, title.split(), title_words, 0.25)
                parts = [
                    rng.choice(sentences[rng.randrange(len(rows))]) if rng.random() < 0.3 else s
                    for s in sentences[index]
                ]
                summary = _perturb(rng, " ".join(parts).split(), abstract_words, 0.1)
                authors = tuple(rng.choices(all_authors, k=max(1, len(authors))))
            published = row.listed - shift
            yield Paper(
                id=paper_id,
                version=1,
                title=title,
                abstract=summary,
                authors=authors,
                categories=row.categories,
                primary_category=row.categories[0],
                published=published,
                updated=published,
            )
            serial += 1
        copy += 1


def _perturb(rng: random.Random, words: list[str], pool: Sequence[str], share: float) -> str:
    """The words with about `share` of them swapped for words drawn from `pool`."""
    if not words:
        return ""
    count = (
        sum(1 for _ in range(len(words)) if rng.random() < share)
        if len(words) < 8
        else (round(len(words) * share))
    )
    swaps = zip(rng.sample(range(len(words)), count), rng.choices(pool, k=count), strict=True)
    for position, word in swaps:
        words[position] = word
    return " ".join(words)


def cache_path(files: Sequence[Path], papers: int) -> Path:
    """The cached corpus for these source files (names and sizes) and this recipe."""
    key = hashlib.sha256(
        json.dumps(
            [BUILD_RECIPE, papers, BATCH, [(f.name, f.stat().st_size) for f in files]]
        ).encode()
    ).hexdigest()[:12]
    return CACHE_DIR / f"search-corpus-{papers}-{key}.db"


def build_corpus(target: Path, rows: Sequence[Row], papers: int) -> float:
    """Build the corpus at `target` through `Corpus.upsert_papers` in batches; returns the
    seconds it took. Written under a temporary name and renamed when complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.db")  # *.db: covered by the ignore rules too
    for stale in target.parent.glob(partial.name + "*"):
        stale.unlink()
    start = time.perf_counter()
    corpus = open_corpus(partial)
    try:
        batch: list[Paper] = []
        for paper in synthetic_papers(rows, papers):
            batch.append(paper)
            if len(batch) == BATCH:
                corpus.upsert_papers(batch)
                batch = []
        if batch:
            corpus.upsert_papers(batch)
        stored = corpus.count_papers()
    finally:
        corpus.close()  # the last connection: checkpoints and removes the WAL
    seconds = time.perf_counter() - start
    if stored != papers:
        raise RuntimeError(f"built corpus holds {stored} papers, expected {papers}")
    partial.rename(target)
    return seconds


def title_words(title: str) -> list[str]:
    """The lowercased content words of a title, in order (stop words dropped)."""
    return [w for w in _TITLE_WORD.findall(title.lower()) if w not in _STOP]


def make_queries(rows: Sequence[Row], count: int, seed: int = SEED) -> list[str]:
    """A fixed, seeded list of `count` distinct 2-4 word queries: the curated ones, then
    frequent title bigrams (alone or with a word from a title that has them), then
    runs of 2-4 consecutive content words of random real titles."""
    rng = random.Random(seed)
    titles = [title_words(row.title) for row in rows]
    bigrams: Counter[tuple[str, str]] = Counter()
    holders: dict[tuple[str, str], list[int]] = {}
    for index, words in enumerate(titles):
        # dict, not set: insertion order keeps most_common's tie order independent of hashing
        for pair in dict.fromkeys(pairwise(words)):
            bigrams[pair] += 1
            holders.setdefault(pair, []).append(index)
    common = [pair for pair, seen in bigrams.most_common(300) if seen >= 3]
    queries: list[str] = list(dict.fromkeys(_CURATED))
    seen = set(queries)

    def add(words: Sequence[str]) -> None:
        text = " ".join(words)
        if 2 <= len(words) <= 4 and text not in seen:
            seen.add(text)
            queries.append(text)

    while len(queries) < count:
        kind = rng.random()
        if kind < 0.25:  # a frequent bigram: many matches, the hard case for ranking
            add(rng.choice(common))
        elif kind < 0.5:  # a frequent bigram narrowed by another word of a title holding it
            pair = rng.choice(common)
            words = titles[rng.choice(holders[pair])]
            extra = [w for w in words if w not in pair]
            if extra:
                add([*pair, rng.choice(extra)])
        else:  # 2-4 consecutive content words of a random real title
            words = rng.choice(titles)
            size = rng.choice((2, 2, 3, 3, 4))
            if len(words) >= size:
                start = rng.randrange(len(words) - size + 1)
                add(words[start : start + size])
    return queries[:count]


def match_counts(database: Path, queries: Sequence[str]) -> list[int]:
    """How many papers each all-terms query matches: the rows BM25 has to score."""
    with closing(sqlite3.connect(database)) as conn:
        counts = []
        for text in queries:
            match = fts_query(text)
            sql = "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?"
            counts.append(conn.execute(sql, [match]).fetchone()[0] if match else 0)
    return counts


def percentiles(values: Sequence[float]) -> str:
    return f"{median(values):.1f} / {p95(values):.1f} / {max(values):.1f}"


def exact_top(corpus: Corpus, query: str, *, any_term: bool = False) -> list[int]:
    """The baseline: FTS5 ranks every match with bm25() (rowids of the top 10)."""
    match = fts_query(query, any_term=any_term)
    if match is None:
        return []
    with corpus.reading() as db:
        return [r for r, _ in Corpus._ranked_by_fts(db.conn, match, 10, None)]


def index_size(database: Path) -> tuple[float, float]:
    """MB of the postings' tables and of FTS5's own tables (dbstat pages)."""
    with closing(sqlite3.connect(database)) as conn:
        sizes = dict(
            conn.execute(
                "SELECT CASE WHEN name LIKE 'bm25%' OR name LIKE 'sqlite_autoindex_bm25%'"
                " THEN 'bm25' WHEN name LIKE 'papers_fts%' THEN 'fts' ELSE 'other' END AS part,"
                " sum(pgsize) FROM dbstat GROUP BY part"
            ).fetchall()
        )
    return sizes.get("bm25", 0) / 1e6, sizes.get("fts", 0) / 1e6


def rebuild_seconds(database: Path) -> tuple[float, float]:
    """Seconds to index every stored paper again (migration 0009's work), and the MB of
    the postings so built (in the current format), rolled back."""
    with closing(sqlite3.connect(database, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        try:
            for table in ("bm25_meta", "bm25_segments", "bm25_postings", "bm25_docs", "bm25_dead"):
                conn.execute(f"DROP TABLE {table}")
            start = time.perf_counter()
            bm25_index.create(conn)
            bm25_index.index_all(conn)
            seconds = time.perf_counter() - start
            meta = bm25_index.read_meta(conn)
            if (meta.rows, meta.tokens) != fts_totals(conn):
                raise RuntimeError("the rebuilt index does not cover FTS5's rows")
            size = conn.execute(
                "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'bm25%'"
                " OR name LIKE 'sqlite_autoindex_bm25%'"
            ).fetchone()[0]
        finally:
            conn.execute("ROLLBACK")
    return seconds, size / 1e6


def rowids_of(corpus: Corpus, hits: Sequence) -> list[int]:
    """The rowids of search hits (the baseline speaks rowids)."""
    ids = [h.paper.id for h in hits]
    if not ids:
        return []
    with corpus.reading() as db:
        marks = ",".join("?" * len(ids))
        found = dict(db.execute(f"SELECT id, rowid FROM papers WHERE id IN ({marks})", ids))
    return [found[i] for i in ids]


@dataclass
class Mode:
    """One way of searching, timed over the query set, with its answers."""

    label: str
    wall: list[float]  # per query: median ms over the runs
    cpu: list[float]  # per query: median ms of this thread's CPU time
    answers: list[list[int]]  # per query: rowids of the top 10


def time_mode(
    label: str, queries: Sequence[str], runs: int, search: Callable[[str], list[int]]
) -> Mode:
    """`runs` timed passes over every query (after whatever warm-up the caller did)."""
    wall: list[list[float]] = []
    cpu: list[list[float]] = []
    answers: list[list[int]] = []
    for query in queries:
        times, cpus = [], []
        for _ in range(runs):
            start, start_cpu = time.perf_counter(), time.thread_time()
            found = search(query)
            cpus.append((time.thread_time() - start_cpu) * 1000)
            times.append((time.perf_counter() - start) * 1000)
        wall.append(times)
        cpu.append(cpus)
        answers.append(found)
    return Mode(label, [median(t) for t in wall], [median(c) for c in cpu], answers)


def overlap(found: Sequence[list[int]], wanted: Sequence[list[int]]) -> tuple[float, float, int]:
    """Mean and min top-10 overlap with the baseline (share of its top 10 found, 1 when the
    baseline found nothing), and how many answers are identical, order included."""
    shares = [
        len(set(f) & set(w)) / len(w) if w else float(not f)
        for f, w in zip(found, wanted, strict=True)
    ]
    same = sum(f == w for f, w in zip(found, wanted, strict=True))
    return statistics.fmean(shares), min(shares), same


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the corpus, time ranked search against the exact baseline, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed passes (default 5)")
    parser.add_argument(
        "--exact-runs", type=int, default=1, help="timed passes of the baseline (default 1)"
    )
    parser.add_argument("--papers", type=int, default=PAPERS, help="corpus size (200,000)")
    parser.add_argument("--queries", type=int, default=QUERIES, help="queries (240)")
    parser.add_argument(
        "--any-queries",
        type=int,
        default=60,
        help="queries timed with any_term=True (default 60: its baseline is slow)",
    )
    parser.add_argument("--rebuild", action="store_true", help="ignore the cached corpus")
    parser.add_argument(
        "--rebuild-index", action="store_true", help="time indexing every paper again"
    )
    args = parser.parse_args(argv)
    files = sorted(shared_arxiv("listings").glob("*.jsonl"))
    if not files:
        shared_arxiv("listings", "*.jsonl")  # exits as skipped, naming what is missing
    rows = read_listings(files)
    target = cache_path(files, args.papers)

    header(
        f"bench_search: Corpus.search on a {args.papers:,}-paper corpus of distinct papers",
        [
            f"corpus: {len(rows):,} unique real papers from {len(files)} listing files, then "
            f"papers synthesised from them up to {args.papers:,} (each real paper's title "
            "words swapped at 25% and abstract sentences at 30% for real ones drawn from the "
            "whole listing, then 10% of abstract words; see synthetic_papers); upsert_papers "
            f"in batches of {BATCH:,}",
            "baseline: exact BM25, FTS5 ranking every match (ORDER BY bm25 LIMIT 10); "
            "overlap = share of the baseline's top 10 that Corpus.search returns",
        ],
    )
    if args.rebuild and target.exists():
        target.unlink()
    if target.exists():
        console.print(f"· reusing the cached corpus {target.relative_to(REPO)}")
    else:
        console.print(f"· building {target.relative_to(REPO)} ...")
        seconds = build_corpus(target, rows, args.papers)
        console.print(
            f"· built in {seconds:.1f} s ({args.papers / seconds:,.0f} papers/s), "
            f"{target.stat().st_size / 1e6:.0f} MB"
        )

    queries = make_queries(rows, args.queries)
    sizes = Counter(len(q.split()) for q in queries)
    console.print(
        f"· {len(queries)} queries (seed {SEED}): "
        + ", ".join(f"{sizes[n]} of {n} words" for n in sorted(sizes))
        + f"; e.g. {', '.join(repr(q) for q in queries[24:28])}"
    )
    matches = match_counts(target, queries)
    console.print(
        f"· all-terms matches per query: median {median(matches):,.0f}, p95 {p95(matches):,}, "
        f"max {max(matches):,}"
    )
    postings_mb, fts_mb = index_size(target)
    console.print(
        f"· file {target.stat().st_size / 1e6:,.0f} MB: postings (bm25_*) {postings_mb:,.0f} MB, "
        f"FTS5's tables {fts_mb:,.0f} MB"
    )
    if args.rebuild_index:
        seconds, megabytes = rebuild_seconds(target)
        console.print(
            f"· rebuilding the postings from the stored papers: {seconds:.1f} s "
            f"({args.papers / seconds:,.0f} papers/s), {megabytes:,.0f} MB"
        )
    console.print(
        "· per query the median of N runs; p50/p95/max across queries; cpu = this thread's "
        "CPU time (less disturbed by other load on the machine)"
    )

    with open_corpus(target) as corpus:
        # The first searches after the corpus is opened read their words' postings (the very
        # first also loads every doc's length); later ones find them cached.
        start = time.perf_counter()
        corpus.search("reward model")
        first_ms = (time.perf_counter() - start) * 1000
        cold = time_mode(
            "first search of its words (reads postings)",
            queries,
            1,
            lambda q: rowids_of(corpus, corpus.search(q)),
        )
        warm = time_mode(
            "Corpus.search (default, all words)",
            queries,
            args.runs,
            lambda q: rowids_of(corpus, corpus.search(q)),
        )
        baseline = time_mode(
            "exact BM25 baseline (FTS5 ranks all matches)",
            queries,
            args.exact_runs,
            lambda q: exact_top(corpus, q),
        )
        restrict = random.Random(SEED).sample([r.id for r in rows], 200)
        any_queries = queries[: args.any_queries]
        restricted = time_mode(
            "ids=200 papers",
            queries,
            args.runs,
            lambda q: rowids_of(corpus, corpus.search(q, ids=restrict)),
        )
        any_cold = time_mode(
            f"any_term, {len(any_queries)} queries: first search",
            any_queries,
            1,
            lambda q: rowids_of(corpus, corpus.search(q, any_term=True)),
        )
        any_warm = time_mode(
            f"any_term=True, {len(any_queries)} queries",
            any_queries,
            args.runs,
            lambda q: rowids_of(corpus, corpus.search(q, any_term=True)),
        )
        any_exact = time_mode(
            f"any_term exact baseline, {len(any_queries)} queries",
            any_queries,
            args.exact_runs,
            lambda q: exact_top(corpus, q, any_term=True),
        )

    table = results_table(
        f"Search latency, limit=10, {len(queries)} queries, ms (p50 / p95 / max)",
        ["mode", "N", "wall", "cpu", "p95 vs baseline", "target p95", ""],
    )
    for mode, runs, base, target_row in (
        (baseline, args.exact_runs, None, False),
        (cold, 1, baseline, False),
        (warm, args.runs, baseline, True),
        (restricted, args.runs, None, False),
        (any_exact, args.exact_runs, None, False),
        (any_cold, 1, any_exact, False),
        (any_warm, args.runs, any_exact, False),
    ):
        table.add_row(
            mode.label,
            str(runs),
            percentiles(mode.wall),
            percentiles(mode.cpu),
            f"{p95(base.wall) / p95(mode.wall):.1f}x faster" if base else "",
            f"< {TARGET_P95_MS:.0f}" if target_row else "",
            verdict(p95(mode.wall), TARGET_P95_MS, higher_is_better=False) if target_row else "",
        )
    console.print(table)
    for label, found, wanted in (
        ("all words", warm.answers, baseline.answers),
        ("any_term", any_warm.answers, any_exact.answers),
    ):
        mean, low, same = overlap(found, wanted)
        console.print(
            f"· top-10 overlap with exact BM25, {label}: mean {mean:.3f} (target >= "
            f"{TARGET_OVERLAP}), min {low:.2f}; identical top 10 (order too) for {same} of "
            f"{len(found)} queries"
        )
    console.print(
        f"· the first search after opening the corpus (numpy import, docs' lengths, its words' "
        f"postings): {first_ms:.0f} ms"
    )
    for label, keep in (
        ("broad (> 5,000 matches)", lambda n: n > 5_000),
        ("narrow", lambda n: n <= 5_000),
    ):
        part = [
            (ms, cpu) for ms, cpu, n in zip(warm.wall, warm.cpu, matches, strict=True) if keep(n)
        ]
        if part:
            console.print(
                f"· {label} queries ({len(part)}): wall p50/p95 {median([w for w, _ in part]):.1f}"
                f" / {p95([w for w, _ in part]):.1f} ms, cpu {median([c for _, c in part]):.1f}"
                f" / {p95([c for _, c in part]):.1f} ms"
            )
    slowest = sorted(zip(warm.wall, queries, matches, strict=True), reverse=True)[:5]
    console.print(
        "· slowest: " + "; ".join(f"{q!r} {ms:.0f} ms ({n:,} matches)" for ms, q, n in slowest)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
