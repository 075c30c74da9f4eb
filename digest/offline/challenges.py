"""Challenges and Future Directions: the limitations and open problems the papers state
themselves, grouped by what they are about."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from digest.model import Item
from digest.offline.analysis import WindowAnalysis
from digest.offline.prose import (
    cite_list,
    limitation,
    limitation_sentence,
    plural,
    verb_for,
)
from digest.offline.text import clean_sentences
from digest.offline.vocabulary import phrase_analyzer

if TYPE_CHECKING:
    import numpy as np

MAX_ITEMS = 5
# Words that end a phrase without naming anything ("outline open", "major open").
_NOT_A_HEAD = frozenset(
    """
    open major key main remaining future new outline several various many more important
    critical significant additional potential current existing
    """.split()
)


def _vocabulary_index(analysis: WindowAnalysis) -> tuple[dict[str, int], np.ndarray]:
    """Phrase -> column, and papers per column; built once per window (the vocabulary of
    a large window has hundreds of thousands of phrases)."""
    cached = analysis.__dict__.get("_vocabulary_index")
    if cached is None:
        counts, vocabulary = analysis.counts
        cached = ({v: i for i, v in enumerate(vocabulary)}, (counts > 0).sum(axis=0).A1)
        analysis.__dict__["_vocabulary_index"] = cached
    return cached


def key_phrase(analysis: WindowAnalysis, text: str, avoid: str = "") -> str | None:
    """The most specific phrase of `text` that other papers of the window also use."""
    if analysis.counts[0] is None:
        return None
    index, frequency = _vocabulary_index(analysis)
    n = len(analysis.papers)
    best, best_score = None, 0.0
    for phrase in sorted(set(phrase_analyzer(3)(text))):  # sorted: ties break the same way
        i = index.get(phrase)
        if i is None or frequency[i] < 2 or phrase in avoid.lower():
            continue
        words = phrase.count(" ") + 1
        if words == 1 or phrase.rsplit(" ", 1)[-1] in _NOT_A_HEAD:
            continue  # "missing" or "outline open" does not name an issue
        score = words * math.log(n / frequency[i] + 1)
        if score > best_score:
            best, best_score = phrase, score
    return best


def challenges_section(analysis: WindowAnalysis, names: dict[str, str]) -> list[Item]:
    papers = analysis.papers
    # theme, centrality, paper, statement about the paper, the sentence as written
    stated: list[tuple[int, float, int, str, str]] = []
    for theme_index, theme in enumerate(analysis.themes):
        for index, centre in zip(theme.members, theme.centrality, strict=True):
            text = limitation(analysis, index, names[papers[index].id], 40)
            raw = limitation_sentence(analysis, index)
            if text and raw:
                stated.append((theme_index, centre, index, text, raw))
    if not stated:
        return [
            Item(
                "Few stated limitations",
                "None of the abstracts of this window states a limitation or an open problem "
                "in so many words; the full papers are the place to look for them.",
                (),
            )
        ]
    # The most central statements first, at most two per theme.
    stated.sort(key=lambda s: -s[1])
    per_theme: dict[int, int] = {}
    items: list[Item] = []
    headings: set[str] = set()
    used: set[int] = set()
    for theme_index, _, index, text, raw in stated:
        if per_theme.get(theme_index, 0) >= 2 or index in used:
            continue
        paper = papers[index]
        phrase = key_phrase(analysis, raw, avoid=names[paper.id])
        # The theme says what area the limitation is in; a second one of the same theme is
        # told apart by its paper.
        theme = analysis.themes[theme_index]
        if theme.concept is not None:
            heading = analysis.label(theme)
        else:  # "Other papers" says nothing about the issue: its phrase, else its paper
            heading = analysis.casing.heading(phrase) if phrase else names[paper.id]
        related = [
            j
            for _, _, j, _, other in stated
            if j != index and j not in used and phrase and phrase in other.lower()
        ][:4]
        body = text
        if related:
            ids = [papers[j].id for j in related]
            body += f" The same issue comes up in {cite_list(ids, limit=4)}."
        cited = (paper.id, *(papers[j].id for j in related))
        if heading.lower() in headings:
            # A second limit of the same theme joins its item: one heading, two statements.
            at = next(k for k, item in enumerate(items) if item.heading.lower() == heading.lower())
            first = items[at]
            items[at] = Item(first.heading, f"{first.text} {body}", (*first.papers, *cited))
        else:
            if len(items) == MAX_ITEMS:
                break
            headings.add(heading.lower())
            items.append(Item(heading, body, cited))
        used.add(index)
        used.update(related)
        per_theme[theme_index] = per_theme.get(theme_index, 0) + 1
    future = _future_work(analysis)
    if future:
        items.append(
            Item(
                "Future work the authors name",
                f"{plural(len(future), 'abstract')} {verb_for(len(future), 'name')} directions "
                "for future work: "
                f"{cite_list([papers[i].id for i in future], limit=8)}.",
                tuple(papers[i].id for i in future),
            )
        )
    return items


def _future_work(analysis: WindowAnalysis) -> list[int]:
    found = []
    for index, paper in enumerate(analysis.papers):
        sentences = clean_sentences(paper.abstract)
        if any("future work" in s.lower() or "we leave" in s.lower() for s in sentences):
            found.append(index)
    return found
