"""Concluding Overview, the parent message's gist, and Run Metadata."""

from __future__ import annotations

from digest.model import Item, cite
from digest.offline.analysis import WindowAnalysis
from digest.offline.notable import Pick
from digest.offline.prose import inline, join, plural
from digest.synthesis import SynthesisRequest

OFFLINE_ENGINE = (
    "offline engine, written without a language model: TF-IDF and k-means themes, "
    "method families from the papers' own terms, extractive sentences"
)


def _themes_phrase(analysis: WindowAnalysis, limit: int = 4) -> str:
    parts = [f"{analysis.label_inline(t)} ({len(t.members)})" for t in analysis.themes[:limit]]
    return join(parts)


def overview_items(
    analysis: WindowAnalysis,
    request: SynthesisRequest,
    families: list[tuple[str, int]],
    picks: list[Pick],
    rising: list[str],
    challenges: list[str],
) -> list[Item]:
    papers = analysis.papers
    n = len(papers)
    themes = analysis.themes
    parts = [
        f"This window brought {plural(n, 'paper')} on {request.topic.title}."
        + (
            f" They fall into {plural(len(themes), 'theme')}: {_themes_phrase(analysis)}."
            if len(themes) > 1
            else ""
        )
    ]
    if families:
        named = [f"{inline(name)} ({count})" for name, count in families[:3]]
        parts.append(f"By method, the largest families are {join(named)}.")
    if rising:
        parts.append(f"Against earlier weeks, {join(rising)} became more common.")
    elif request.history.is_empty:
        parts.append("This is the first digest of the topic, so nothing is compared yet.")
    if challenges:
        topics = list(dict.fromkeys(inline(c) for c in challenges))[:3]
        parts.append(f"The limitations the papers state most clearly concern {join(topics)}.")
    items = [Item("Overview", " ".join(parts), ())]
    if picks:
        ordered = [papers[p.index].id for p in picks]
        labels = {p.index: analysis.label_inline(themes[p.theme]) for p in picks}
        first, *rest = picks
        text = f"For a newcomer: start with {cite(papers[first.index].id)} ({labels[first.index]})"
        if rest:
            middle = [f"{cite(papers[p.index].id)} ({labels[p.index]})" for p in rest[:-1]]
            if middle:
                text += f", then {join(middle)}"
            last = rest[-1]
            text += f", and finish with {cite(papers[last.index].id)} ({labels[last.index]})"
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


