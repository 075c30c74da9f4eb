"""Measures of how a digest reads, shared by bench/bench_quality.py and the tests.

Each measure counts a defect a reviewer found in the offline digest (sentences cut with
"…", LaTeX left in, "this problem" pointing at a sentence the reader never saw, the same
template sentence over and over, names that read as fragments) or a property it must have
(themes whose papers share their concept, a TL;DR for most papers).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from digest.model import Digest
from digest.offline.analysis import WindowAnalysis
from digest.offline.concepts import names_concept
from digest.shortnames import is_broken

_MARKER = re.compile(r"\[\[[^\]]+\]\]")
# LaTeX the cleaner should have removed: commands, escapes, braces, math dollars, and the
# "'s" a dropped macro leaves behind ("experiments demonstrate 's superiority").
_LATEX = re.compile(r"\\[a-zA-Z]+|\\[%&_#$]|[{}$]|(?:^|\s)'s\b|\u2063")
# A demonstrative pointing back at a sentence of the abstract the digest does not show.
_DANGLING = re.compile(r"\b(?:this|these|those)\b(?!\s+(?:paper|work|study|article)\b)", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\[“\"])")


@dataclass(frozen=True, slots=True)
class Quality:
    coherence: dict[str, float]  # theme label -> share of its papers naming its concept
    other_share: float  # share of the window's papers in "Other papers"
    ellipsis_cuts: int  # sentences cut with "…"
    latex_residue: int  # LaTeX fragments left in the text
    dangling: int  # statements about a paper with a dangling demonstrative
    boilerplate: int  # repeats of one template sentence
    descriptive_share: float  # share of papers with a TL;DR from what they do
    broken_names: list[str]  # short names that read as fragments

    @property
    def min_coherence(self) -> float:
        return min(self.coherence.values(), default=1.0)


def texts_of(digest: Digest) -> list[str]:
    """Every text of the digest a reader sees, catalog TL;DRs included (titles are the
    authors' and not ours to judge)."""
    out = [digest.gist]
    for section in digest.sections:
        if section.key == "metadata":
            continue
        for item in section.items:
            out.extend([item.heading, item.text])
    out.extend(p.tldr for p in digest.papers if p.tldr)
    return out


def statements(digest: Digest) -> list[str]:
    """The sentences that speak about one paper: they start with its citation marker or
    its name (catalog TL;DRs)."""
    found = [p.tldr for p in digest.papers if p.tldr]
    for text in texts_of(digest)[1:]:
        for sentence in _SENTENCE.split(text):
            marker = _MARKER.search(sentence)
            if marker and marker.start() <= 2:
                found.append(sentence)
    return found


def boilerplate_repeats(digest: Digest) -> int:
    """How many times a sentence of five or more words repeats, citations aside. A list
    of citations ("Also in this theme: [[a]], [[b]] ...") is a list, not prose, and is not
    counted."""
    seen: Counter[str] = Counter()
    for text in texts_of(digest):
        for sentence in _SENTENCE.split(text):
            if len(_MARKER.findall(sentence)) > 1:
                continue
            bare = " ".join(_MARKER.sub("", sentence).split())
            bare = re.sub(r"\d+", "N", bare)
            if len(re.findall(r"[A-Za-z]{2,}", bare)) >= 5:
                seen[bare] += 1
    return sum(count - 1 for count in seen.values() if count > 1)


def measure(digest: Digest, analysis: WindowAnalysis) -> Quality:
    """The quality measures of a digest the offline engine wrote from `analysis`'s papers."""
    coherence = {}
    n = len(analysis.papers)
    other = 0
    for theme in analysis.themes:
        if theme.concept is None:
            other = len(theme.members)
            continue
        named = sum(names_concept(theme.concept, analysis.paper_texts[i]) for i in theme.members)
        coherence[theme.concept.label] = named / len(theme.members)
    texts = texts_of(digest)
    titles = {p.id: p.title for p in analysis.papers}
    descriptive = sum(
        1
        for p in digest.papers
        if p.tldr and not p.tldr.startswith(f"{p.short_name} notes that")
    )
    return Quality(
        coherence=coherence,
        other_share=other / n if n else 0.0,
        ellipsis_cuts=sum(t.count("…") for t in texts),
        latex_residue=sum(len(_LATEX.findall(t)) for t in texts),
        dangling=sum(1 for s in statements(digest) if _DANGLING.search(s)),
        boilerplate=boilerplate_repeats(digest),
        descriptive_share=descriptive / n if n else 1.0,
        broken_names=[
            p.short_name for p in digest.papers if is_broken(p.short_name, titles.get(p.id, ""))
        ],
    )
