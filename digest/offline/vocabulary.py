"""Words that carry no meaning in a digest of ML papers, and display casing of terms."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import groupby, pairwise

# Function words of English. Our own list rather than scikit-learn's: importing that costs
# about 100 MB of memory in a bot process that is otherwise idle most of the week.
ENGLISH_STOP_WORDS = frozenset(
    """
    a about above across after afterwards again against all almost alone along already also
    although always am among amongst an and another any anyhow anyone anything anyway
    anywhere are around as at back be became because become becomes becoming been before
    beforehand behind being below beside besides between beyond both but by can cannot could
    did do does doing done down due during each either else elsewhere enough etc even ever
    every everyone everything everywhere except few for former formerly from further had has
    have having he hence her here hereafter hereby herein hers herself him himself his how
    however i if in indeed into is it its itself just last latter latterly least less many
    may me meanwhile might mine more moreover most mostly much must my myself namely neither
    never nevertheless next no nobody none noone nor not nothing now nowhere of off often on
    once one only onto or other others otherwise our ours ourselves out over own per perhaps
    please quite rather re same seem seemed seeming seems several she should since so some
    somehow someone something sometime sometimes somewhere still such than that the their
    theirs them themselves then thence there thereafter thereby therefore therein thereupon
    these they this those though through throughout thru thus to together too toward towards
    under until up upon us very via was we well were what whatever when whence whenever where
    whereafter whereas whereby wherein whereupon wherever whether which while whither who
    whoever whole whom whose why will with within without would yet you your yours yourself
    yourselves
    """.split()
)

# Field words: true of nearly every abstract, so they must never label a theme
# (measured: without them clusters are labelled "propose, results, tasks, model").
FIELD_STOP_WORDS = frozenset(
    """
    propose proposed proposes propose introduce introduced introduces present presents
    presented paper papers work works approach approaches method methods framework
    frameworks model models modeling result results task tasks show shows shown
    demonstrate demonstrates demonstrated experiment experiments experimental extensive
    outperform outperforms outperforming state art sota baseline baselines novel new
    existing prior previous recent recently significant significantly substantially
    improve improves improved improvement improvements performance achieve achieves
    achieved achieving effective effectively efficient efficiency based using use used
    uses large language llm llms lm lms study studies analysis evaluate evaluated
    evaluation evaluations benchmark benchmarks dataset datasets data code available
    github https http www com org abs arxiv furthermore moreover additionally specifically
    key various different multiple diverse wide range high low better best strong stronger
    consistent consistently remain remains remaining however while including respectively
    finally overall particular particularly generally general simple simply way ways
    allow allows enable enables enabling leverage leverages leveraging utilize utilizes
    address addresses addressing problem problems challenge challenges challenging
    capabilities capability ability abilities aim aims goal goals provide provides setting
    settings scenario scenarios application applications real world textbf emph mathbf
    mathrm cite et al eg ie etc compared compare comparison across via able given times
    number set sets level levels ensure ensures range specific focus focuses rely relies
    relying typically often usually commonly widely increasingly critical crucial
    important importance need needs lack lacks limited limitation limitations tend tends
    instead rather also yet still even although despite thus hence therefore whether
    like make makes making made first second third one two three four five six seven
    eight nine ten single main mainly largely much many several new types type
    """.split()
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | FIELD_STOP_WORDS

TOKEN_PATTERN = r"(?u)\b[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*\b"
_TOKEN = re.compile(TOKEN_PATTERN)


class Casing:
    """Remembers how a word is written most often in the papers (GRPO, LoRA, on-policy)."""

    def __init__(self, texts: Iterable[str]) -> None:
        # Count every token of every text at once (C speed); then per lower-case word, its
        # total and its most common form with capitals inside (LoRA, GRPO). Only that form
        # can win, so nothing else is kept per word.
        totals: dict[str, int] = {}
        marked: dict[str, tuple[int, str]] = {}
        for token, count in Counter(_TOKEN.findall("\n".join(texts))).items():
            lower = token.lower()
            totals[lower] = totals.get(lower, 0) + count
            if lower[1:] != token[1:] and (count, token) > marked.get(lower, (0, "")):
                marked[lower] = (count, token)
        # Prefer the marked form when it is common enough; otherwise the lower-case form,
        # so sentence-initial capitals do not leak.
        self._best: dict[str, str] = {
            lower: lower
            if lower not in marked or marked[lower][0] < 0.3 * total
            else marked[lower][1]
            for lower, total in totals.items()
        }

    def phrase(self, phrase: str) -> str:
        return " ".join(self._best.get(w, w) for w in phrase.split())

    def heading(self, phrase: str) -> str:
        """The phrase as a heading: first letter up, the rest as the papers write it."""
        text = self.phrase(phrase)
        return text[:1].upper() + text[1:]


# A clause ends at punctuation or a spaced dash; a phrase never runs across that end.
_CLAUSE_END = r"[.,;:!?()\[\]\"“”]|(?<=\s)[-–—](?=\s)"
# Clause ends and tokens in one pass: a clause end comes back as its single character.
_PIECE = re.compile(rf"{_CLAUSE_END}|{TOKEN_PATTERN.removeprefix('(?u)')}")

# Single letters break a phrase as a function word does ("a", "x" in "x and y"), and so does
# the end of a clause.
_BREAKS = STOP_WORDS | frozenset("abcdefghijklmnopqrstuvwxyz") | frozenset('.,;:!?()[]"“”-–—')


def phrase_analyzer(max_n: int) -> Callable[[str], list[str]]:
    """Tokens and n-grams of *adjacent* content words only.

    sklearn's n-grams are built after stop words are removed, so "reinforcement learning
    with verifiable rewards" yields "learning verifiable rewards", which no one writes.
    Here n-grams never cross a stop word or the end of a clause.
    """
    is_break = _BREAKS.__contains__  # a builtin: groupby calls it without a Python frame
    pieces, join = _PIECE.findall, " ".join  # bound once: analyze runs per document

    def analyze(text: str) -> list[str]:
        grams: list[str] = []
        extend = grams.extend
        # One findall over the whole text (not one per clause): a token never holds a
        # clause end, and a clause end is never a word character, so tokens are the same.
        for broken, group in groupby(pieces(text.lower()), is_break):
            if broken:
                continue
            run = list(group)
            extend(run)
            if len(run) >= 2 and max_n >= 2:
                extend(map(join, pairwise(run)))
                if len(run) >= 3 and max_n >= 3:
                    extend(map(join, zip(run, run[1:], run[2:], strict=False)))
        return grams

    return analyze
