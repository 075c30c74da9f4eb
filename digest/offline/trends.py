"""What Is New in This Window: themes and terms against the topic's earlier digests and
earlier papers in the corpus."""

from __future__ import annotations

import math
import re
from collections import Counter

from digest.model import Digest, Item
from digest.offline.analysis import WindowAnalysis, _without_acronym_definitions
from digest.offline.prose import cite_list, join, plural
from digest.offline.text import clean_abstract
from digest.offline.vocabulary import STOP_WORDS, phrase_analyzer
from digest.synthesis import History

_COUNT = re.compile(r"\s*\(\d+ papers?\)$")


def _content_words(label: str) -> set[str]:
    words = re.findall(r"[a-z][a-z0-9-]+", label.lower())
    return {w.rstrip("s") for w in words if w not in STOP_WORDS and w != "and"}


def compare_themes(analysis: WindowAnalysis, previous: Digest) -> Item:
    """Which themes continue from the previous digest, which are new, which are gone."""
    section = previous.section("themes")
    before = [(_COUNT.sub("", i.heading), len(i.papers)) for i in section.items] if section else []
    now = [(analysis.label_inline(t), len(t.members)) for t in analysis.themes]
    continuing, new = [], []
    matched: set[int] = set()
    for label, size in now:
        words = _content_words(label)
        overlap = [j for j, (old, _) in enumerate(before) if words & _content_words(old)]
        if overlap:
            j = overlap[0]
            matched.add(j)
            continuing.append(f"{label} ({size} papers, against {before[j][1]})")
        else:
            new.append(f"{label} ({size})")
    gone = [old[:1].lower() + old[1:] for j, (old, _) in enumerate(before) if j not in matched]
    n = len(analysis.papers)
    change = n - previous.paper_count
    trend = "more" if change > 0 else "fewer"
    parts = [
        f"The previous digest covered {previous.since} to {previous.until} with "
        f"{plural(previous.paper_count, 'paper')}; this window has {n}"
        + (f", {abs(change)} {trend}." if change else ", the same number.")
    ]
    if continuing:
        parts.append(f"Themes that continue: {join(continuing)}.")
    if new:
        parts.append(f"New as a theme this window: {join(new)}.")
    if gone:
        parts.append(f"No longer a theme of its own: {join(gone)}.")
    heading = f"Against the digest of {previous.since} to {previous.until}"
    return Item(heading, " ".join(parts), ())


def _phrase_documents(papers) -> list[Counter[str]]:
    analyze = phrase_analyzer(3)
    return [
        Counter(
            set(analyze(_without_acronym_definitions(f"{p.title}. {clean_abstract(p.abstract)}")))
        )
        for p in papers
    ]


def rising_terms(
    analysis: WindowAnalysis, history: History, limit: int = 3
) -> tuple[list[tuple[str, list[int], int]], list[tuple[str, float, float]]]:
    """Phrases much more common now than in the earlier papers, with the papers using them
    and how many earlier papers did; and phrases that faded (share before, share now)."""
    earlier = history.earlier_papers
    n_now, n_before = len(analysis.papers), len(earlier)
    if not n_now or not n_before:
        return [], []
    now_docs = _phrase_documents(analysis.papers)
    before_df: Counter[str] = Counter()
    for doc in _phrase_documents(earlier):
        before_df.update(doc.keys())
    now_df: Counter[str] = Counter()
    for doc in now_docs:
        now_df.update(doc.keys())
    minimum = max(2, math.ceil(0.03 * n_now))

    def interesting(phrase: str) -> bool:
        return " " in phrase or analysis.casing.phrase(phrase) != phrase

    rising = []
    for phrase, count in now_df.items():
        if count < minimum or not interesting(phrase):
            continue
        share_now = count / n_now
        share_before = (before_df[phrase] + 0.5) / (n_before + 1)
        ratio = share_now / share_before
        if ratio >= 2.0:
            rising.append((ratio * math.log1p(count), phrase))
    rising.sort(reverse=True)
    picked: list[tuple[str, list[int], int]] = []
    for _, phrase in rising:
        if any(phrase in p or p in phrase for p, _, _ in picked):
            continue
        users = [i for i, doc in enumerate(now_docs) if phrase in doc]
        picked.append((phrase, users, before_df[phrase]))
        if len(picked) == limit:
            break
    fading = []
    for phrase, count in before_df.items():
        share_before = count / n_before
        if count < max(3, 0.08 * n_before) or not interesting(phrase):
            continue
        share_now = now_df[phrase] / n_now
        if share_now <= share_before / 3:
            fading.append((share_before - share_now, phrase, share_before, share_now))
    fading.sort(reverse=True)
    faded: list[tuple[str, float, float]] = []
    for _, phrase, before, now in fading:
        if not any(phrase in p or p in phrase for p, _, _ in faded):
            faded.append((phrase, before, now))
        if len(faded) == limit:
            break
    return picked, faded


def _earlier_description(history: History) -> str:
    count = plural(len(history.earlier_papers), "paper")
    if history.earlier_window is not None:
        return f"the {count} of {history.earlier_window}"
    return f"the {count} before this window"


def new_section(analysis: WindowAnalysis, history: History) -> list[Item]:
    if history.is_empty:
        return [
            Item(
                "First digest for this topic",
                "This is the first digest for this topic: there is no earlier digest and no "
                "earlier paper of the topic in the corpus to compare with. From the next "
                "window on, this section compares each window with the one before.",
                (),
            )
        ]
    items: list[Item] = []
    if history.digests:
        items.append(compare_themes(analysis, history.digests[0]))
    else:
        items.append(
            Item(
                "No earlier digest",
                "No earlier digest of this topic is stored, so the comparison is with "
                f"{_earlier_description(history)} in the corpus.",
                (),
            )
        )
    papers = analysis.papers
    n = len(papers)
    rising, faded = rising_terms(analysis, history)
    earlier_n = len(history.earlier_papers)
    for phrase, users, before in rising:
        shown = analysis.casing.phrase(phrase)
        share_now = round(100 * len(users) / n)
        share_before = round(100 * before / earlier_n) if earlier_n else 0
        text = (
            f"“{shown}” appears in {plural(len(users), 'paper')} of this window ({share_now}%), "
            f"against {before} of {_earlier_description(history)} ({share_before}%): "
            f"{cite_list([papers[i].id for i in users], limit=6)}."
        )
        items.append(Item(f"Rising: {shown}", text, tuple(papers[i].id for i in users)))
    if faded:
        listed = [
            f"“{analysis.casing.phrase(p)}” ({round(100 * b)}% of earlier papers, "
            f"{round(100 * a)}% now)"
            for p, b, a in faded
        ]
        items.append(Item("Less visible than before", f"{join(listed)}.", ()))
    if history.earlier_papers and not rising:
        items.append(
            Item(
                "No sharply rising terms",
                f"No phrase is markedly more common than in {_earlier_description(history)}.",
                (),
            )
        )
    return items
