"""Key Research Themes: one item per cluster, saying what its papers share and how they
differ, in their own words."""

from __future__ import annotations

from collections import Counter

import numpy as np

from digest.model import Item
from digest.offline.analysis import Theme, WindowAnalysis
from digest.offline.prose import cite_list, clause, join, plural, sentence, summary


def representatives(analysis: WindowAnalysis, theme: Theme, count: int = 3) -> list[int]:
    """The most central paper, then the central papers least like those already picked, so
    the examples show the theme's range rather than three versions of one idea."""
    pool = list(theme.members[: max(count * 3, 6)])
    if not pool:
        return []
    picked = [pool.pop(0)]
    while pool and len(picked) < count:
        similarity = analysis.similarity(pool, picked).max(axis=1)
        picked.append(pool.pop(int(np.argmin(similarity))))
    return picked


def concept_terms(analysis: WindowAnalysis, theme: Theme) -> list[tuple[str, int]]:
    """The terms of the theme's concept its papers use in their title or contribution
    sentence, with how many papers use each, most used first."""
    if theme.concept is None:
        return []
    used: Counter[str] = Counter()
    for i in theme.members:
        text = analysis.paper_texts[i]
        found = theme.concept.pattern.findall(f"{text.title} {text.contribution}")
        used.update({_singular(analysis.casing.phrase(t)) for t in found})
    # Ties by name: the counts come from sets, whose order varies between processes.
    return sorted(used.items(), key=lambda pair: (-pair[1], pair[0].lower()))[:4]


def _singular(term: str) -> str:
    if len(term) <= 3 or not term.endswith("s") or term.endswith(("ss", "is", "us")):
        return term  # "synthesis", "corpus" are singular already
    return term[:-1]


def theme_item(analysis: WindowAnalysis, theme: Theme, names: dict[str, str]) -> Item:
    papers = analysis.papers
    members = theme.members
    ids = [papers[i].id for i in members]
    label = analysis.label(theme)
    heading = f"{label} ({plural(len(members), 'paper')})"
    if len(members) == 1:
        only = members[0]
        return Item(heading, summary(analysis, only, names[papers[only].id], 45), tuple(ids))
    parts: list[str] = []
    terms = concept_terms(analysis, theme)
    if terms:
        uses = [f"{term} ({count})" for term, count in terms]
        parts.append(f"What their titles and contributions name: {join(uses)}.")
    else:
        parts.append(
            f"These {len(members)} papers name none of the themes above in their title or "
            "contribution."
        )
    examples = representatives(analysis, theme, 3 if len(members) >= 3 else len(members))
    statements = [clause(summary(analysis, i, names[papers[i].id], 30)) for i in examples]
    lead = "They differ in approach: " if len(statements) > 1 and terms else "Among them: "
    parts.append(sentence(lead + "; ".join(statements)))
    others = [papers[i].id for i in members if i not in examples]
    if others:
        parts.append(f"Also in this theme: {cite_list(others, limit=8)}.")
    return Item(heading, " ".join(parts), tuple(ids))


def themes_section(analysis: WindowAnalysis, names: dict[str, str]) -> list[Item]:
    return [theme_item(analysis, theme, names) for theme in analysis.themes]
