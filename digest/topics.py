"""Topics: what a team follows, and the arXiv query generated from it."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from digest.errors import UnknownTopic


@dataclass(frozen=True, slots=True)
class Topic:
    """A followed subject: arXiv categories, and phrase groups a paper must all hit.

    A paper matches when it is in one of `categories` and, for every group in `include`, has
    at least one of the group's phrases in its title or abstract, and none of `exclude`.
    """

    name: str
    title: str
    categories: tuple[str, ...]
    include: tuple[tuple[str, ...], ...]
    exclude: tuple[str, ...] = ()
    style: str = "technical learning digest"

    def query(self) -> str:
        """The arXiv API `search_query` for this topic (no date range)."""
        parts: list[str] = []
        if self.categories:
            parts.append("(" + " OR ".join(f"cat:{c}" for c in self.categories) + ")")
        if self.include:
            groups = " AND ".join(f"({_phrase_clause(group)})" for group in self.include)
            parts.append(f"({groups})")
        query = " AND ".join(parts)
        if self.exclude:
            query += f" ANDNOT ({_phrase_clause(self.exclude)})"
        return query

    def rule(self) -> str:
        """A fingerprint of what `matches` judges by (the matcher's code version, categories,
        phrases): a stored verdict on a paper holds only while its rule is the same, so an
        edited topic, or a change to how matching works, judges every paper afresh."""
        judged = repr((_MATCHER_VERSION, self.categories, self.include, self.exclude))
        return hashlib.sha256(judged.encode()).hexdigest()[:16]

    def window_query(self, since_stamp: str, until_stamp: str) -> str:
        """The query restricted to a submission-date range (arXiv's YYYYMMDDHHMM, GMT)."""
        return f"{self.query()} AND submittedDate:[{since_stamp} TO {until_stamp}]"

    def matches(self, title: str, abstract: str, categories: Iterable[str]) -> bool:
        """Whether a paper belongs to the topic, judged locally the way arXiv's query would."""
        if self.categories and not set(categories) & set(self.categories):
            return False
        # A cheap necessary test first: a folded phrase word is always a substring of the
        # lowered text (folding only turns punctuation into spaces and drops a trailing s),
        # so a group none of whose phrases has all its words in the lowered text cannot
        # hit. Most papers fail it, and skip the fold, which costs 10x more.
        lowered = f"{title} {abstract}".lower()
        if not _may_match(lowered, _group_words(self.include)):
            return False
        text = _folded(lowered)
        if any(_folded_phrase(phrase) in text for phrase in self.exclude):
            return False
        return all(any(_folded_phrase(p) in text for p in group) for group in self.include)


# Bump when `Topic.matches` changes what it accepts (folding, the category test...): the
# verdicts stored under the old rule are then judged again at the next ingest.
_MATCHER_VERSION = 1


def _phrase_clause(phrases: Iterable[str]) -> str:
    return " OR ".join(f'ti:"{p}" OR abs:"{p}"' for p in phrases)


# Every ASCII punctuation and space character, and the common typographic ones, to a space.
_TO_SPACE = str.maketrans(dict.fromkeys(string.punctuation + string.whitespace + "’‘“”–—…·•", " "))


def _folded(text: str) -> str:
    """Words folded (lower case; arXiv's search folds plurals, a trailing s will do) and
    joined as " w1 w2 ... ": a phrase is in a text exactly when its folded form is a
    substring of the text's, at word boundaries. str.translate and split, not a regex:
    this runs for every paper of every ingested feed."""
    words = text.lower().translate(_TO_SPACE).split()
    return " " + " ".join(w[:-1] if len(w) > 3 and w[-1] == "s" else w for w in words) + " "


@lru_cache(maxsize=4096)
def _folded_phrase(phrase: str) -> str:
    return _folded(phrase)


@lru_cache(maxsize=256)
def _group_words(include: tuple[tuple[str, ...], ...]) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """Each include group as the distinct word tuples of its folded phrases."""
    return tuple(
        tuple(dict.fromkeys(tuple(_folded_phrase(p).split()) for p in group)) for group in include
    )


def _may_match(lowered: str, groups: tuple[tuple[tuple[str, ...], ...], ...]) -> bool:
    """False only when some group has no phrase whose words are all in `lowered` (plain
    loops: this runs for every paper of a feed)."""
    for group in groups:
        for words in group:
            for word in words:
                if word not in lowered:
                    break
            else:
                break  # this phrase may be in the text: the group may hit
        else:
            return False
    return True


POST_TRAIN = Topic(
    name="post-train",
    title="LLM Post-Train",
    categories=("cs.CL", "cs.AI", "cs.LG"),
    include=(
        ("llm", "large language model", "large language models"),
        (
            "post-training",
            "post training",
            "instruction tuning",
            "supervised fine-tuning",
            "sft",
            "preference optimization",
            "direct preference optimization",
            "dpo",
            "rlhf",
            "rlaif",
            "grpo",
            "reward model",
            "reward modeling",
        ),
    ),
    style="technical learning digest",
)

BUILTIN_TOPICS: tuple[Topic, ...] = (POST_TRAIN,)


@dataclass(frozen=True, slots=True)
class TopicCatalog:
    """The topics this deployment knows: the built-in ones, overridden or extended by config."""

    topics: tuple[Topic, ...]

    @classmethod
    def with_builtins(cls, configured: Iterable[Topic] = ()) -> TopicCatalog:
        by_name = {t.name: t for t in BUILTIN_TOPICS}
        by_name.update({t.name: t for t in configured})
        return cls(tuple(by_name.values()))

    def get(self, name: str) -> Topic:
        for topic in self.topics:
            if topic.name == name:
                return topic
        known = ", ".join(t.name for t in self.topics)
        raise UnknownTopic(f"unknown topic {name!r}; known topics: {known}")

    def names(self) -> list[str]:
        return [t.name for t in self.topics]
