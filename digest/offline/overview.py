"""Concluding Overview, the parent message's gist, and Run Metadata."""

from __future__ import annotations

from digest.model import Item, cite
from digest.offline.analysis import WindowAnalysis
from digest.offline.notable import Pick, concrete_result
from digest.offline.prose import inline, join, join_items, plural, verb_for
from digest.synthesis import SynthesisRequest

OFFLINE_ENGINE = (
    "offline engine, written without a language model: themes from named concepts, "
    "method families from the papers' own terms, extractive sentences"
)


def _themes_phrase(analysis: WindowAnalysis, limit: int = 4) -> str:
    named = [t for t in analysis.themes if t.concept is not None]
    parts = [f"{analysis.label_inline(t)} ({len(t.members)})" for t in named[:limit]]
    return join_items(parts)


def _count_of(count: int, papers: bool = True) -> str:
    """ "5 papers", "1 paper", "none of the papers" (or "5", "none" after a first count)."""
    if count == 0:
        return "none of the papers" if papers else "none"
    return plural(count, "paper") if papers else str(count)


def overview_items(
    analysis: WindowAnalysis,
    request: SynthesisRequest,
    families: list[tuple[str, int, str]],
    picks: list[Pick],
    rising: list[str],
    challenges: list[str],
) -> list[Item]:
    papers = analysis.papers
    n = len(papers)
    themes = analysis.themes
    named = [t for t in themes if t.concept is not None]
    parts = [f"This window brought {plural(n, 'paper')} on {request.topic.title}."]
    if len(named) > 1:
        parts.append(f"The largest themes are {_themes_phrase(analysis)}.")
    if families:
        facts = [
            f"{plural(count, 'paper')} {verb_for(count, does.split(' ', 1)[0])} "
            f"{does.split(' ', 1)[1]}"
            for _, count, does in families[:3]
        ]
        parts.append(f"Across the window, {join_items(facts)}.")
    figures = sum(1 for i in range(n) if concrete_result(analysis, i))
    limits = sum(1 for i in range(n) if any(s.is_limitation for s in analysis.sentences(i)))
    counted = (
        f"{_count_of(figures)} {verb_for(figures, 'report')} a concrete figure in "
        f"{'its' if figures == 1 else 'their'} abstract, and {_count_of(limits, False)} "
        f"{verb_for(limits, 'state')} a limitation of {'its' if limits == 1 else 'their'} own."
    )
    parts.append(counted[:1].upper() + counted[1:])
    if rising:
        parts.append(f"Against earlier weeks, {join(rising)} became more common.")
    elif request.history.is_empty:
        parts.append("This is the first digest of the topic, so nothing is compared yet.")
    areas = {analysis.label(t) for t in named}
    challenges = [c for c in challenges if c in areas]  # areas, not single papers
    if challenges:
        topics = list(dict.fromkeys(inline(c) for c in challenges))[:3]
        parts.append(f"The limitations the papers state most clearly concern {join_items(topics)}.")
    items = [Item("Overview", " ".join(parts), ())]
    if picks:
        ordered = [papers[p.index].id for p in picks]
        labels = {
            p.index: f" ({analysis.label_inline(themes[p.theme])})"
            if themes[p.theme].concept is not None
            else ""
            for p in picks
        }
        first, *rest = picks
        text = f"For a newcomer: start with {cite(papers[first.index].id)}{labels[first.index]}"
        if rest:
            middle = [f"{cite(papers[p.index].id)}{labels[p.index]}" for p in rest[:-1]]
            if middle:
                text += f", then {join(middle)}"
            last = rest[-1]
            text += f", and finish with {cite(papers[last.index].id)}{labels[last.index]}"
        items.append(Item("Reading order", text + ".", tuple(ordered)))
    return items


def gist(analysis: WindowAnalysis, request: SynthesisRequest, picks: list[Pick]) -> str:
    n = len(analysis.papers)
    window = request.window
    text = (
        f"{plural(n, 'paper')} on {request.topic.title} first submitted to arXiv from "
        f"{window.since} to {window.until}."
    )
    if len(analysis.themes) > 1:
        text += f" Largest themes: {_themes_phrase(analysis, 3)}."
    if picks:
        first = [cite(analysis.papers[p.index].id) for p in picks[:2]]
        text += f" Start with {join(first)}."
    return text


