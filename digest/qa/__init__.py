"""Question answering: "tell me about 2605.26567", "what does MedGuideX do?", "which papers
this week are about reward hacking?", answered from the corpus with citations.

    qa = QuestionAnswerer(corpus, source=ArxivSource(), fulltext=FullTextFetcher(corpus))
    answer = qa.answer("what is GRAIL?", context_ids=thread_digest_ids)
    answer_messages(answer)   # neutral messages for the chat adapters and the console
    answer_json(answer)       # {"answer": "...", "papers": ["2606.04889"]}

Pipeline: `Resolver` (ids, names and titles, the thread's digest, full-text search; time
expressions such as "last week" or "since May 20" become a window on the papers and leave
the search words; the kind of question, `digest.qa.intent`) -> `ExtractiveAnswerer` (the
facts the kind asks for: all authors, dates and version, the TL;DR, the sentences naming
datasets/benchmarks/baselines/results with their section, code and data links, a
comparison table, a list with one line a paper; always computed: it is the answer without
a model and the fallback) -> optionally the LLM writer (grounded on the same papers,
citations checked) -> render (one header a paper, sources once at the end). An answer
cites only retrieved papers and links only to their arXiv pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from typing import Protocol

from digest.errors import DigestError
from digest.qa.answer import Answer, ExtractiveAnswerer
from digest.qa.fulltext import FullTextFetcher, FullTextSettings
from digest.qa.render import answer_json, answer_messages, plain_text
from digest.qa.resolve import PaperSource, Resolution, Resolver
from digest.qa.retrieve import Retriever
from digest.render import Block, Message, Span
from storage import Corpus, StorageError

log = logging.getLogger(__name__)

__all__ = [
    "Answer",
    "AnswerWriter",
    "FullTextFetcher",
    "FullTextSettings",
    "QuestionAnswerer",
    "Resolution",
    "answer_json",
    "answer_messages",
    "plain_text",
]


class AnswerWriter(Protocol):
    """Writes the answer from the retrieved papers (the Claude answerer); may raise
    `DigestError`, in which case the extractive answer is used."""

    name: str

    def answer(self, resolution: Resolution, offline: Answer) -> Answer: ...


class QuestionAnswerer:
    """Answers questions about papers from the corpus (see the package docstring).

    `source` fetches papers asked for by an id the corpus lacks (`ArxivSource`); without it
    such ids are "not in the corpus". `fulltext` fetches full texts for questions about one
    paper; without it answers use the abstract. `writer` (the Claude answerer) writes the
    answer when set; without it, or when it fails, the answer is extractive. `retriever`
    is for tuning (its caps on common words). `today` is the UTC day that "this week" and
    "last month" count from (the clock's, unless a test sets it).
    """

    def __init__(
        self,
        corpus: Corpus,
        *,
        source: PaperSource | None = None,
        fulltext: FullTextFetcher | None = None,
        writer: AnswerWriter | None = None,
        retriever: Retriever | None = None,
        today: Callable[[], date] | None = None,
        on_answer: Callable[[Answer], None] | None = None,
    ) -> None:
        self.corpus = corpus
        self.retriever = retriever or Retriever(corpus)
        self.resolver = Resolver(corpus, source=source, retriever=self.retriever, today=today)
        self.extractive = ExtractiveAnswerer(fulltext=fulltext)
        self.writer = writer
        self.on_answer = on_answer  # e.g. the question log behind the papers' web pages

    def resolve(
        self, question: str, *, topic: str | None = None, context_ids: Sequence[str] = ()
    ) -> Resolution:
        """Which papers the question is about, without answering it."""
        return self.resolver.resolve(question, context_ids=context_ids, topic=topic)

    def answer(
        self, question: str, *, topic: str | None = None, context_ids: Sequence[str] = ()
    ) -> Answer:
        """The answer to a question; `context_ids` are the papers of the digest whose
        thread it was asked in, `topic` restricts the search to a topic's papers. Never
        raises for what the question says; a storage failure raises `StorageError`."""
        resolution = self.resolve(question, topic=topic, context_ids=context_ids)
        result = self._write(resolution, self.extractive.answer(resolution))
        if self.on_answer is not None:
            try:
                self.on_answer(result)
            except StorageError as err:  # remembering the question must not lose the answer
                log.warning("could not record the question: %s", err)
        return result

    def _write(self, resolution: Resolution, offline: Answer) -> Answer:
        if self.writer is None or offline.kind not in ("paper", "papers"):
            return offline
        try:
            return self.writer.answer(resolution, offline)
        except DigestError as err:
            log.warning("%s could not answer, answering offline: %s", self.writer.name, err)
            note = f"{self.writer.name} could not answer just now; this answer is extractive."
            return replace(offline, notes=(*offline.notes, note))

    def reply(self, question: str, context_ids: Sequence[str]) -> list[Message]:
        """The command router's `Answerer`: the answer as messages, and a one-sentence
        message instead of an exception when the corpus fails."""
        try:
            return answer_messages(self.answer(question, context_ids=context_ids))
        except (StorageError, DigestError) as err:
            log.error("question failed: %s", err)
            text = f"I could not answer that just now: {err}"
            return [Message("answer", "Sorry", (Block("paragraph", (Span(text),)),))]
