"""Benchmark of question answering on a 200,000-paper corpus: resolution + retrieval
(`Resolver.resolve`) and the offline answer end to end (`QuestionAnswerer.answer`, then
rendered to messages and JSON).

The corpus is bench_search's (real listings repeated with synthetic ids to 200,000 papers,
cached in bench/.cache/), copied once to a QA corpus of its own with four stored weekly
digests of 100 real papers each, so names shown in digests are part of resolution as they
are in the bot. The copy is cached too (git-ignored); nothing is committed.

Questions (seeded, 210): arXiv ids in six forms; paper names ("what does X do?", some with a
typo); titles with a dropped letter (half typed in part); topic words ("which papers are
about X?" and bare words, from bench_search's query maker); and ten bad inputs (FTS syntax,
emoji, 10 kB, mentions). No network: ids are in the corpus, full text is not fetched.

Each measured object is built once, as the bot builds it, then: a warm-up over 40 other
questions; one timed pass in which every question is asked for the first time (its words'
counts are not cached yet); then `--runs` timed passes (steady state). Figures: p50/p95/max
over questions, in ms.

    .venv/bin/python bench/bench_qa.py [--runs 5] [--rebuild]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_search import (
    PAPERS,
    Row,
    build_corpus,
    cache_path,
    make_queries,
    read_listings,
)
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
from digest.model import CatalogEntry, Digest
from digest.qa import QuestionAnswerer, answer_json, answer_messages
from digest.qa.resolve import Resolver
from digest.shortnames import short_name, short_names
from storage import Corpus, Paper, open_corpus

QA_RECIPE = 1  # bump when the QA corpus is built differently
SEED = 20260604
TARGET_RESOLVE_P95_MS = 30.0
TARGET_ANSWER_P95_MS = 100.0
DIGESTS = 4
DIGEST_PAPERS = 100
BAD = (
    "c++ AND (",
    'what is "GRPO',
    "NEAR(",
    "*",
    "reward hacking " * 700,
    "🙂🔥🤖",
    "מה זה GRPO? ما هو",
    "what\x00 is\x07 this\u202e?",
    "",
    "@everyone <!channel> which papers use DPO?",
)


@dataclass(frozen=True, slots=True)
class Question:
    """One benchmark question; `expected` is the title of the paper it names, if any (the
    corpus repeats each real paper under synthetic ids, so the title is what identifies it)."""

    kind: str
    text: str
    expected: str = ""


def qa_cache_path(search_db: Path) -> Path:
    key = hashlib.sha256(json.dumps([QA_RECIPE, search_db.name]).encode()).hexdigest()[:12]
    return CACHE_DIR / f"qa-corpus-{PAPERS}-{key}.db"


def _paper(row: Row) -> Paper:
    return Paper(
        id=row.id,
        version=1,
        title=row.title,
        abstract=row.summary,
        authors=row.authors,
        categories=row.categories,
        primary_category=row.categories[0],
        published=row.listed,
        updated=row.listed,
    )


def digest_rows(rows: Sequence[Row]) -> list[list[Row]]:
    """Four weeks' worth of digest papers: 100 real papers from each of four listing days."""
    by_day: dict[datetime, list[Row]] = {}
    for row in rows:
        by_day.setdefault(row.listed, []).append(row)
    days = sorted(by_day)[-DIGESTS:]
    return [by_day[day][:DIGEST_PAPERS] for day in days]


def build_qa_corpus(target: Path, search_db: Path, rows: Sequence[Row]) -> float:
    """Copy the search corpus and store the digests; returns the seconds it took."""
    start = time.perf_counter()
    partial = target.with_suffix(".partial.db")
    partial.unlink(missing_ok=True)
    with (
        closing(sqlite3.connect(f"file:{search_db}?mode=ro", uri=True)) as source,
        closing(sqlite3.connect(partial)) as copy,
    ):
        source.backup(copy)
    with open_corpus(partial) as corpus:  # applies the migrations the copy lacks
        for week in digest_rows(rows):
            papers = [_paper(r) for r in week]
            names = short_names(papers)
            until = max(p.published for p in papers).date()
            since = until - timedelta(days=6)
            digest = Digest(
                topic="post-train",
                title="Digest",
                since=since,
                until=until,
                generated_at=datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC),
                paper_count=len(papers),
                query="q",
                synthesizer="offline",
                style="",
                gist="",
                sections=(),
                papers=tuple(
                    CatalogEntry(p.id, names[p.id], p.title, p.authors, p.primary_category)
                    for p in papers
                ),
            )
            corpus.save_digest(
                topic="post-train",
                since=since,
                until=until,
                engine="offline",
                generated_at=digest.generated_at,
                body=digest.to_json(),
            )
    partial.rename(target)
    return time.perf_counter() - start


def _typo(text: str) -> str:
    words = text.split()
    index = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[index]
    if len(word) >= 6:
        middle = len(word) // 2
        words[index] = word[:middle] + word[middle + 1] + word[middle] + word[middle + 2 :]
    return " ".join(words)


def _dropped(text: str) -> str:
    words = text.split()
    index = max(range(len(words)), key=lambda i: len(words[i]))
    words[index] = words[index][:2] + words[index][3:]
    return " ".join(words)


def make_questions(rows: Sequence[Row], seed: int) -> list[Question]:
    """The seeded question set (see the module docstring)."""
    rng = random.Random(seed)
    real = [r for r in rows if r.title and r.summary]
    out: list[Question] = []
    forms = (
        "{id}",
        "{id}v2",
        "arXiv:{id}",
        "https://arxiv.org/abs/{id}",
        "https://arxiv.org/pdf/{id}v1.pdf",
        "tell me about {id}",
    )
    for index, row in enumerate(rng.sample(real, 40)):
        out.append(Question("id", forms[index % len(forms)].format(id=row.id), row.title))
    named = [r for r in real if ":" in r.title and short_name(r.title) == r.title.split(":")[0]]
    digest_named = [r for week in digest_rows(rows) for r in week if r in set(named)]
    picks = rng.sample(digest_named, min(20, len(digest_named)))
    picks += rng.sample(named, 40 - len(picks))
    for index, row in enumerate(picks):
        name = short_name(row.title)
        typed = _typo(name) if index % 3 == 0 else name
        out.append(Question("name", f"what does {typed} do?", row.title))
    for index, row in enumerate(rng.sample(real, 40)):
        title = _dropped(row.title)
        if index % 2:
            title = " ".join(title.split()[:7])
        out.append(Question("title", title, row.title))
    for index, query in enumerate(make_queries(rows, 80, seed=seed)):
        out.append(Question("topic", f"which papers are about {query}?" if index % 2 else query))
    out += [Question("bad", text) for text in BAD]
    return out


def time_questions(
    action: Callable[[str], object], questions: Sequence[Question], runs: int
) -> tuple[list[float], list[float]]:
    """(first-ask ms per question, median steady-state ms per question)."""
    first: list[float] = []
    for question in questions:
        start = time.perf_counter()
        action(question.text)
        first.append((time.perf_counter() - start) * 1000)
    passes: list[list[float]] = []
    for _ in range(runs):
        timings = []
        for question in questions:
            start = time.perf_counter()
            action(question.text)
            timings.append((time.perf_counter() - start) * 1000)
        passes.append(timings)
    steady = [median(column) for column in zip(*passes, strict=True)]
    return first, steady


def _answer(qa: QuestionAnswerer) -> Callable[[str], object]:
    def run(text: str) -> object:
        answer = qa.answer(text)
        answer_messages(answer)
        return answer_json(answer)

    return run


def check_answers(corpus: Corpus, questions: Sequence[Question]) -> dict[str, tuple[int, int]]:
    """Per kind: (questions whose paper was named first, questions naming a paper)."""
    resolver = Resolver(corpus)
    scores: dict[str, list[int]] = {}
    for question in questions:
        if not question.expected:
            continue
        named = resolver.resolve(question.text).named
        hit = bool(named) and named[0].paper.title == question.expected
        score = scores.setdefault(question.kind, [0, 0])
        score[0] += int(hit)
        score[1] += 1
    return {kind: (hit, total) for kind, (hit, total) in scores.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="steady-state passes (default 5)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached QA corpus")
    args = parser.parse_args(argv)
    files = sorted(shared_arxiv("listings").glob("*.jsonl"))
    if not files:
        shared_arxiv("listings", "*.jsonl")  # exits as skipped, naming what is missing
    rows = read_listings(files)
    search_db = cache_path(files, PAPERS)
    target = qa_cache_path(search_db)
    header(
        f"bench_qa: resolution + retrieval and offline answers on {PAPERS:,} papers",
        [
            f"corpus: bench_search's ({len(rows):,} unique real papers repeated to "
            f"{PAPERS:,}) plus {DIGESTS} stored digests of {DIGEST_PAPERS} papers",
        ],
    )
    if args.rebuild:
        target.unlink(missing_ok=True)
    if not target.exists():
        if not search_db.exists():
            console.print(f"· building the search corpus {search_db} ...")
            build_corpus(search_db, rows, PAPERS)
        console.print(f"· building {target.relative_to(REPO)} ...")
        console.print(f"· built in {build_qa_corpus(target, search_db, rows):.1f} s")
    else:
        console.print(f"· reusing {target.relative_to(REPO)}")

    questions = make_questions(rows, SEED)
    warmup = make_questions(rows, SEED + 1)[::5][:40]
    counts = {
        k: sum(q.kind == k for q in questions) for k in ("id", "name", "title", "topic", "bad")
    }
    console.print(
        f"· {len(questions)} questions: "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + f"; warm-up {len(warmup)} others; then 1 first-ask pass and {args.runs} passes"
    )
    with open_corpus(target) as corpus:
        console.print(f"· {corpus.count_papers():,} papers in the corpus")
        resolver = Resolver(corpus)
        for question in warmup:
            resolver.resolve(question.text)
        resolve_first, resolve_steady = time_questions(
            lambda t: resolver.resolve(t), questions, args.runs
        )
        qa = QuestionAnswerer(corpus)
        for question in warmup:
            qa.answer(question.text)
        answer_first, answer_steady = time_questions(_answer(qa), questions, args.runs)
        accuracy = check_answers(corpus, questions)

    table = results_table(
        "Latency per question (ms)", ["measure", "pass", "p50", "p95", "max", "target p95", ""]
    )
    for label, first, steady, target_ms in (
        ("resolution + retrieval", resolve_first, resolve_steady, TARGET_RESOLVE_P95_MS),
        ("offline answer, end to end", answer_first, answer_steady, TARGET_ANSWER_P95_MS),
    ):
        for name, values in (("first ask", first), (f"steady (median of {args.runs})", steady)):
            table.add_row(
                label,
                name,
                f"{median(values):.1f}",
                f"{p95(values):.1f}",
                f"{max(values):.1f}",
                f"< {target_ms:.0f}",
                verdict(p95(values), target_ms, higher_is_better=False),
            )
    console.print(table)
    kinds = table_by_kind(questions, resolve_first, answer_first)
    console.print(kinds)
    console.print(
        "· the named paper first: "
        + ", ".join(f"{k} {hit}/{total}" for k, (hit, total) in accuracy.items())
    )
    return 0


def table_by_kind(
    questions: Sequence[Question], resolve_first: Sequence[float], answer_first: Sequence[float]
):
    table = results_table(
        "First ask by kind of question (ms)",
        ["kind", "n", "resolve p50", "resolve p95", "answer p50", "answer p95"],
    )
    for kind in ("id", "name", "title", "topic", "bad"):
        picked = [i for i, q in enumerate(questions) if q.kind == kind]
        resolve = [resolve_first[i] for i in picked]
        answer = [answer_first[i] for i in picked]
        table.add_row(
            kind,
            str(len(picked)),
            f"{median(resolve):.1f}",
            f"{p95(resolve):.1f}",
            f"{median(answer):.1f}",
            f"{p95(answer):.1f}",
        )
    return table


if __name__ == "__main__":
    sys.exit(main())
