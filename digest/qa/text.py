"""Text helpers for questions: folding, words, stop words, a light stemmer, edit distance.

Everything here is pure and small; matching names and ranking papers are built on it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# The same word boundaries as FTS5's unicode61 tokenizer: runs of letters and digits, so
# "post-train" is two words here as it is in the index.
_WORD = re.compile(r"[^\W_]+")
# Combining marks left by NFKD (accents and the like), dropped so "é" folds to "e".
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")

# English function words: never what a title or a question is about. (Our own list:
# sklearn's would cost seconds of import time on every `digestbot ask`.)
FUNCTION_WORDS = frozenset(
    """
    a about above across after again against all almost along already also although always
    am among an and another any anyone anything are around as at be became because become
    been before being below beside besides between both but by can cannot could did do
    does doing done down during each either else enough etc even ever every few for from
    further get gets give given go had has have having he her here hers herself him
    himself his how however i if in indeed into is it its itself just least less like
    many may me might mine more most much must my myself neither never nevertheless no
    nobody none nor not nothing now of off often on once one only onto or other others
    otherwise our ours ourselves out over own per perhaps please quite rather really
    same several she should since so some someone something sometimes still such than
    that the their theirs them themselves then there therefore these they this those
    though through throughout thus to together too toward towards under until up upon us
    very via was we well were what whatever when whenever where whereas wherever whether
    which while who whoever whole whom whose why will with within without would yet you
    your yours yourself yourselves
    """.split()
)
# ... and the words that say how a question is asked, not what it is about. Field words
# ("model", "benchmark") stay: a question may well be about benchmarks, and ranking
# already weighs a word by how rare it is.
QUESTION_STOP_WORDS = FUNCTION_WORDS | frozenset(
    """
    tell explain explains describe describes summarize summarise summary summaries overview
    show list find give know say says said talk talks mention mentions mentioned
    paper papers preprint preprints article articles arxiv work works study studies
    week weeks weekly today yesterday month months recent recently latest new
    came come comes appeared appear appears published submitted posted announced
    thanks thank hi hello hey bot digestbot ask asking question questions
    interesting cool main idea ideas gist tl dr tldr eli5 briefly brief short quick
    s t d ll ve re m
    """.split()
)

# FTS5's operators, which people paste along with queries: never a name.
_FTS_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})

# Phrasings that ask for a list of papers rather than about one.
_LIST_INTENT = re.compile(
    r"\b(?:which|what|any|list|find|show|recommend|are\s+there)\b[^?.!]{0,40}\b"
    r"(?:papers|preprints|articles|works|studies)\b"
    r"|\b(?:papers|preprints|articles|works|studies)\s+(?:on|about|that|using|with|which|"
    r"where|for|in)\b",
    re.IGNORECASE,
)


def fold(text: str) -> str:
    """Case-, accent- and width-insensitive form of text (NFKD, marks dropped, casefolded)."""
    if text.isascii():  # nearly every abstract: no need to decompose anything
        return text.lower()
    return _MARKS.sub("", unicodedata.normalize("NFKD", text)).casefold()


def words(text: str) -> list[str]:
    """The folded words of text, in order (letters and digits; punctuation splits)."""
    return _WORD.findall(fold(text))


def compact(text: str) -> str:
    """Text folded with everything but letters and digits removed: the key a name is
    matched by, so "Draft-OPD", "draft opd" and "DraftOPD" are one name."""
    return "".join(_WORD.findall(fold(text)))


def content_words(
    text: str, limit: int = 24, stop_words: frozenset[str] = QUESTION_STOP_WORDS
) -> list[str]:
    """The words of a question worth searching for: folded, stop words and one-letter
    words dropped (but a stop word written in capitals is a name: "HAD", "IT"), without
    repeats, at most `limit`. For a title, pass `FUNCTION_WORDS`."""
    out: list[str] = []
    shouting = text.isupper()  # a question in capitals: its capitals say nothing
    for raw in _WORD.findall(text):
        word = fold(raw)
        named = not shouting and len(raw) > 1 and raw.isupper() and raw not in _FTS_OPERATORS
        if not named and (
            len(word) < 2 or word in stop_words or (word.isdigit() and len(word) < 3)
        ):
            continue
        if word not in out:
            out.append(word)
            if len(out) == limit:
                break
    return out


def asks_for_a_list(question: str) -> bool:
    """Whether the question asks for papers in the plural ("which papers use GRPO?")."""
    return bool(_LIST_INTENT.search(question))


_SUFFIXES = (
    "izations",
    "ization",
    "ations",
    "ation",
    "ments",
    "ment",
    "ities",
    "ity",
    "ings",
    "ing",
    "ness",
    "ers",
    "er",
    "ies",
    "ied",
    "es",
    "ed",
    "ly",
    "s",
    "y",
)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix-stripping stem that is a prefix of the word's other forms, so that
    " stem" finds them in running text: "rewards", "rewarded", "rewarding" -> "reward";
    "policy", "policies" -> "polic". (The index itself uses Porter.)"""
    if len(word) <= 4 or word.isdigit():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def stems(text: str) -> set[str]:
    """The set of stems of the words of text."""
    return {stem(w) for w in words(text) if len(w) > 1}


def deletions(word: str) -> set[str]:
    """Every string made by deleting one character: two words within one typo of each
    other share one of these (or one is the other), which makes typo lookup a dict hit."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def within_typos(a: str, b: str, limit: int) -> bool:
    """Whether a and b are at most `limit` edits apart (insert, delete, substitute, or swap
    two neighbours: the optimal string alignment distance), computed within a band."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > limit:
        return False
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        low = limit + 1
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
            low = min(low, value)
        if low > limit:
            return False
        previous2, previous = previous, current
    return previous[len(b)] <= limit


def typo_budget(key: str) -> int:
    """How many typos a name of this length may carry and still be recognised."""
    if len(key) < 5:
        return 0
    return 1 if len(key) < 10 else 2
