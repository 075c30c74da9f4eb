"""Answers: the neutral `Answer`, and the extractive (offline) answerer.

An answer is a list of lines (headings, paragraphs, bullets) whose text cites papers only as
`[[id]]`, plus the papers it was allowed to cite: the retrieved ones. Renderers turn each
citation into the paper's short name linked to its arXiv page (`digest/qa/render.py`), so an
answer can never link to anything else, nor name a paper that was not retrieved.

The extractive answer needs no key and no network beyond the optional full-text fetch:

- about one paper (or a few, each named): its card (title, authors, date, categories, link,
  the digest that named it) and the abstract sentences most relevant to the question; for a
  specific question, the most relevant passages of the full text, naming their section;
- across papers: the papers found, best first, each with its most relevant sentence;
- nothing found: "not found", with the closest matches.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from digest.model import cited_ids
from digest.offline.text import about, sentences_of, split_sentences
from digest.qa.errors import FullTextUnavailable
from digest.qa.fulltext import FullTextFetcher, Passage
from digest.qa.resolve import Found, Resolution
from digest.qa.text import stem, stems
from digest.safety import defang, looks_like_injection, neutralize
from digest.shortnames import short_names

log = logging.getLogger(__name__)

ABSTRACT_SENTENCES = 3
PASSAGES = 2
MAX_QUOTE_WORDS = 60
MAX_SHOWN_QUESTION = 120  # characters of the question repeated in "not found"

EMPTY_QUESTION = (
    "Ask me about a paper: an arXiv id (like 2605.26567), a paper's name from a digest, or "
    "a question such as “which papers are about reward hacking?”."
)


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an answer: "heading", "paragraph" or "bullet"; text cites as [[id]]."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer to a question, ready to render.

    `kind`: "paper" (about papers the question names), "papers" (a list found by search),
    "not_found", or "empty" (the question had nothing to look for). `papers` are the
    retrieved papers, the only ones the text may cite; `names` their short names; `notes`
    say what the answer could not use (shown after it).
    """

    question: str
    kind: str
    lines: tuple[Line, ...]
    papers: tuple[Found, ...] = ()
    names: dict[str, str] = field(default_factory=dict)
    engine: str = "offline"
    notes: tuple[str, ...] = ()

    @property
    def cited(self) -> list[str]:
        """Ids the answer cites, in order of first citation: all of them retrieved."""
        allowed = {f.paper.id for f in self.papers}
        found: list[str] = []
        for line in self.lines:
            found += [i for i in cited_ids(line.text) if i in allowed]
        return list(dict.fromkeys(found))

    @property
    def title(self) -> str:
        """A short title for the answer's message."""
        if self.kind == "paper" and self.papers:
            first = self.papers[0].paper.id
            more = len({i for i in self.cited if i != first})
            name = self.names.get(first, first)
            return name if not more else f"{name} and {more} more"
        if self.kind == "papers":
            return "Papers that match"
        if self.kind == "not_found":
            return "Not found"
        return "Ask about papers"


def display_names(found: Sequence[Found]) -> dict[str, str]:
    """Short names for the papers of an answer: the name a digest used when one did,
    else one made from the title (distinct within the answer)."""
    papers = list({f.paper.id: f.paper for f in found}.values())
    # Names come from defanged titles, as in digests: a title is untrusted text.
    names = short_names([replace(p, title=defang(p.title)) for p in papers])
    for item in found:
        if item.naming is not None and item.naming.short_name:
            names[item.paper.id] = item.naming.short_name
    return names


def _shorten(text: str, max_words: int = MAX_QUOTE_WORDS) -> str:
    words = text.split()
    if len(words) <= max_words:
        return text
    return " ".join(words[:max_words]).rstrip(",;:") + " …"


def _safe_sentence(text: str) -> str | None:
    """Untrusted paper text made safe to quote, or None when it reads as an instruction."""
    text = neutralize(text)
    if not text or looks_like_injection(text):
        return None
    return _shorten(text)


def _focus(terms: Sequence[str], found: Found, names: dict[str, str]) -> set[str]:
    """The question's words that say what it wants to know about this paper: its own name
    ("what does MusaCoder do?") says nothing beyond which paper."""
    own = stems(names.get(found.paper.id, "")) | stems(found.paper.title.split(":")[0])
    return {stem(t) for t in terms} - own


def relevant_sentences(found: Found, focus: set[str], count: int) -> list[str]:
    """The abstract's sentences that best answer the question, in the abstract's order;
    for a question with no focus, what the paper does and finds."""
    sentences = sentences_of(found.paper.abstract)
    if not sentences:
        text = _safe_sentence(found.paper.abstract)
        return [text] if text else []
    # Abstracts open with background; what the paper does starts at its first "we ...".
    own = next((s.index for s in sentences if s.is_contribution), 0)
    scored = []
    for sentence in sentences:
        overlap = len(focus & stems(sentence.text))
        role = 0.6 * sentence.is_contribution + 0.4 * sentence.is_finding
        role += 0.3 * (sentence.index >= own)
        scored.append((overlap + role - 0.02 * sentence.index, sentence))
    best = sorted(scored, key=lambda pair: -pair[0])[:count]
    picked = sorted((s for _, s in best), key=lambda s: s.index)
    return [t for t in (_safe_sentence(s.text) for s in picked) if t]


def passage_quotes(passages: Sequence[Passage], focus: set[str]) -> list[tuple[str, str]]:
    """(section, sentence) for each passage: its sentence sharing most words with the
    question, unless it reads as an instruction."""
    out: list[tuple[str, str]] = []
    for passage in passages:
        best: tuple[int, str] | None = None
        for sentence in split_sentences(passage.text):
            overlap = len(focus & stems(sentence))
            if overlap and (best is None or overlap > best[0]):
                best = (overlap, sentence)
        if best is None:
            continue
        text = _safe_sentence(best[1])
        if text:
            out.append((neutralize(passage.section) or "the paper", text))
    return out


def _card(found: Found, names: dict[str, str]) -> list[Line]:
    paper = found.paper
    authors = ", ".join(neutralize(a) for a in paper.authors[:3])
    if len(paper.authors) > 3:
        authors += " et al."
    categories = ", ".join(paper.categories[:4])
    facts = " · ".join(
        part
        for part in (
            authors,
            f"submitted {paper.submitted.isoformat()}",
            categories,
            paper.url,
        )
        if part
    )
    lines = [
        Line("heading", f"[[{paper.id}]]"),
        Line("paragraph", defang(paper.title)),
        Line("paragraph", facts),
    ]
    if found.naming is not None:
        n = found.naming
        lines.append(
            Line(
                "paragraph",
                f"Named in the {n.topic} digest of {n.since} to {n.until} as "
                f"“{neutralize(n.short_name)}”.",
            )
        )
    elif found.how == "fetched":
        lines.append(Line("paragraph", "Fetched from arXiv just now; no digest has named it."))
    return lines


@dataclass
class ExtractiveAnswerer:
    """Answers from the papers' own text, no model: cards, relevant sentences, lists."""

    fulltext: FullTextFetcher | None = None
    abstract_sentences: int = ABSTRACT_SENTENCES

    def answer(self, resolution: Resolution) -> Answer:
        """The answer to a resolved question."""
        if resolution.is_empty and not resolution.named:
            return Answer(resolution.question, "empty", (Line("paragraph", EMPTY_QUESTION),))
        if resolution.named:
            return self._about(resolution)
        if resolution.related:
            return self._listing(resolution)
        return self._not_found(resolution)

    def _about(self, resolution: Resolution) -> Answer:
        named = resolution.named
        names = display_names(named)
        lines: list[Line] = []
        notes: list[str] = []
        for found in named:
            lines += _card(found, names)
            focus = _focus(resolution.focus, found, names)
            sentences = relevant_sentences(found, focus, self.abstract_sentences)
            if sentences:
                lines.append(Line("paragraph", "From the abstract:"))
                lines += [Line("bullet", f"“{s}”") for s in sentences]
            if len(named) == 1 and focus and self.fulltext is not None:
                quotes, note = self._full_text(found, resolution.focus, focus)
                if quotes:
                    lines.append(Line("paragraph", "From the full text:"))
                    lines += [Line("bullet", f"{section}: “{text}”") for section, text in quotes]
                if note:
                    notes.append(note)
        if _missing(resolution):
            lines.append(Line("paragraph", _missing_sentence(resolution)))
        return Answer(resolution.question, "paper", tuple(lines), named, names, notes=tuple(notes))

    def _full_text(
        self, found: Found, terms: Sequence[str], focus: set[str]
    ) -> tuple[list[tuple[str, str]], str]:
        """Quotes of the full text's passages most relevant to the question, or a note
        saying why there are none."""
        if self.fulltext is None:
            return [], ""
        try:
            passages = self.fulltext.passages(found.paper.id, " ".join(terms), PASSAGES)
        except FullTextUnavailable as err:
            log.info("full text of %s unavailable: %s", found.paper.id, err)
            return [], "The full text is not available, so this answer uses the abstract."
        return passage_quotes(passages, focus), ""

    def _listing(self, resolution: Resolution) -> Answer:
        related = resolution.related
        names = display_names(related)
        focus = {stem(t) for t in resolution.terms}
        words = " ".join(resolution.terms[:8])
        in_thread = any(f.how == "context" for f in related)
        lead = "Papers of this digest" if in_thread else "Papers in the corpus"
        lines = [Line("paragraph", f"{lead} about “{neutralize(words)}”, most relevant first:")]
        for found in related:
            paper = found.paper
            best = relevant_sentences(found, focus, 1)
            said = about(paper.id, best[0], names.get(paper.id, "")) if best else None
            where = f"({paper.submitted.isoformat()}, {paper.primary_category})"
            if said and said.startswith(f"[[{paper.id}]]"):
                text = f"[[{paper.id}]] {where}{said[len(paper.id) + 4 :]}"
            else:
                text = f"[[{paper.id}]] {where}: {defang(paper.title)}"
            lines.append(Line("bullet", text))
        if _missing(resolution):
            lines.append(Line("paragraph", _missing_sentence(resolution)))
        return Answer(resolution.question, "papers", tuple(lines), related, names)

    def _not_found(self, resolution: Resolution) -> Answer:
        shown = resolution.question[:MAX_SHOWN_QUESTION]
        if len(resolution.question) > MAX_SHOWN_QUESTION:
            shown = shown.rsplit(" ", 1)[0] + " …"
        if _missing(resolution):
            lines = [Line("paragraph", _missing_sentence(resolution))]
        else:
            lines = [Line("paragraph", f"I found no paper in the corpus for “{shown}”.")]
        suggestions = resolution.suggestions
        names = display_names(suggestions)
        if suggestions:
            lines.append(Line("paragraph", "Closest matches:"))
            lines += [
                Line("bullet", f"[[{f.paper.id}]]: {defang(f.paper.title)}")
                for f in suggestions
            ]
        else:
            lines.append(
                Line(
                    "paragraph",
                    "Nothing close, either. Try an arXiv id, a paper's name from a digest, or "
                    "other words.",
                )
            )
        return Answer(resolution.question, "not_found", tuple(lines), suggestions, names)


def _missing(resolution: Resolution) -> bool:
    return bool(resolution.missing_ids or resolution.problem)


def _missing_sentence(resolution: Resolution) -> str:
    if resolution.problem:
        return resolution.problem
    ids = resolution.missing_ids
    which = ", ".join(ids)
    return f"arXiv has no paper {which}." if len(ids) == 1 else f"arXiv has no papers {which}."


_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def lines_of(text: str) -> list[Line]:
    """Plain text (paragraphs, "- " bullets) as answer lines."""
    out: list[Line] = []
    paragraph: list[str] = []
    for raw in text.splitlines():
        if _BULLET.match(raw):
            if paragraph:
                out.append(Line("paragraph", " ".join(paragraph)))
                paragraph = []
            out.append(Line("bullet", _BULLET.sub("", raw).strip()))
        elif raw.strip():
            paragraph.append(raw.strip())
        elif paragraph:
            out.append(Line("paragraph", " ".join(paragraph)))
            paragraph = []
    if paragraph:
        out.append(Line("paragraph", " ".join(paragraph)))
    return out
