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
from digest.offline.text import sentences_of, split_sentences
from digest.qa.errors import FullTextUnavailable
from digest.qa.facts import (
    CELL_WORDS,
    FACET_QUERY,
    FACET_WORDS,
    authors_line,
    dates_line,
    facet_quotes,
    headline,
    limitation,
    links,
    problem,
    safe,
    shorten,
    title_rest,
    tldr,
)
from digest.qa.fulltext import AUTHORS_SECTION, FullTextFetcher, Passage
from digest.qa.resolve import Found, Resolution
from digest.qa.text import stem, stems
from digest.safety import defang, looks_like_injection, neutralize
from digest.shortnames import short_names

log = logging.getLogger(__name__)

ABSTRACT_SENTENCES = 3
PASSAGES = 2
MAX_QUOTE_WORDS = 60
MAX_SHOWN_QUESTION = 120  # characters of the question repeated in "not found"
AFFILIATION_WORDS = 120  # of the full text's author block
FULLTEXT_CHUNKS = 8  # full-text chunks searched for the facts of one paper
LINK_QUERY = "github code available release released repository huggingface project page https"
COMPARE_QUERY = "dataset datasets benchmark evaluate limitation limitations future work"

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
    heading: str = ""  # the message title; empty: made from the papers' names
    intent: str = ""  # the kind of question it answers (`digest.qa.intent`)

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
        """A short title for the answer's message: what was asked ("Who wrote it"), so the
        papers' names appear only in their headers."""
        if self.heading:
            return self.heading
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


def _header(found: Found, names: dict[str, str]) -> Line:
    """One header per paper: its name (rendered as the name, linked once in the sources)
    and the rest of its title; the name is never repeated."""
    rest = title_rest(found.paper, names.get(found.paper.id, ""))
    return Line("heading", f"[[{found.paper.id}]] · {rest}" if rest else f"[[{found.paper.id}]]")


def _facts_line(found: Found) -> str:
    paper = found.paper
    authors = ", ".join(neutralize(a) for a in paper.authors[:3])
    if len(paper.authors) > 3:
        authors += f" and {len(paper.authors) - 3} more"
    categories = ", ".join(paper.categories[:4])
    return " · ".join(
        part for part in (authors, f"submitted {paper.submitted.isoformat()}", categories) if part
    )


def _naming_line(found: Found) -> Line | None:
    if found.naming is not None:
        n = found.naming
        return Line(
            "paragraph",
            f"Named in the {n.topic} digest of {n.since} to {n.until} as "
            f"“{neutralize(n.short_name)}”.",
        )
    if found.how == "fetched":
        return Line("paragraph", "Fetched from arXiv just now; no digest has named it.")
    return None


KIND_TITLES = {
    "authors": "Who wrote it",
    "when": "When it appeared",
    "proposes": "What it proposes",
    "code": "Code and data links",
    "compare": "Comparison",
    "general": "About the paper",
    "list": "Papers that match",
}
FACET_TITLES = {
    "datasets": "Datasets",
    "benchmarks": "Benchmarks",
    "baselines": "Baselines",
    "results": "Results",
}
COMPARE_ROWS = ("Problem", "Method", "Data", "Headline result", "Limitation")


@dataclass
class _FullText:
    """What the full text gave for one paper: its relevant passages, or why there are
    none (`missing`: "" when fetched, else one sentence)."""

    passages: list[Passage]
    missing: str

    @property
    def sections(self) -> list[tuple[str, str]]:
        return [(p.section, p.text) for p in self.passages]


@dataclass
class ExtractiveAnswerer:
    """Answers from the papers' own text, no model: the facts each kind of question asks
    for (authors, dates, what it proposes, data and results, links, a comparison, a list),
    each under one header per paper."""

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

    # -- about named papers -------------------------------------------------------------------

    def _about(self, resolution: Resolution) -> Answer:
        named = resolution.named
        names = display_names(named)
        intent = resolution.intent
        lines: list[Line] = []
        notes: list[str] = []
        if intent.kind == "compare" and len(named) >= 2:
            lines += self._compare(named, names)
        else:
            for found in named:
                lines.append(_header(found, names))
                if intent.kind == "authors":
                    lines.append(Line("paragraph", authors_line(found.paper)))
                    lines += self._affiliations(found)
                elif intent.kind == "when":
                    lines.append(Line("paragraph", dates_line(found.paper)))
                elif intent.kind == "proposes":
                    lines += self._proposes(found)
                elif intent.kind == "data":
                    lines += self._data(found, intent.facet, resolution, names)
                elif intent.kind == "code":
                    lines += self._links(found)
                else:
                    more, note = self._general(found, resolution, names, len(named))
                    lines += more
                    if note:
                        notes.append(note)
        if _missing(resolution):
            lines.append(Line("paragraph", _missing_sentence(resolution)))
        title = _title(intent.kind, intent.facet)
        return Answer(
            resolution.question,
            "paper",
            tuple(lines),
            named,
            names,
            notes=tuple(notes),
            heading=title,
            intent=intent.kind,
        )

    def _affiliations(self, found: Found) -> list[Line]:
        """The full text's author block, for the affiliations the arXiv record lacks."""
        if self.fulltext is None:
            return []
        try:
            block = self.fulltext.authors(found.paper.id)
        except FullTextUnavailable as err:
            log.info("full text of %s unavailable: %s", found.paper.id, err)
            return []
        text = safe(block, AFFILIATION_WORDS) if block else None
        return (
            [Line("paragraph", f"With affiliations, as the full text gives them: {text}")]
            if (text)
            else []
        )

    def _proposes(self, found: Found) -> list[Line]:
        lines = []
        said = tldr(found.paper)
        if said:
            lines.append(Line("paragraph", f"TL;DR: “{said}”"))
        result = headline(found.paper)
        if result and result != said:
            lines.append(Line("paragraph", f"Headline result: “{result}”"))
        if not lines:
            lines.append(Line("paragraph", "Its abstract does not say what it proposes."))
        return lines

    def _general(
        self, found: Found, resolution: Resolution, names: dict[str, str], count: int
    ) -> tuple[list[Line], str]:
        lines = [Line("paragraph", _facts_line(found))]
        naming = _naming_line(found)
        if naming is not None:
            lines.append(naming)
        focus = _focus(resolution.focus, found, names)
        if not focus:  # "what is X?", "tell me about X": what it proposes and finds
            lines += self._proposes(found)
            return lines, ""
        sentences = relevant_sentences(found, focus, self.abstract_sentences)
        if sentences:
            lines.append(Line("paragraph", "From the abstract:"))
            lines += [Line("bullet", f"“{s}”") for s in sentences]
        note = ""
        if count == 1 and self.fulltext is not None:
            quotes, note = self._full_text(found, resolution.focus, focus)
            if quotes:
                lines.append(Line("paragraph", "From the full text:"))
                lines += [Line("bullet", f"{section}: “{text}”") for section, text in quotes]
        return lines, note

    def _data(
        self, found: Found, facet: str, resolution: Resolution, names: dict[str, str]
    ) -> list[Line]:
        focus = sorted(_focus(resolution.focus, found, names))
        full = self._fetch(found, f"{FACET_QUERY[facet]} {' '.join(focus)}", FULLTEXT_CHUNKS)
        quotes = facet_quotes(found.paper, facet, full.sections)
        what = FACET_WORDS[facet]
        if not quotes:
            searched = _searched(full)
            return [Line("paragraph", f"I found no sentence naming its {what} in {searched}.")]
        lines = [Line("paragraph", f"Where it names its {what}:")]
        lines += [Line("bullet", f"{q.where}: “{q.text}”") for q in quotes]
        if full.missing:
            lines.append(Line("paragraph", f"Only the abstract was searched: {full.missing}"))
        return lines

    def _links(self, found: Found) -> list[Line]:
        found_links = links(found.paper)
        full = _FullText([], "")
        if not found_links:
            full = self._fetch(found, LINK_QUERY, FULLTEXT_CHUNKS)
            found_links = links(found.paper, full.sections)
        if not found_links:
            return [
                Line(
                    "paragraph",
                    f"It gives no code or data link in {_searched(full, comments=True)}.",
                )
            ]
        return [Line("paragraph", "Links it gives:")] + [
            Line("bullet", f"{q.text} (in {_where(q.where)})") for q in found_links
        ]

    def _compare(self, named: Sequence[Found], names: dict[str, str]) -> list[Line]:
        rows: dict[str, list[Line]] = {row: [] for row in COMPARE_ROWS}
        searched: list[str] = []
        for found in named:
            paper = found.paper
            full = self._fetch(found, COMPARE_QUERY, FULLTEXT_CHUNKS)
            searched.append(full.missing)
            data = facet_quotes(paper, "datasets", full.sections, 1, CELL_WORDS)
            data = data or facet_quotes(paper, "benchmarks", full.sections, 1, CELL_WORDS)
            limit = limitation(paper, full.sections)
            cells = {
                "Data": f"“{data[0].text}”{_from(data[0].where)}" if data else None,
                "Headline result": _quoted(headline(paper)),
                "Limitation": f"“{limit.text}”{_from(limit.where)}" if limit else None,
                "Problem": _quoted(problem(paper)),
                "Method": _quoted(_cell(tldr(paper))),
            }
            for row, text in cells.items():
                shown = text or _not_stated(full)
                rows[row].append(Line("bullet", f"[[{paper.id}]]: {shown}"))
        lines: list[Line] = []
        for row in COMPARE_ROWS:
            lines.append(Line("heading", row))
            lines += rows[row]
        return lines

    def _fetch(self, found: Found, query: str, limit: int) -> _FullText:
        """The full text's passages for `query`, or why there are none."""
        if self.fulltext is None:
            return _FullText([], "the full text is not fetched in this setup.")
        try:
            passages = self.fulltext.passages(found.paper.id, query, limit + 1)
            passages = [p for p in passages if p.section != AUTHORS_SECTION][:limit]
            return _FullText(passages, "")
        except FullTextUnavailable as err:
            log.info("full text of %s unavailable: %s", found.paper.id, err)
            return _FullText([], "the full text could not be fetched.")

    def _full_text(
        self, found: Found, terms: Sequence[str], focus: set[str]
    ) -> tuple[list[tuple[str, str]], str]:
        """Quotes of the full text's passages most relevant to the question, or a note
        saying why there are none."""
        if self.fulltext is None:
            return [], ""
        try:
            passages = self.fulltext.passages(found.paper.id, " ".join(terms), PASSAGES + 1)
            passages = [p for p in passages if p.section != AUTHORS_SECTION][:PASSAGES]
        except FullTextUnavailable as err:
            log.info("full text of %s unavailable: %s", found.paper.id, err)
            return [], "The full text is not available, so this answer uses the abstract."
        return passage_quotes(passages, focus), ""

    # -- across papers ------------------------------------------------------------------------

    def _listing(self, resolution: Resolution) -> Answer:
        related = resolution.related
        names = display_names(related)
        words = " ".join(resolution.terms[:8])
        in_thread = any(f.how == "context" for f in related)
        lead = "Papers of this digest" if in_thread else "Papers in the corpus"
        if resolution.window is not None:
            lead += f" submitted {resolution.window.describe()}"
        if words:
            lead += f" about “{neutralize(words)}”, most relevant first:"
        else:
            lead += ", newest first:"
        lines = [Line("paragraph", lead)]
        for found in related:
            paper = found.paper
            said = _cell(tldr(paper)) or shorten(defang(paper.title), CELL_WORDS)
            lines.append(Line("bullet", f"[[{paper.id}]] ({paper.submitted.isoformat()}): {said}"))
        if _missing(resolution):
            lines.append(Line("paragraph", _missing_sentence(resolution)))
        return Answer(
            resolution.question,
            "papers",
            tuple(lines),
            related,
            names,
            heading=KIND_TITLES["list"],
            intent="list",
        )

    def _not_found(self, resolution: Resolution) -> Answer:
        shown = resolution.question[:MAX_SHOWN_QUESTION]
        if len(resolution.question) > MAX_SHOWN_QUESTION:
            shown = shown.rsplit(" ", 1)[0] + " …"
        if _missing(resolution):
            lines = [Line("paragraph", _missing_sentence(resolution))]
        elif resolution.window is not None:
            words = neutralize(" ".join(resolution.terms[:8]))
            about_words = f" about “{words}”" if words else ""
            lines = [
                Line(
                    "paragraph",
                    f"I found no paper in the corpus submitted {resolution.window.describe()}"
                    f"{about_words}.",
                )
            ]
        else:
            lines = [Line("paragraph", f"I found no paper in the corpus for “{shown}”.")]
        suggestions = resolution.suggestions
        names = display_names(suggestions)
        if suggestions:
            lines.append(Line("paragraph", "Closest matches:"))
            lines += [
                Line(
                    "bullet",
                    f"[[{f.paper.id}]] ({f.paper.submitted.isoformat()}): "
                    f"{shorten(defang(f.paper.title), CELL_WORDS)}",
                )
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
        return Answer(
            resolution.question, "not_found", tuple(lines), suggestions, names, heading="Not found"
        )


def _title(kind: str, facet: str) -> str:
    if kind == "data":
        return FACET_TITLES.get(facet, "Data and results")
    return KIND_TITLES.get(kind, KIND_TITLES["general"])


def _quoted(text: str | None) -> str | None:
    return f"“{text}”" if text else None


def _cell(text: str | None) -> str | None:
    return shorten(text, CELL_WORDS) if text else None


def _where(where: str) -> str:
    return where if where in ("abstract", "comments") else f"the full text, {where}"


def _from(where: str) -> str:
    return "" if where == "abstract" else f" ({where})"


def _searched(full: _FullText, *, comments: bool = False) -> str:
    """Which parts of the paper were searched, in words."""
    parts = "its abstract and arXiv comments" if comments else "its abstract"
    if full.missing:
        return f"{parts} ({full.missing[:1].lower()}{full.missing[1:].rstrip('.')})"
    sections = list(dict.fromkeys(neutralize(p.section) for p in full.passages))[:4]
    where = f" ({', '.join(sections)})" if sections else ""
    return f"{parts} or the full text{where}"


def _not_stated(full: _FullText) -> str:
    return "not stated in the abstract" + ("" if full.missing else " or the full text searched")


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
