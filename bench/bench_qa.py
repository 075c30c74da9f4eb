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

Issue 14's kinds of question are timed as a group of their own on the same corpus, with
full texts cached (stored beforehand from a loopback fake serving generated pages, so no
request is made while timing): the question set of tests/fixtures/qa/questions.json, and
seeded questions over the corpus's papers: who wrote X, when was X submitted, what does X
propose, which datasets does X evaluate on, code for X, compare X and Y, and lists over
time windows ("papers from last week about ...", "since <date>", "last month", "in May").
The question set's score (share answered with the right facts) is measured on its own
corpus, the shared post-training weeks, as in tests/digest/test_qa_questions.py.

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
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
from digest.errors import DigestError
from digest.qa import QuestionAnswerer, answer_json, answer_messages
from digest.qa.fulltext import FullTextFetcher, FullTextSettings
from digest.qa.resolve import Resolver
from digest.shortnames import short_name, short_names
from storage import Corpus, Paper, open_corpus
from tests.fakes.arxiv_fulltext import FakeFullText, PaperText
from tests.support.qa import store_digest
from tests.support.qa_questions import build_corpus as build_set_corpus
from tests.support.qa_questions import load_question_set, score

QA_RECIPE = 1  # bump when the QA corpus is built differently
SEED = 20260604
TARGET_RESOLVE_P95_MS = 30.0
TARGET_ANSWER_P95_MS = 100.0
TARGET_SET_SCORE = 0.9
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
            store_digest(
                corpus,
                papers,
                names,
                since=since,
                until=until,
                generated_at=datetime.combine(
                    until + timedelta(days=1), datetime.min.time(), UTC
                ),
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


def kind_questions(rows: Sequence[Row], seed: int, today: date) -> list[Question]:
    """Issue 14's kinds over the corpus's real papers (see the module docstring), plus the
    question set's questions."""
    rng = random.Random(seed)
    named = [r for r in rows if r.title and r.summary and ":" in r.title]
    out: list[Question] = []
    forms = (
        "who wrote {name}?",
        "when was {id} submitted?",
        "what does {name} propose?",
        "which datasets does {name} evaluate on?",
        "what baselines does {name} compare against?",
        "code for {id}",
    )
    for index, row in enumerate(rng.sample(named, 60)):
        text = forms[index % len(forms)].format(name=short_name(row.title), id=row.id)
        out.append(Question("kinds", text, row.title))
    for _ in range(15):
        a, b = rng.sample(named, 2)
        out.append(Question("kinds", f"compare {short_name(a.title)} and {short_name(b.title)}"))
    since = (today - timedelta(days=10)).isoformat()
    windows = (
        "papers from last week about {q}",
        "which papers since " + since + " are about {q}?",
        "papers last month on {q}",
        "which papers this week are about {q}?",
        "in May, which papers are about {q}?",
    )
    for index, query in enumerate(make_queries(rows, 25, seed=seed)):
        out.append(Question("kinds", windows[index % len(windows)].format(q=query)))
    out += [Question("kinds", q.text) for q in load_question_set().questions]
    return out


def synthetic_fulltext(paper: Paper) -> PaperText:
    """A generated full text of about 40 chunks for a paper: its abstract's sentences spread
    over the usual sections, with an experiments section naming benchmarks (no real paper's
    text beyond the corpus's own abstract)."""
    sentences = [s for s in paper.abstract.split(". ") if s]
    body = ". ".join(sentences)
    sections = [("1 Introduction", body)]
    for number, name in enumerate(("Related Work", "Method", "Analysis", "Discussion"), 2):
        sections += [(f"{number} {name}", f"{body} {body}") for _ in range(4)]
    sections.append(
        (
            "6 Experiments",
            "We evaluate on the BenchA-17k and BenchB datasets against the GRPO and DPO "
            "baselines, and report accuracy gains of 3.1 points.",
        )
    )
    sections.append(("7 Limitations", "The method was tested on English text only."))
    return PaperText(paper.id, paper.title, sections, list(paper.authors))


def cache_fulltexts(corpus: Corpus, ids: Sequence[str]) -> int:
    """Store generated full texts for the papers (those not stored yet), fetched from the
    loopback fake through the configurable base URLs, as the bot would fetch them."""
    fetcher_store = FullTextFetcher(corpus).store
    todo = [i for i in dict.fromkeys(ids) if fetcher_store.record(i) is None]
    papers = corpus.get_papers(todo)
    set_texts = {t.paper_id: t for t in load_question_set().fulltexts}
    with FakeFullText() as fake:
        fake.add(*(set_texts.get(p.id) or synthetic_fulltext(p) for p in papers))
        fetcher = FullTextFetcher(corpus, fake.settings())
        for paper in papers:
            with suppress(DigestError):  # a paper the fake cannot serve stays uncached
                fetcher.ensure(paper.id)
        fetcher.close()
    return len(papers)


def set_score() -> tuple[float, list[str], int]:
    """The question set's score on its own corpus (the shared post-training weeks)."""
    question_set = load_question_set()
    with tempfile.TemporaryDirectory() as folder, FakeFullText() as fake:
        fake.add(*question_set.fulltexts)
        with open_corpus(Path(folder) / "set.db") as corpus:
            build_set_corpus(corpus, shared_arxiv(), question_set)
            fetcher = FullTextFetcher(corpus, fake.settings())
            qa = QuestionAnswerer(corpus, fulltext=fetcher, today=lambda: question_set.today)
            results = [(q, qa.answer(q.text)) for q in question_set.questions]
            fetcher.close()
    share, report = score(results)
    return share, report, len(results)


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

        today = max(r.listed for r in rows).date() + timedelta(days=1)
        kinds_asked = kind_questions(rows, SEED, today)
        # Every paper a question is about gets its full text stored before timing.
        kinds_resolver = QuestionAnswerer(corpus, today=lambda: today)
        asked_ids = [
            f.paper.id for q in kinds_asked for f in kinds_resolver.resolve(q.text).named
        ]
        stored = cache_fulltexts(corpus, asked_ids)
        console.print(
            f"· {len(kinds_asked)} issue-14 questions (kinds + the question set); full texts "
            f"cached for {len(set(asked_ids))} papers ({stored} stored now)"
        )
        # Full texts are cached: a fetch would be an error, so the fetcher points nowhere.
        nowhere = FullTextFetcher(
            corpus, FullTextSettings(html_url="http://127.0.0.1:9/", pdf_url="http://127.0.0.1:9/")
        )
        kinds_qa = QuestionAnswerer(corpus, fulltext=nowhere, today=lambda: today)
        for question in warmup:
            kinds_qa.answer(question.text)
        kinds_first, kinds_steady = time_questions(_answer(kinds_qa), kinds_asked, args.runs)
        fetches = nowhere.requests_made
        nowhere.close()
    share, report, asked = set_score()

    table = results_table(
        "Latency per question (ms)", ["measure", "pass", "p50", "p95", "max", "target p95", ""]
    )
    for label, first, steady, target_ms in (
        ("resolution + retrieval", resolve_first, resolve_steady, TARGET_RESOLVE_P95_MS),
        ("offline answer, end to end", answer_first, answer_steady, TARGET_ANSWER_P95_MS),
        ("issue-14 kinds, full text cached", kinds_first, kinds_steady, TARGET_ANSWER_P95_MS),
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
    console.print(f"· full-text requests while timing the issue-14 kinds: {fetches}")
    met = verdict(share, TARGET_SET_SCORE, higher_is_better=True)
    console.print(
        f"· question set score: {share:.1%} of {asked} answered with the right facts "
        f"(target >= {TARGET_SET_SCORE:.0%}) {met}"
    )
    for line in report:
        console.print(f"  wrong: {line}")
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
