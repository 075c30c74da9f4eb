"""Full-text retrieval for questions: which papers are about the question's words.

Stop words are dropped and the remaining words OR-ed; the corpus's (or a topic's) best
CANDIDATES papers for them by BM25 (`Corpus.search`: exactly FTS5's bm25(), from our own
postings when the words match many papers, so an OR of common words over a large corpus
costs a few ms) are then re-ranked in Python: the BM25 score, how much of the question a
paper holds (rare words weigh most, titles above abstracts, two of the question's words
written together), and recency.

Inside a digest thread the digest's papers are ranked among themselves the same way and
come first (`rank_among`).
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from digest.qa.text import fold, stem
from storage import Corpus, Paper
from storage.paper_search import PaperSearch

COUNT_CAP = 1000  # papers holding a word are counted up to this (for its weight)
CANDIDATES = 30  # the best papers by BM25 that are re-ranked
RECENCY_DAYS = 14.0  # a paper this much older than the newest candidate gets 1/e the boost
RECENCY_WEIGHT = 0.2
BM25_WEIGHT = 0.5
CACHE_SECONDS = 300.0  # word counts are reused this long, unless papers were added


@dataclass(frozen=True, slots=True)
class Search:
    """A search begun by `Retriever.start`: the terms, their weights and counts, and the
    papers BM25 found, best first."""

    terms: tuple[str, ...]
    weights: dict[str, float]
    counts: dict[str, int]
    present: tuple[str, ...]  # the terms some paper holds
    bm25: dict[str, float]  # paper id -> BM25 relevance (higher is better)
    papers: list[Paper]


@dataclass(frozen=True, slots=True)
class Ranked:
    """A paper found for a question; `score` is higher for better, `via` says how
    ("context": among the thread's digest; "search": the whole corpus)."""

    paper: Paper
    score: float
    via: str


@dataclass(frozen=True, slots=True)
class _Texts:
    """A paper's text folded (lower case, accents dropped): the title, and the abstract
    with the authors."""

    title: str
    rest: str


@lru_cache(maxsize=8192)
def _texts_of(paper_id: str, version: int, title: str, rest: str) -> _Texts:
    # Keyed by id and version (and the texts, which are what it depends on).
    return _Texts(fold(title), fold(rest))


def _texts(paper: Paper) -> _Texts:
    rest = f"{paper.abstract} {' '.join(paper.authors)}"
    return _texts_of(paper.id, paper.version, paper.title, rest)


def holds(text: str, term: str) -> bool:
    """Whether folded text holds the (stemmed) term: a word starting with it, or for a
    short stem ("rl", "llm") the whole word, or it would find "rlhf" and "llms" alike.
    `str.find` and a look at the neighbours: no tokenizing of papers per question."""
    whole = len(term) <= 3
    at = text.find(term)
    while at != -1:
        end = at + len(term)
        if (at == 0 or not text[at - 1].isalnum()) and (
            not whole or end == len(text) or not text[end].isalnum()
        ):
            return True
        at = text.find(term, at + 1)
    return False


def text_score(
    paper: Paper, weights: dict[str, float], phrases: Sequence[tuple[str, str]] = ()
) -> float:
    """How much of the question a paper holds: each term's weight (keyed by stem), doubled
    in the title, and a bonus for two of the question's words written together ("reward
    hacking", "reward-hacking")."""
    texts = _texts(paper)
    score = 0.0
    for term, weight in weights.items():
        if holds(texts.title, term):
            score += 2.0 * weight
        elif holds(texts.rest, term):
            score += weight
    for first, second in phrases:
        for joined in (f"{first} {second}", f"{first}-{second}"):
            if holds(texts.title, joined) or holds(texts.rest, joined):
                score += weights.get(stem(first), 0.0) + weights.get(stem(second), 0.0)
                break
    return score


def phrases_of(terms: Sequence[str]) -> list[tuple[str, str]]:
    """Neighbouring pairs of the question's words, as candidate phrases."""
    return list(itertools.pairwise(terms))


class Retriever:
    """Ranks the corpus's papers for a question's terms (see the module docstring)."""

    def __init__(
        self,
        corpus: Corpus,
        *,
        count_cap: int = COUNT_CAP,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.count_cap = count_cap
        self._corpus = corpus
        self._search = PaperSearch(corpus)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._stamp = -1
        self._checked = -math.inf

    # -- word counts --------------------------------------------------------------------------

    def frequencies(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """Papers holding each term (counted up to `count_cap`) and the corpus size, cached."""
        with self._lock:
            now = self._monotonic()
            if now - self._checked > 1.0:
                stamp = self._search.stamp()
                if stamp != self._stamp or now - self._checked > CACHE_SECONDS:
                    self._counts.clear()
                self._stamp, self._checked = stamp, now
            missing = [w for w in terms if w not in self._counts]
            if missing:
                self._counts.update(self._search.document_frequencies(missing, self.count_cap))
            return {w: self._counts[w] for w in terms}, max(self._stamp, 1)

    def weights(self, terms: Sequence[str]) -> tuple[dict[str, float], dict[str, int]]:
        """Each present word's weight (an IDF; terms in no paper are left out) by stem, and
        the raw counts by word."""
        counts, size = self.frequencies(terms)
        weights: dict[str, float] = {}
        for word, count in counts.items():
            if count == 0:
                continue
            # A capped count only says "common": guess a tenth of the corpus for it.
            estimate = max(self.count_cap, size / 10) if count >= self.count_cap else count
            weights[stem(word)] = max(weights.get(stem(word), 0.0), math.log1p(size / estimate))
        return weights, counts

    # -- retrieval ----------------------------------------------------------------------------

    def search(
        self, terms: Sequence[str], *, limit: int = 10, topic: str | None = None
    ) -> list[Ranked]:
        """The best papers of the corpus (or of one topic) for the terms, best first."""
        start = self.start(terms, topic=topic, candidates=max(CANDIDATES, limit))
        return self.finish(start, limit=limit)

    def start(
        self, terms: Sequence[str], *, topic: str | None = None, candidates: int = CANDIDATES
    ) -> Search:
        """The corpus-wide step of a search: word counts, and the best `candidates` papers
        by BM25 for any of the words. Its papers are enough to find a paper named in the
        question; `finish` ranks them when the question is not about a named paper."""
        weights, counts = self.weights(terms)
        present = [w for w in terms if counts.get(w, 0) > 0]
        text = " ".join(present)
        hits = (
            self._corpus.search(text, limit=candidates, any_term=True, topic=topic)
            if present
            else []
        )
        bm25 = {hit.paper.id: -hit.score for hit in hits}  # SQLite's BM25 is lower-is-better
        papers = [hit.paper for hit in hits]
        return Search(tuple(terms), weights, counts, tuple(present), bm25, papers)

    def finish(self, search: Search, *, limit: int = 10) -> list[Ranked]:
        """The papers `start` found, re-ranked (see the module docstring), best first."""
        phrases = phrases_of(search.terms)
        return self._rank(search.papers, search.weights, phrases, search.bm25, "search")[:limit]

    def rank_among(self, terms: Sequence[str], papers: Sequence[Paper]) -> list[Ranked]:
        """The papers that hold any of the terms, best first, weighing terms by how rare
        they are among these papers (a digest's papers, say)."""
        folded = {stem(w) for w in terms}
        if not folded or not papers:
            return []
        holding = dict.fromkeys(folded, 0)
        for paper in papers:
            texts = _texts(paper)
            for term in folded:
                if holds(texts.title, term) or holds(texts.rest, term):
                    holding[term] += 1
        weights = {w: math.log1p(len(papers) / n) for w, n in holding.items() if n}
        return self._rank(papers, weights, phrases_of(terms), {}, "context")

    def candidates_by_prefix(self, prefixes: Sequence[str], limit: int = 20) -> list[Paper]:
        """Papers with a title word starting with any of the prefixes (for misspelt names
        that match no word of the index)."""
        ids: list[str] = []
        for prefix in prefixes:
            ids += self._search.title_prefix(prefix, limit=limit)
        return self._corpus.get_papers(list(dict.fromkeys(ids)))

    def _rank(
        self,
        papers: Sequence[Paper],
        weights: dict[str, float],
        phrases: Sequence[tuple[str, str]],
        bm25: dict[str, float],
        via: str,
    ) -> list[Ranked]:
        if not papers:
            return []
        texts = {p.id: text_score(p, weights, phrases) for p in papers}
        best_text = max(texts.values()) or 1.0
        best_bm25 = max(bm25.values(), default=0.0) or 1.0
        newest = max(p.published for p in papers)
        ranked = []
        for paper in papers:
            relevance = texts[paper.id] / best_text + BM25_WEIGHT * bm25.get(paper.id, 0.0) / (
                best_bm25
            )
            if relevance <= 0:
                continue
            ranked.append(Ranked(paper, relevance + RECENCY_WEIGHT * _recency(paper, newest), via))
        ranked.sort(key=lambda r: (-r.score, -r.paper.published.timestamp(), r.paper.id))
        return ranked


def _recency(paper: Paper, newest: datetime) -> float:
    age_days = max(0.0, (newest - paper.published).total_seconds() / 86400)
    return math.exp(-age_days / RECENCY_DAYS)
