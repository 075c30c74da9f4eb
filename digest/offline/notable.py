"""Notable Papers to Read First: central to a theme, distinctive in the window, spread
over the themes; each with why to read it and the caveat the paper itself states."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from digest.model import Item, cite
from digest.offline.analysis import WindowAnalysis
from digest.offline.prose import limitation, summary

_VENUE = re.compile(
    r"\b(?:accepted|to appear|published)\b[^.;]{0,40}?\b(ICML|NeurIPS|ICLR|ACL|EMNLP|NAACL|"
    r"COLING|CVPR|ICCV|ECCV|AAAI|IJCAI|KDD|SIGIR|WWW|TACL|TMLR|JMLR|COLM|AISTATS|UAI|CoRL|"
    r"RSS|ICRA|IROS|MICCAI|Interspeech|ICASSP)\b[^.;,]{0,12}",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Pick:
    index: int
    theme: int  # index into analysis.themes
    centrality: float
    distinctiveness: float


def _venue(comment: str | None) -> str | None:
    match = _VENUE.search(comment or "")
    return match.group(1) if match else None


def rank_notable(analysis: WindowAnalysis, count: int) -> list[Pick]:
    """The papers to read first: scored by how central each is to its theme and how unlike
    its nearest neighbours it is; at most two per theme, largest themes first."""
    n = len(analysis.papers)
    if n == 0:
        return []
    similarity = analysis.similarity(np.arange(n), np.arange(n))
    np.fill_diagonal(similarity, -1.0)
    neighbours = min(5, n - 1)
    if neighbours > 0:
        nearest = -np.sort(-similarity, axis=1)[:, :neighbours].mean(axis=1)
        # As a rank in [0, 1]: absolute cosines depend on the window's size and vocabulary.
        distinct = np.argsort(np.argsort(-nearest)) / max(1, n - 1)
    else:
        distinct = np.ones(n)
    candidates: list[tuple[float, Pick]] = []
    for theme_index, theme in enumerate(analysis.themes):
        weight = len(theme.members) / n  # larger themes matter more to a reader
        for rank, (index, centre) in enumerate(zip(theme.members, theme.centrality, strict=True)):
            paper = analysis.papers[index]
            typical = 1.0 - rank / max(1, len(theme.members))
            score = 0.5 * typical + 0.2 * weight + 0.2 * float(distinct[index]) + 0.1 * centre
            score += 0.05 if _venue(paper.comment) else 0.0
            score += 0.03 if any(s.is_finding for s in analysis.sentences(index)) else 0.0
            candidates.append((score, Pick(index, theme_index, centre, float(distinct[index]))))
    candidates.sort(key=lambda pair: -pair[0])
    picks: list[Pick] = []
    # First the most typical paper of each theme, largest theme first: the way into it.
    by_index = {p.index: p for _, p in candidates}
    for theme in analysis.themes:
        if len(picks) < count:
            picks.append(by_index[theme.members[0]])
    per_theme = {p.theme: 1 for p in picks}
    # Two a theme spreads the list over the window; few themes need more to reach `count`.
    cap = max(2, -(-count // max(1, len(analysis.themes))))
    for _, pick in candidates:
        if len(picks) >= count:
            break
        if pick in picks or per_theme.get(pick.theme, 0) >= cap:
            continue
        picks.append(pick)
        per_theme[pick.theme] = per_theme.get(pick.theme, 0) + 1
    for _, pick in candidates:  # a small window: fill up regardless of themes
        if len(picks) >= count:
            break
        if pick not in picks:
            picks.append(pick)
    return sorted(picks, key=lambda p: (p.theme, analysis.themes[p.theme].members.index(p.index)))


def notable_item(analysis: WindowAnalysis, pick: Pick, names: dict[str, str]) -> Item:
    paper = analysis.papers[pick.index]
    name = names[paper.id]
    theme = analysis.themes[pick.theme]
    label = analysis.label_inline(theme) if len(theme.members) > 1 else None
    size = len(theme.members)
    if label and theme.members[0] == pick.index:
        why = f"the most typical of the {size} papers on {label}, so a good way into that theme"
    elif label:
        why = f"a second angle on {label}, unlike the theme's most typical paper"
    else:
        why = "it stands on its own in this window"
    venue = _venue(paper.comment)
    if venue:
        why += f"; the authors report it accepted at {venue}"
    what = summary(analysis, pick.index, name, 34)
    caveat = limitation(analysis, pick.index, name, 34)
    caveat_text = (
        f"Caveat: {caveat}" if caveat else "Caveat: the abstract states no limitation of its own."
    )
    text = f"Why: {why}. {what} {caveat_text}"
    return Item(cite(paper.id), text, (paper.id,))


def notable_section(
    analysis: WindowAnalysis, names: dict[str, str], picks: list[Pick]
) -> list[Item]:
    """One item per pick of `rank_notable`, in its order."""
    return [notable_item(analysis, pick, names) for pick in picks]
