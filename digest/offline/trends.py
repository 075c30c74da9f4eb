"""What Is New in This Window: themes and terms against the topic's earlier digests and
earlier papers in the corpus."""

from __future__ import annotations

import math
import re
from collections import Counter

from digest.model import Digest, Item
from digest.offline.analysis import WindowAnalysis, _without_acronym_definitions
from digest.offline.concepts import OTHER
from digest.offline.prose import cite_list, join_items, plural
from digest.offline.text import clean_abstract
from digest.offline.vocabulary import phrase_analyzer
from digest.safety import defang
from digest.synthesis import History
from storage import Paper

_COUNT = re.compile(r"\s*\(\d+ papers?\)$")


def compare_themes(analysis: WindowAnalysis, previous: Digest) -> Item:
    """Which themes continue from the previous digest, which are new, which are gone:
    compared by label only where both digests use the same stable concept labels."""
    section = previous.section("themes")
    before = {_COUNT.sub("", i.heading): len(i.papers) for i in (section.items if section else ())}
    now = {analysis.label(t): len(t.members) for t in analysis.themes if t.concept is not None}
    n = len(analysis.papers)
    change = n - previous.paper_count
    trend = "more" if change > 0 else "fewer"
    parts = [
        f"The previous digest covered {previous.since} to {previous.until} with "
        f"{plural(previous.paper_count, 'paper')}; this window has {n}"
        + (f", {abs(change)} {trend}." if change else ", the same number.")
    ]
    shared = [label for label in now if label in before]
    if not shared:
        parts.append("Its themes were labelled differently, so they are not compared one by one.")
    else:
        continuing = [f"{label} ({now[label]}, against {before[label]})" for label in shared]
        parts.append(f"Themes that continue: {join_items(continuing)}.")
        new = [f"{label} ({size})" for label, size in now.items() if label not in before]
        if new:
            parts.append(f"New as a theme this window: {join_items(new)}.")
        gone = [label for label in before if label not in now and label != OTHER]
        if gone:
            parts.append(f"No longer a theme of its own: {join_items(gone)}.")
    heading = f"Against the digest of {previous.since} to {previous.until}"
    return Item(heading, " ".join(parts), ())


def concept_shift(
    analysis: WindowAnalysis, earlier: tuple[Paper, ...] | list[Paper], limit: int = 3
) -> list[tuple[str, int, int, list[int]]]:
    """Concepts whose share of paper titles changed most against the earlier papers:
    (label, papers now, papers before, indexes now), largest change first. Titles only, in
    both windows, so the two shares are measured the same way."""
    concepts = [t.concept for t in analysis.themes if t.concept is not None]
    if not concepts or not earlier:
        return []
    before_titles = [defang(p.title).lower() for p in earlier]
    now_titles = [t.title for t in analysis.paper_texts]
    n_now, n_before = len(now_titles), len(before_titles)
    rows = []
    for concept in concepts:
        users = [i for i, title in enumerate(now_titles) if concept.pattern.search(title)]
        before = sum(1 for title in before_titles if concept.pattern.search(title))
        change = len(users) / n_now - before / n_before
        if max(len(users), before) >= 2:
            rows.append((abs(change), concept.label, len(users), before, users))
    rows.sort(key=lambda row: (-row[0], row[1]))
    return [(label, now, before, users) for _, label, now, before, users in rows[:limit]]


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
    """The baseline as it really is: how many earlier papers the corpus holds and the days
    they were first submitted on (not the span the corpus was asked about)."""
    count = plural(len(history.earlier_papers), "earlier paper")
    days = sorted(p.published.date() for p in history.earlier_papers)
    if not days:
        return f"the {count} before this window"
    if days[0] == days[-1]:
        return f"the {count} of this topic in the corpus, all from {days[0]}"
    return f"the {count} of this topic in the corpus, first submitted {days[0]} to {days[-1]}"


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
                f"{_earlier_description(history)}.",
                (),
            )
        )
    papers = analysis.papers
    n = len(papers)
    earlier_n = len(history.earlier_papers)
    for label, now, before, users in concept_shift(analysis, history.earlier_papers):
        share_now, share_before = round(100 * now / n), round(100 * before / earlier_n)
        direction = "more" if share_now > share_before else "less"
        text = (
            f"{label} is named in the titles of {plural(now, 'paper')} of this window "
            f"({share_now}%), against {before} of {_earlier_description(history)} "
            f"({share_before}%): {direction} of the topic than before."
        )
        if users:
            text += f" This window: {cite_list([papers[i].id for i in users], limit=6)}."
        items.append(
            Item(
                f"{label}: {share_before}% to {share_now}%",
                text,
                tuple(papers[i].id for i in users),
            )
        )
    rising, faded = rising_terms(analysis, history)
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
        items.append(Item("Less visible than before", f"{join_items(listed)}.", ()))
    if history.earlier_papers and not rising:
        items.append(
            Item(
                "No sharply rising terms",
                f"No phrase is markedly more common than in {_earlier_description(history)}.",
                (),
            )
        )
    return items
