"""The question set (`tests/fixtures/qa/questions.json`): loading it, building its corpus
from the shared post-training weeks, serving its synthetic full texts, and scoring answers.

Shared by `tests/digest/test_qa_questions.py` (which asserts the score) and
`bench/bench_qa.py` (which prints it with the latency).

An answer is right when it is of the kind asked (`kind`: the answer's intent, or
"not_found"), cites every expected paper (for a list: among the papers it lists), holds every
fact (case-insensitive, in the plain text that `ask` prints) and none of the `absent` ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from digest.feed import read_feed_file
from digest.ingest import ingest_feed_file
from digest.qa import Answer, plain_text
from digest.shortnames import short_names
from storage import Corpus
from tests.fakes.arxiv_fulltext import PaperText
from tests.support.qa import store_digest

QUESTION_SET = Path(__file__).resolve().parents[1] / "fixtures" / "qa" / "questions.json"


@dataclass(frozen=True, slots=True)
class SetQuestion:
    """One question of the set and what its answer must hold."""

    text: str
    kind: str
    ids: tuple[str, ...]
    facts: tuple[str, ...]
    absent: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuestionSet:
    today: date
    feeds: tuple[str, ...]
    fulltexts: tuple[PaperText, ...]
    questions: tuple[SetQuestion, ...]


def load_question_set(path: Path = QUESTION_SET) -> QuestionSet:
    data = json.loads(path.read_text(encoding="utf-8"))
    fulltexts = tuple(
        PaperText(
            paper_id=item["id"],
            title=item["title"],
            sections=[(heading, text) for heading, text in item["sections"]],
            authors=list(item.get("authors", [])),
            html=item.get("html", True),
            pdf=item.get("pdf", True),
        )
        for item in data["fulltexts"]
    )
    questions = tuple(
        SetQuestion(
            text=item["q"],
            kind=item["kind"],
            ids=tuple(item["ids"]),
            facts=tuple(item["facts"]),
            absent=tuple(item.get("absent", [])),
        )
        for item in data["questions"]
    )
    today = date.fromisoformat(data["today"])
    return QuestionSet(today, tuple(data["feeds"]), fulltexts, questions)


def build_corpus(corpus: Corpus, shared_arxiv: Path, question_set: QuestionSet) -> None:
    """Store the papers of the set's feeds (the shared weeks) in the corpus, and a digest
    of each post-training week naming its papers, as the bot would have posted: people ask
    by the names the digests showed them."""
    for feed in question_set.feeds:
        ingest_feed_file(corpus, shared_arxiv / feed)
        if "post-train" not in feed:
            continue
        papers = read_feed_file(shared_arxiv / feed).results
        names = short_names(papers)
        since = min(p.submitted for p in papers)
        until = max(p.submitted for p in papers)
        store_digest(
            corpus,
            papers,
            names,
            since=since,
            until=until,
            generated_at=datetime.combine(until, time(12), UTC),
        )


def problems(answer: Answer, question: SetQuestion) -> list[str]:
    """What is wrong with the answer to a question of the set; empty when it is right."""
    out: list[str] = []
    kind = "not_found" if answer.kind == "not_found" else answer.intent or answer.kind
    if kind != question.kind:
        out.append(f"kind {kind!r}, expected {question.kind!r}")
    missing = [i for i in question.ids if i not in answer.cited]
    if missing:
        out.append(f"does not cite {', '.join(missing)} (cites {', '.join(answer.cited)})")
    text = plain_text(answer).casefold()
    out += [f"lacks “{fact}”" for fact in question.facts if fact.casefold() not in text]
    out += [f"holds “{word}”" for word in question.absent if word.casefold() in text]
    return out


def score(results: Iterable[tuple[SetQuestion, Answer]]) -> tuple[float, list[str]]:
    """The share of questions answered right, and a line for each wrong answer."""
    total = right = 0
    report: list[str] = []
    for question, answer in results:
        total += 1
        wrong = problems(answer, question)
        if wrong:
            report.append(f"{question.text!r}: {'; '.join(wrong)}")
        else:
            right += 1
    return (right / total if total else 0.0), report
