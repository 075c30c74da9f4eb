"""Resolution: which papers a question is about.

In this order:

1. arXiv ids in any common form (bare, versioned, `arXiv:`, abs/pdf/html URLs, old style);
   a valid id the corpus lacks is fetched from the arXiv API and stored;
2. short names and titles, from the stored digests (the names people saw) and from the
   corpus (titles found by search, and "Name: ..." prefixes), ignoring case, punctuation
   and hyphens and forgiving small typos;
3. inside a digest thread (or with a topic), that digest's papers first;
4. then full-text search over the corpus (`Retriever`).

When nothing is found, the closest matches: papers whose id is one typo from the asked id,
names that are spelled nearly like an unknown word, or results outside the asked topic.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Protocol

from digest.errors import ArxivUnavailable
from digest.qa.intent import Intent, TimeWindow, asks_for_papers, read_kind, read_time
from digest.qa.names import NameEntry, NameIndex, NameMatch, QuestionWords, base_name, choose
from digest.qa.retrieve import Ranked, Retriever, Search
from digest.qa.text import asks_for_a_list, compact, content_words, words
from digest.safety import neutralize
from digest.shortnames import short_name
from storage import Corpus, Paper, find_arxiv_ids
from storage.paper_search import PaperSearch, all_of, any_of

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000  # the rest of a longer question is ignored
MAX_NAMED = 3  # papers answered about individually
RELATED = 5  # papers listed for a question across papers
WINDOW_RELATED = 8  # papers listed for a question about a time window
WINDOW_CANDIDATES = 100  # papers of the window matching the words, ranked in Python
NAME_CANDIDATES = 10  # the search's best papers whose names and titles are looked for
DIGESTS_INDEXED = 30  # the newest stored digests whose names are recognised
SUGGESTIONS = 3
RELATED_CUTOFF = 0.4  # search hits scoring below this share of the best are left out
SPELLED_LIKE = 0.6  # difflib ratio from which a name is suggested for an unknown word

# Ids in the forms `find_arxiv_ids` reads, removed before the rest is read as words.
_ID_TEXT = re.compile(
    r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/\S+"
    r"|\barxiv:\s*\S+"
    r"|(?<![\w.-])\d{4}\.\d{4,5}(?:v\d+)?(?:\.pdf)?(?!\w)"
    r"|(?<![\w.-])[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?(?!\w)",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r":\s|\s--\s|\s[—–]\s")


class PaperSource(Protocol):
    """Where papers the corpus lacks come from (`ArxivSource` in production)."""

    def by_ids(self, ids: Sequence[str]) -> list[Paper]: ...


@dataclass(frozen=True, slots=True)
class Naming:
    """The digest that named a paper: its topic, window and the short name it used."""

    topic: str
    since: date
    until: date
    short_name: str


@dataclass(frozen=True, slots=True)
class Found:
    """A paper the question is about, and how it was found: "id" (in the corpus),
    "fetched" (from arXiv just now), "name", "title", "context" (the thread's digest),
    "search", or "suggestion" (a closest match when nothing was found)."""

    paper: Paper
    how: str
    score: float
    naming: Naming | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a question is about. `named`: papers it names (ids, names, titles); `related`:
    papers its words find (the thread's digest first); `terms`: the words searched for;
    `focus`: those that did not name a paper; `suggestions`: closest matches
    when neither found anything; `missing_ids`: valid ids arXiv does not know;
    `problem`: one sentence when arXiv could not be asked."""

    question: str
    terms: tuple[str, ...] = ()
    focus: tuple[str, ...] = ()  # the terms that did not name a paper: what is asked
    named: tuple[Found, ...] = ()
    related: tuple[Found, ...] = ()
    wants_list: bool = False
    missing_ids: tuple[str, ...] = ()
    problem: str = ""
    suggestions: tuple[Found, ...] = ()
    namings: dict[str, Naming] = field(default_factory=dict)
    window: TimeWindow | None = None  # the time window the question names, if any
    intent: Intent = field(default_factory=lambda: Intent("general"))  # what it asks
    asked: str = ""  # the question without ids and time words: what is asked about

    @property
    def is_empty(self) -> bool:
        """The question has no word to look for (empty, only emoji or punctuation)."""
        return not words(self.question)


def clean_question(text: str) -> str:
    """The question as we read it: mentions, links, markup and control characters made
    harmless, and at most MAX_QUESTION_CHARS characters."""
    return neutralize((text or "")[: MAX_QUESTION_CHARS * 2])[:MAX_QUESTION_CHARS].strip()


def _is_title_name(title: str, name: str) -> bool:
    """Whether a paper's short name is the "Name" of a "Name: what it does" title, i.e. a
    name someone may ask by even if no digest showed it."""
    head = _SEPARATOR.split(title, maxsplit=1)
    return len(head) == 2 and compact(head[0]) == compact(name)


def _corpus_entries(paper: Paper, rank: int) -> list[NameEntry]:
    """A corpus paper's title, the parts of a two-part title, and its "Name: ..." name."""
    entries = [NameEntry(paper.id, paper.title, "title", rank)]
    parts = _SEPARATOR.split(" ".join(paper.title.split()), maxsplit=1)
    if len(parts) == 2:
        entries += [NameEntry(paper.id, part, "title", rank) for part in parts]
        name = short_name(paper.title)
        if _is_title_name(paper.title, name):
            entries.append(NameEntry(paper.id, name, "name", rank))
    return entries


class _DigestNames:
    """The names and titles of the papers of the newest stored digests, rebuilt when a
    digest is stored. Thread-safe."""

    def __init__(self, corpus: Corpus, limit: int) -> None:
        self._search = PaperSearch(corpus)
        self._limit = limit
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self.index = NameIndex()
        self.namings: dict[str, Naming] = {}
        self.entries: list[NameEntry] = []
        self.name_keys: list[tuple[str, str]] = []  # (paper id, compact name), for suggestions

    def refresh(self) -> None:
        with self._lock:
            stamp = self._search.digests_stamp()
            if stamp == self._stamp:
                return
            entries: list[NameEntry] = []
            namings: dict[str, Naming] = {}
            for rank, stored in enumerate(self._search.recent_digests(self._limit)):
                for paper in stored.body.get("papers", []):
                    paper_id, name = paper.get("id", ""), paper.get("short_name", "")
                    if not paper_id:
                        continue
                    # The newest digest's name for a paper is the one people saw last.
                    namings.setdefault(
                        paper_id, Naming(stored.topic, stored.since, stored.until, name)
                    )
                    if name:
                        entries.append(NameEntry(paper_id, name, "name", rank))
                    if paper.get("title"):
                        entries.append(NameEntry(paper_id, paper["title"], "title", rank))
            self.index = NameIndex(entries)
            self.entries = entries
            self.namings = namings
            self.name_keys = [
                (e.paper_id, compact(base_name(e.text))) for e in entries if e.kind == "name"
            ]
            self._stamp = stamp


class Resolver:
    """Finds the papers a question is about (see the module docstring)."""

    def __init__(
        self,
        corpus: Corpus,
        *,
        source: PaperSource | None = None,
        retriever: Retriever | None = None,
        digests_indexed: int = DIGESTS_INDEXED,
        today: Callable[[], date] | None = None,
    ) -> None:
        self._today = today or (lambda: datetime.now(UTC).date())
        self._corpus = corpus
        self._source = source
        self._retriever = retriever or Retriever(corpus)
        self._digests = _DigestNames(corpus, digests_indexed)
        self._search = PaperSearch(corpus)

    def resolve(
        self,
        question: str,
        *,
        context_ids: Sequence[str] = (),
        topic: str | None = None,
    ) -> Resolution:
        """What the question is about. Never raises for what the question says; storage
        failures raise `StorageError`."""
        raw = (question or "")[:MAX_QUESTION_CHARS]
        text = clean_question(raw)
        # Ids are read before links are neutralized: a pasted abs or pdf URL is an id.
        ids = [i.base for i in find_arxiv_ids(raw)][:MAX_NAMED]
        if not words(text) and not ids:
            return Resolution(text)
        self._digests.refresh()
        namings = self._digests.namings
        named, missing, unchecked, problem = self._by_id(ids)
        named = [replace(f, naming=namings.get(f.paper.id)) for f in named]
        rest = _ID_TEXT.sub(" ", text)
        # "last week", "since May 20": a window on the papers, not words to search for.
        window, rest = read_time(rest, self._today())
        terms = content_words(rest)
        wants_list = (
            asks_for_a_list(rest) or asks_for_papers(rest) or (window is not None and not ids)
        )

        context = self._context(context_ids, topic)
        search = self._retriever.start(terms, topic=topic)
        question_words = QuestionWords(rest)
        matches = self._names(question_words, search, context, search.papers[:NAME_CANDIDATES])
        ranked: list[Ranked] = []
        # A list over a time window is searched within the window (`_in_window`): the whole
        # corpus's search is needed only when the window holds nothing (for suggestions).
        windowed = window is not None and wants_list
        if (wants_list and not windowed) or (not matches and not windowed):
            ranked = self._retriever.finish(search, limit=RELATED * 2)
            seen = {p.id for p in search.papers[:NAME_CANDIDATES]}
            more = [r.paper for r in ranked[:NAME_CANDIDATES] if r.paper.id not in seen]
            if not matches and more and not wants_list:
                # BM25's best papers named nothing; the re-ranked ones (those holding most
                # of the words, in their titles: a title typed with a typo) may.
                matches = self._names(question_words, search, [], more)
        matches = [m for m in matches if m.paper_id not in {f.paper.id for f in named}]
        by_id = {p.id: p for p in self._corpus.get_papers([m.paper_id for m in matches])}
        for match in matches:
            if match.paper_id in by_id and len(named) < MAX_NAMED:
                paper = by_id[match.paper_id]
                named.append(Found(paper, match.kind, match.score, namings.get(paper.id)))
        # The words that named a paper say which paper, not what is asked about it.
        naming_words = {
            question_words.folded[i] for m in matches[:MAX_NAMED] for i in range(m.start, m.end)
        }
        related = self._related(terms, context, ranked, named, namings) if terms else []
        if wants_list and named and not any(f.how in ("id", "fetched") for f in named):
            # "Which papers are about X?" names X to find papers about it, not to ask about
            # one paper: the named ones lead the list.
            related = (named + related)[:RELATED]
            named = []
        suggestions: list[Found] = []
        if window is not None and not named:
            outside = related
            related = self._in_window(terms, search, window, context, topic, namings)
            if not related and terms:
                # Nothing in the window: what the words find at other times is the closest.
                everywhere = self._retriever.finish(search, limit=RELATED * 2)
                outside += self._related(terms, context, everywhere, outside, namings)
                suggestions = [replace(f, how="suggestion") for f in outside]
        if not named and not related and not suggestions:
            suggestions = self._closest(terms, [*missing, *unchecked], topic, namings)
        intent = read_kind(rest, named=len(named), wants_list=wants_list, window=bool(window))
        return Resolution(
            question=text,
            terms=tuple(terms),
            focus=tuple(t for t in terms if t not in naming_words),
            named=tuple(named),
            related=tuple(related),
            wants_list=wants_list,
            missing_ids=tuple(missing),
            problem=problem,
            suggestions=tuple(suggestions)[:SUGGESTIONS],
            namings=dict(namings),
            window=window,
            intent=intent,
            asked=rest,
        )

    def _in_window(
        self,
        terms: Sequence[str],
        search: Search,
        window: TimeWindow,
        context: Sequence[Paper],
        topic: str | None,
        namings: dict[str, Naming],
    ) -> list[Found]:
        """The papers of the window the words find (every paper of it, newest first, when
        the question has no topic words): the thread's digest's first."""
        present = list(search.present)
        if terms and not present:
            return []
        if not present:
            ids = self._search.in_window(
                None, window.since, window.until, limit=WINDOW_RELATED, topic=topic
            )
            papers = self._corpus.get_papers(ids)
            return [Found(p, "search", 1.0, namings.get(p.id)) for p in papers]
        ids = self._search.in_window(
            all_of(present), window.since, window.until, limit=WINDOW_CANDIDATES, topic=topic
        )
        if len(ids) < WINDOW_RELATED and len(present) > 1:
            ids += self._search.in_window(
                any_of(present), window.since, window.until, limit=WINDOW_CANDIDATES, topic=topic
            )
        papers = self._corpus.get_papers(list(dict.fromkeys(ids)))
        in_context = [p for p in context if window.holds(p.submitted)]
        ranked = self._retriever.rank_among(terms, papers)
        if ranked:
            ranked = [r for r in ranked if r.score >= RELATED_CUTOFF * ranked[0].score]
        among = self._retriever.rank_among(terms, in_context) if in_context else []
        out: dict[str, Found] = {}
        for how, hits in (("context", among), ("search", ranked)):
            for hit in hits:
                if hit.paper.id not in out and len(out) < WINDOW_RELATED:
                    out[hit.paper.id] = Found(hit.paper, how, hit.score, namings.get(hit.paper.id))
        return list(out.values())

    def _related(
        self,
        terms: Sequence[str],
        context: Sequence[Paper],
        ranked: Sequence[Ranked],
        named: Sequence[Found],
        namings: dict[str, Naming],
    ) -> list[Found]:
        """The papers the question's words find: the thread's digest's first, then the
        corpus's, leaving out weak hits (below RELATED_CUTOFF of the best)."""
        if ranked:
            ranked = [r for r in ranked if r.score >= RELATED_CUTOFF * ranked[0].score]
        among = self._retriever.rank_among(terms, context) if context else []
        seen = {f.paper.id for f in named}
        related: list[Found] = []
        for hit in [*among, *ranked]:
            if hit.paper.id not in seen and len(related) < RELATED:
                seen.add(hit.paper.id)
                related.append(Found(hit.paper, hit.via, hit.score, namings.get(hit.paper.id)))
        return related

    # -- 1. ids ---------------------------------------------------------------------------------

    def _by_id(self, ids: Sequence[str]) -> tuple[list[Found], list[str], list[str], str]:
        """The papers of these ids; the ids arXiv does not know; the ids that could not be
        looked up; and why not, in one sentence."""
        if not ids:
            return [], [], [], ""
        stored = {p.id: p for p in self._corpus.get_papers(ids)}
        missing = [i for i in ids if i not in stored]
        fetched: dict[str, Paper] = {}
        problem = ""
        if missing and self._source is not None:
            try:
                papers = [p for p in self._source.by_ids(missing) if p.id in missing]
            except ArxivUnavailable as err:
                log.warning("arXiv lookup of %s failed: %s", ", ".join(missing), err)
                problem = (
                    f"arXiv could not be reached to look up {', '.join(missing)}; try again later."
                )
            else:
                if papers and not self._corpus.read_only:  # read-only: answer, don't cache
                    self._corpus.store_papers(papers)
                fetched = {p.id: p for p in papers}
        elif missing:
            problem = f"{', '.join(missing)} is not in the corpus, and arXiv is not configured."
        named = []
        for paper_id in ids:
            if paper_id in stored:
                named.append(Found(stored[paper_id], "id", 1.0))
            elif paper_id in fetched:
                named.append(Found(fetched[paper_id], "fetched", 1.0))
        absent = [i for i in missing if i not in fetched]
        if problem:
            return named, [], absent, problem
        return named, absent, [], problem

    # -- 2. and 3. names, titles and the thread's digest ------------------------------------------

    def _context(self, context_ids: Sequence[str], topic: str | None) -> list[Paper]:
        if context_ids:
            return self._corpus.get_papers(list(dict.fromkeys(context_ids)))
        if topic is not None:
            # With a topic and no thread, its latest digest stands in for the thread's.
            latest = self._search.recent_digests(1, topic=topic)
            if latest:
                ids = [p["id"] for p in latest[0].body.get("papers", []) if p.get("id")]
                return self._corpus.get_papers(ids)
        return []

    def _names(
        self,
        question: QuestionWords,
        search: Search,
        context: Sequence[Paper],
        candidates: Sequence[Paper],
    ) -> list[NameMatch]:
        """The papers the question names, among the stored digests' names, the thread's
        papers, the search's best papers, and titles sharing the start of an unknown word."""
        local = NameIndex()
        namings = self._digests.namings
        # The thread's papers are preferred (rank -1) when a name fits several papers.
        for paper in context:
            naming = namings.get(paper.id)
            if naming is not None and naming.short_name:
                local.add([NameEntry(paper.id, naming.short_name, "name", -1)])
            local.add(_corpus_entries(paper, -1))
        base = len(self._digests.entries)
        for position, paper in enumerate(candidates):
            local.add(_corpus_entries(paper, base + position))
        # A misspelt name matches no word of the index: look for titles sharing its start.
        unknown = [w for w in search.terms if search.counts.get(w) == 0 and len(w) >= 5]
        prefixes = [w[: max(4, math.ceil(len(w) * 0.6))] for w in unknown[:3]]
        for paper in self._retriever.candidates_by_prefix(prefixes):
            local.add(_corpus_entries(paper, base + len(candidates)))
        return choose(self._digests.index.match(question) + local.match(question))

    # -- closest matches --------------------------------------------------------------------------

    def _closest(
        self,
        terms: Sequence[str],
        missing: Sequence[str],
        topic: str | None,
        namings: dict[str, Naming],
    ) -> list[Found]:
        found: dict[str, Found] = {}

        def add(papers: Sequence[Paper], score: float) -> None:
            for paper in papers:
                if paper.id not in found and len(found) < SUGGESTIONS:
                    found[paper.id] = Found(paper, "suggestion", score, namings.get(paper.id))

        for paper_id in missing:  # an id with a typo: the stored ids one edit away
            add(self._corpus.get_papers(_id_neighbours(paper_id)), 0.5)
        if topic is not None and terms:  # nothing in the topic: what the whole corpus has
            add([r.paper for r in self._retriever.search(terms, limit=SUGGESTIONS)], 0.4)
        counts, _ = self._retriever.frequencies(terms) if terms else ({}, 0)
        unknown = [w for w in terms if counts.get(w) == 0 and len(w) >= 3]
        if unknown:
            add(self._spelled_like(unknown), 0.3)
        return list(found.values())

    def _spelled_like(self, unknown: Sequence[str]) -> list[Paper]:
        """Papers whose name (or a title word) is spelled most like an unknown word."""
        scored: dict[str, float] = {}

        def consider(paper_id: str, word: str, key: str) -> None:
            matcher = difflib.SequenceMatcher(None, word, key)
            # The quick upper bounds first: most names are nothing like the word.
            if matcher.real_quick_ratio() < SPELLED_LIKE or matcher.quick_ratio() < SPELLED_LIKE:
                return
            ratio = matcher.ratio()
            if ratio >= SPELLED_LIKE:
                scored[paper_id] = max(scored.get(paper_id, 0.0), ratio)

        for paper_id, key in self._digests.name_keys:
            for word in unknown:
                consider(paper_id, word, key)
        prefixes = [w[:4] for w in unknown[:3] if len(w) >= 4]
        for paper in self._retriever.candidates_by_prefix(prefixes, limit=10):
            for token in paper.title.split():
                for word in unknown:
                    consider(paper.id, word, compact(token))
        best = sorted(scored, key=lambda i: -scored[i])[:SUGGESTIONS]
        return self._corpus.get_papers(best)


def _id_neighbours(paper_id: str) -> list[str]:
    """New-style ids one typo away: a digit changed, or two neighbours swapped."""
    if not re.fullmatch(r"\d{4}\.\d{4,5}", paper_id):
        return []
    out: list[str] = []
    digits = list(paper_id)
    for i, char in enumerate(digits):
        if char == ".":
            continue
        for replacement in "0123456789":
            if replacement != char:
                out.append("".join([*digits[:i], replacement, *digits[i + 1 :]]))
        if i + 1 < len(digits) and digits[i + 1] != "." and digits[i + 1] != char:
            swapped = digits.copy()
            swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
            out.append("".join(swapped))
    return out
