"""Notable Papers to Read First: ranked by what a reader values (relevance to the topic,
concrete results, an angle few other papers take, a venue), spread over the themes; each
with its own reason, its TL;DR and, when the paper states one, its caveat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from digest.model import Item, cite
from digest.offline.analysis import WindowAnalysis
from digest.offline.prose import join, limitation, summary
from digest.offline.text import DANGLING, UNRESOLVED

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
    result: str | None = None  # a clause of the paper stating a concrete result


# A number with a unit ("12%", "3.5x", "4 points") or a fold ("10-fold"). Written as
# \d(?:...|...) rather than "...|\b\d+-fold": a pattern that starts with a digit lets `re`
# skip to the next digit. (?<!\w\d) after the first digit is the \b before it.
_NUMBER = re.compile(
    r"\d(?:(?:[\d.,]*\d)?\s?(?:%|x\b|×|pp\b|points?\b)|(?<!\w\d)\d*(?:\.\d+)?-fold)"
)
_CLAUSES = re.compile(r"[,;:]\s+|\s[—–]\s")
_DIGIT = re.compile(r"\d")  # every match of _NUMBER holds one
_LOOSE_START = re.compile(r"^(?:(?:as|and|while|with|which|but|or|so|where|whereas)\s+)+", re.I)
_LOOSE_END = re.compile(r"(?:\s+(?:and|or|while|with|which|but|as|by|of|to|the|a|an))+$", re.I)
_SURVEY = re.compile(r"\b(?:survey|review|position|tutorial|overview|perspective)\b", re.I)


def _venue(comment: str | None) -> str | None:
    match = _VENUE.search(comment or "")
    return match.group(1) if match else None


def concrete_result(analysis: WindowAnalysis, index: int) -> str | None:
    """The clause of a finding sentence that states a number ("improves accuracy by 12%"),
    quotable on its own: short, no LaTeX left, no demonstrative pointing elsewhere."""
    memo: dict[int, str | None] = analysis.__dict__.setdefault("_concrete_results", {})
    if index not in memo:
        memo[index] = _concrete_result(analysis, index)
    return memo[index]


def _concrete_result(analysis: WindowAnalysis, index: int) -> str | None:
    for sentence in analysis.sentences(index):
        if not _DIGIT.search(sentence.text):
            continue  # a clause without a digit states no number: skip the passes below
        if not (sentence.is_finding or _NUMBER.search(sentence.text)) or UNRESOLVED in (
            sentence.text
        ):
            continue
        for part in _CLAUSES.split(sentence.text):
            words = part.split()
            if _NUMBER.search(part) and 4 <= len(words) <= 22 and not DANGLING.search(part):
                text = _LOOSE_START.sub("", part.strip().rstrip("."))
                text = _LOOSE_END.sub("", text)
                if text.count("(") == text.count(")") and len(text.split()) >= 4:
                    return text
    return None


def rank_notable(analysis: WindowAnalysis, count: int) -> list[Pick]:
    """The papers to read first: scored by relevance to the topic (a theme's concept in
    the title), concrete results, how unlike the rest of the window it is, and a venue;
    surveys and position papers count less (they are no way into new work). First the
    best paper of each theme, largest theme first, then the best of the rest, at most two
    a theme; "Other papers" only when the themes run out."""
    n = len(analysis.papers)
    if n == 0:
        return []
    scored: list[tuple[float, Pick]] = []
    for theme_index, theme in enumerate(analysis.themes):
        for index, centre in zip(theme.members, theme.centrality, strict=True):
            paper = analysis.papers[index]
            text = analysis.paper_texts[index]
            relevance = 0.0
            if theme.concept is not None:
                relevance = 1.0 if theme.concept.names(text.title) else 0.6
            result = concrete_result(analysis, index)
            score = (
                0.35 * relevance
                + 0.25 * (result is not None)
                + 0.1 * centre
                + 0.1 * bool(_venue(paper.comment))
                + 0.1 * any(s.is_contribution for s in analysis.sentences(index))
                - 0.3 * bool(_SURVEY.search(analysis.titles[index]))
            )
            scored.append((score, Pick(index, theme_index, centre, 0.0, result)))
    # How unlike the rest of the window a paper is: only for the strongest candidates (a
    # full paper-by-paper similarity costs seconds on a 2,500-paper window).
    scored.sort(key=lambda pair: (-pair[0], pair[1].index))
    shortlist = scored[: max(4 * count, 24)]
    for theme_index in range(len(analysis.themes)):  # and each theme's best two
        best_of_theme = [pair for pair in scored if pair[1].theme == theme_index][:2]
        shortlist += [pair for pair in best_of_theme if pair not in shortlist]
    rows = [p.index for _, p in shortlist]
    similarity = analysis.similarity(rows, np.arange(n))
    for row, index in enumerate(rows):
        similarity[row, index] = -1.0
    neighbours = min(5, n - 1)
    if neighbours > 0:
        nearest = -np.sort(-similarity, axis=1)[:, :neighbours].mean(axis=1)
        # As a rank in [0, 1]: absolute cosines depend on the window's size and vocabulary.
        distinct = 1.0 - np.argsort(np.argsort(nearest)) / max(1, len(rows) - 1)
    else:
        distinct = np.ones(len(rows))
    scored = [
        (score + 0.2 * float(d), replace(pick, distinctiveness=float(d)))
        for (score, pick), d in zip(shortlist, distinct, strict=True)
    ]
    scored.sort(key=lambda pair: (-pair[0], pair[1].index))
    picks: list[Pick] = []
    named = [t for t, theme in enumerate(analysis.themes) if theme.concept is not None]
    for theme_index in named:  # themes are largest first
        if len(picks) >= count:
            break
        best = next((p for _, p in scored if p.theme == theme_index), None)
        if best is not None:
            picks.append(best)
    per_theme = {p.theme: 1 for p in picks}
    for _, pick in scored:
        if len(picks) >= count:
            break
        if pick in picks or per_theme.get(pick.theme, 0) >= 2:
            continue
        picks.append(pick)
        per_theme[pick.theme] = per_theme.get(pick.theme, 0) + 1
    for _, pick in scored:  # a small window: fill up regardless of themes
        if len(picks) >= count:
            break
        if pick not in picks:
            picks.append(pick)
    rank = {id(p): r for r, (_, p) in enumerate(scored)}
    return sorted(picks, key=lambda p: rank[id(p)])


def reasons(analysis: WindowAnalysis, pick: Pick) -> list[str]:
    """Why this paper, in what holds for it alone: the theme its title names, the result it
    reports, how few papers share its angle, where it was accepted."""
    paper = analysis.papers[pick.index]
    theme = analysis.themes[pick.theme]
    out = []
    if theme.concept is not None:
        label = analysis.label_inline(theme)
        if theme.concept.pattern.search(analysis.paper_texts[pick.index].title):
            out.append(f"its title puts it squarely in {label}")
        else:
            out.append(f"it brings {label} into its own contribution")
    else:
        out.append("it shares no theme of the week, so it shows an angle the others miss")
    if pick.result:
        out.append(f"it reports a concrete result (“{pick.result}”)")
    if pick.distinctiveness >= 0.75 and theme.concept is not None:
        out.append("few papers of the week are close to it")
    venue = _venue(paper.comment)
    if venue:
        out.append(f"the authors report it accepted at {venue}")
    return out


def notable_item(analysis: WindowAnalysis, pick: Pick, names: dict[str, str]) -> Item:
    paper = analysis.papers[pick.index]
    name = names[paper.id]
    why = join(reasons(analysis, pick))
    what = summary(analysis, pick.index, name, 34)
    caveat = limitation(analysis, pick.index, name, 34)
    text = f"Why: {why}. {what}"
    if caveat:
        text += f" Caveat: {caveat}"
    return Item(cite(paper.id), text, (paper.id,))


def notable_section(
    analysis: WindowAnalysis, names: dict[str, str], picks: list[Pick]
) -> list[Item]:
    """One item per pick of `rank_notable`, in its order."""
    return [notable_item(analysis, pick, names) for pick in picks]
