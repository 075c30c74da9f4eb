"""Finding the papers a question names: by short name or by title, typos forgiven.

A `NameIndex` holds names ("MedGuideX", "Draft-OPD", "DPO Recipe") and titles of papers. It
finds them in a question whatever the case, punctuation or hyphenation ("draft opd",
"DraftOPD"), and with small typos: one edit in a name of 5-9 characters, two from 10 on,
one in each longer word of a title. Lookups are dictionary hits, not a scan of every name:
a name and a misspelling of it share a one-character deletion (the SymSpell idea), and a
title is only compared in full when enough of its words occur in the question.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from digest.qa.text import (
    FUNCTION_WORDS,
    QUESTION_STOP_WORDS,
    compact,
    content_words,
    deletions,
    fold,
    typo_budget,
    within_typos,
)

MAX_NAME_WORDS = 6  # short names have up to 4 words, 6 when widened to tell two apart
MAX_FUZZY_WORDS = 6
MAX_NAME_CHARS = 48  # longer runs of words are not looked up as misspelt names
MAX_QUESTION_WORDS = 80  # a name is looked for in the first 80 words of a question
TITLE_COVERAGE = 0.8  # share of a title's content words the question must contain
TITLE_PREFIX_WORDS = 5  # ... or this many of its first content words, in a row
TYPO_WORD = 4  # title words this long or longer may carry one typo
SPAN_BONUS = 0.05  # per word of the question a match covers (up to 6)
_TOKEN = re.compile(r"[^\W_]+")
_DISAMBIGUATION = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$")  # "Foo (Smith)", "Foo [2605.1]"


@dataclass(frozen=True, slots=True)
class NameEntry:
    """A name or title by which a paper can be asked about. `rank` orders papers sharing a
    name: lower is preferred (newer digest, newer paper)."""

    paper_id: str
    text: str
    kind: str  # "name" | "title"
    rank: int = 0


@dataclass(frozen=True, slots=True)
class NameMatch:
    """A paper named in the question: how (`kind`), how surely (`score`, 1.0 for an exact
    name), and which words of the question named it (`start`..`end`, exclusive)."""

    paper_id: str
    text: str
    kind: str
    score: float
    start: int
    end: int
    rank: int = 0


class QuestionWords:
    """A question's words prepared for name lookups (built once per question)."""

    def __init__(self, text: str) -> None:
        self.tokens: list[str] = _TOKEN.findall(text)[:MAX_QUESTION_WORDS]
        self.folded = [fold(t) for t in self.tokens]
        # Compact keys of every run of 1..6 words: where a name could be.
        self.windows: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for start in range(len(self.tokens)):
            key = ""
            for end in range(start + 1, min(len(self.tokens), start + MAX_NAME_WORDS) + 1):
                key += self.folded[end - 1]
                self.windows[key].append((start, end))
        self.positions: dict[str, list[int]] = defaultdict(list)
        for index, word in enumerate(self.folded):
            self.positions[word].append(index)
        content = [i for i, w in enumerate(self.folded) if w not in QUESTION_STOP_WORDS]
        # The run of words from the first content word to the last: the whole question but
        # its phrasing ("tell me about cast" -> "cast").
        self.content_span = (content[0], content[-1] + 1) if content else (0, 0)
        # One-deletion variants of the longer words, for typo lookups of title words.
        self.variants: dict[str, set[str]] = defaultdict(set)
        for word in self.positions:
            if len(word) >= TYPO_WORD:
                for variant in deletions(word):
                    self.variants[variant].add(word)

    def cased(self, start: int, end: int) -> str:
        """The run of words as written (case kept), punctuation removed."""
        return "".join(self.tokens[start:end])

    def near(self, word: str) -> str | None:
        """A question word equal to `word` or one typo away from it, if any."""
        if word in self.positions:
            return word
        if len(word) < TYPO_WORD:
            return None
        found = set(self.variants.get(word, ()))  # the question's word has one extra letter
        for variant in deletions(word):
            if variant in self.positions:  # the question's word lacks a letter
                found.add(variant)
            found.update(self.variants.get(variant, ()))  # one letter changed or swapped
        for candidate in sorted(found):
            if within_typos(word, candidate, 1):
                return candidate
        return None


def _is_shouty(name: str) -> bool:
    """Names like CAST, SDR or D3: spelled with capitals or digits, so a short one is only
    recognised as written ("cast" in a sentence is a verb)."""
    letters = [c for c in name if c.isalpha()]
    return any(c.isdigit() for c in name) or any(c.isupper() for c in letters[1:])


def _needs_exact_case(key: str, name: str, span: tuple[int, int], whole: tuple[int, int]) -> bool:
    """A short shouty name must be written as the paper writes it, unless it is all the
    question asks about ("tell me about cast")."""
    return len(key) <= 4 and _is_shouty(name) and span != whole


def base_name(name: str) -> str:
    """A short name without the "(Surname)" or "[id]" a digest adds to tell two apart."""
    return _DISAMBIGUATION.sub("", name).strip() or name


class NameIndex:
    """Names and titles of papers, for finding the ones a question names."""

    def __init__(self, entries: Iterable[NameEntry] = ()) -> None:
        self._names: dict[str, list[NameEntry]] = defaultdict(list)
        self._name_variants: dict[str, set[str]] = defaultdict(set)
        self._titles: list[tuple[NameEntry, tuple[str, ...]]] = []
        self._title_words: dict[str, list[int]] = defaultdict(list)
        self._seen: set[tuple[str, str, str]] = set()
        self.add(entries)

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, entries: Iterable[NameEntry]) -> None:
        for entry in entries:
            if entry.kind == "name":
                for text in dict.fromkeys((entry.text, base_name(entry.text))):
                    self._add_name(NameEntry(entry.paper_id, text, "name", entry.rank))
            else:
                self._add_title(entry)

    def _add_name(self, entry: NameEntry) -> None:
        key = compact(entry.text)
        if not key or (entry.paper_id, "name", key) in self._seen:
            return
        self._seen.add((entry.paper_id, "name", key))
        self._names[key].append(entry)
        if typo_budget(key):
            for variant in deletions(key):
                self._name_variants[variant].add(key)

    def _add_title(self, entry: NameEntry) -> None:
        title_words = tuple(content_words(entry.text, limit=40, stop_words=FUNCTION_WORDS))
        key = " ".join(title_words)
        if len(title_words) < 3 or (entry.paper_id, "title", key) in self._seen:
            return
        self._seen.add((entry.paper_id, "title", key))
        index = len(self._titles)
        self._titles.append((entry, title_words))
        for word in title_words:
            self._title_words[word].append(index)

    # -- matching ---------------------------------------------------------------------------

    def match(self, question: QuestionWords) -> list[NameMatch]:
        """Every name and title of this index found in the question (unsorted; several
        per paper possible): pass the matches of all indexes to `choose`."""
        return self._name_matches(question) + self._title_matches(question)

    def _name_matches(self, question: QuestionWords) -> list[NameMatch]:
        out: list[NameMatch] = []
        whole = question.content_span
        for key, spans in question.windows.items():
            for entry in self._names.get(key, ()):
                for start, end in spans:
                    if _needs_exact_case(key, entry.text, (start, end), whole) and (
                        question.cased(start, end) != compact_cased(entry.text)
                    ):
                        continue
                    out.append(_named(entry, 1.0, start, end))
                    break
            budget = typo_budget(key)
            if (
                not budget
                or len(key) > MAX_NAME_CHARS
                or spans[0][1] - spans[0][0] > MAX_FUZZY_WORDS
            ):
                continue
            for name_key in self._near_names(key):
                allowed = min(budget, typo_budget(name_key))
                if allowed and name_key != key and within_typos(key, name_key, allowed):
                    for entry in self._names[name_key]:
                        start, end = spans[0]
                        out.append(_named(entry, 0.9, start, end))
        return out

    def _near_names(self, key: str) -> set[str]:
        """Name keys that may be one typo from `key` (checked by the caller)."""
        near = set(self._name_variants.get(key, ()))  # the name has one more letter
        for variant in deletions(key):
            if variant in self._names:  # the name has one letter less
                near.add(variant)
            near.update(self._name_variants.get(variant, ()))  # a letter changed or swapped
        return near

    def _title_matches(self, question: QuestionWords) -> list[NameMatch]:
        hits: dict[int, int] = defaultdict(int)
        for word in question.positions:
            for index in self._title_words.get(word, ()):
                hits[index] += 1
        out: list[NameMatch] = []
        for index, exact in hits.items():
            entry, title_words = self._titles[index]
            if exact < max(2, len(title_words) // 2):
                continue
            positions: list[int] = []
            leading = 0  # title words found from the first on: a title typed up to a point
            for place, word in enumerate(title_words):
                near = question.near(word)
                if near is not None:
                    positions.append(question.positions[near][0])
                    if place == leading:
                        leading += 1
            coverage = len(positions) / len(title_words)
            if coverage >= TITLE_COVERAGE and len(positions) >= 3:
                score = 0.7 + 0.25 * coverage
            elif leading >= TITLE_PREFIX_WORDS:
                score = 0.8
            else:
                continue
            start, end = min(positions), max(positions) + 1
            if end - start > 2 * len(positions) + 4:
                continue  # the words are scattered through a long question, not a title
            out.append(
                NameMatch(entry.paper_id, entry.text, "title", score, start, end, entry.rank)
            )
        return out


def choose(matches: Iterable[NameMatch]) -> list[NameMatch]:
    """The papers a question names, in the order it names them: one match per paper, and no
    two papers named by overlapping words (the surer match wins, then the longer, then the
    preferred paper: so a name two papers share goes to the one with the lower rank)."""
    best: dict[str, NameMatch] = {}
    for match in matches:
        held = best.get(match.paper_id)
        if held is None or _order(match) < _order(held):
            best[match.paper_id] = match
    chosen: list[NameMatch] = []
    for match in sorted(best.values(), key=_order):
        if all(match.end <= c.start or match.start >= c.end for c in chosen):
            chosen.append(match)
    return sorted(chosen, key=lambda m: m.start)  # in the order the question names them


def compact_cased(text: str) -> str:
    """Text with everything but letters and digits removed, case kept."""
    return "".join(_TOKEN.findall(text))


def _named(entry: NameEntry, score: float, start: int, end: int) -> NameMatch:
    return NameMatch(entry.paper_id, entry.text, "name", score, start, end, entry.rank)


def _order(match: NameMatch) -> tuple[float, int, int, str]:
    # Surest first, a longer stretch of the question counting towards sureness (a title
    # typed in full says more than a one-word name inside it: "SAGE: A Quantitative ..."
    # is that SAGE, not another); then the longer stretch; then the preferred paper.
    span = match.end - match.start
    return (-(match.score + SPAN_BONUS * min(span, 6)), -span, match.rank, match.paper_id)
