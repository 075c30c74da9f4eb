"""Small helpers that turn lists into English and pick what a paper says about itself."""

from __future__ import annotations

from collections.abc import Sequence

from digest.model import cite
from digest.offline.analysis import WindowAnalysis
from digest.offline.text import about


def clause(statement: str) -> str:
    """A statement without its final full stop, to be joined with others by semicolons; a
    cut statement keeps its ellipsis."""
    return statement.removesuffix(".")


def sentence(text: str) -> str:
    """Text ending with exactly one full stop (or its ellipsis)."""
    text = text.rstrip()
    return text if text.endswith(("…", ".", "?", "!")) else text + "."


def verb_for(count: int, verb: str) -> str:
    """A verb agreeing with a count: 'learn' for many, 'learns' for one."""
    if count != 1:
        return verb
    if verb.endswith(("s", "sh", "ch", "x", "z")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def inline(text: str) -> str:
    """A heading for use inside a sentence: the first letter lowered unless the first word
    is an acronym or a name ("GRPO and ...", "LoRA ..." stay as they are)."""
    first = text.split(" ", 1)[0]
    if first[:1].isupper() and first[1:] == first[1:].lower():
        return text[:1].lower() + text[1:]
    return text


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def join(items: Sequence[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def join_items(items: Sequence[str]) -> str:
    """Like `join`, but items that hold "and" or commas themselves are separated by
    semicolons, so "credit assignment; mathematical reasoning; and instruction tuning"
    never reads as one run-on list."""
    items = [i for i in items if i]
    if not any(" and " in i or "," in i for i in items) or len(items) <= 1:
        return join(items)
    if len(items) == 2:
        return f"{items[0]}, and {items[1]}"
    return f"{'; '.join(items[:-1])}; and {items[-1]}"


def cite_list(ids: Sequence[str], limit: int = 12) -> str:
    """Citations for a list of papers, the rest counted ("... and 5 more")."""
    shown = [cite(i) for i in ids[:limit]]
    rest = len(ids) - limit
    if rest > 0:
        shown.append(f"{plural(rest, 'more paper')} in the catalog")
    return join(shown)


def summary(analysis: WindowAnalysis, index: int, name: str, max_words: int = 32) -> str:
    """What a paper does, in one sentence about it, from its own contribution sentence."""
    return tldr(analysis, index, name, max_words) or (
        f"{cite(analysis.papers[index].id)} is titled “{analysis.titles[index]}”."
    )


def tldr(analysis: WindowAnalysis, index: int, name: str, max_words: int = 32) -> str | None:
    """The paper's contribution as one complete third-person sentence ("[[id]] proposes
    ..."), from the first of its own sentences that makes one: contribution sentences,
    then findings, then the rest; a sentence pointing back at another ("studies this
    problem") only when nothing else will do. None when no sentence makes a statement."""
    paper = analysis.papers[index]
    ordered = _by_purpose(analysis, index)
    for strict in (True, False):
        for sentence in ordered:
            if not strict and not (sentence.is_contribution or sentence.is_finding):
                continue
            text = about(paper.id, sentence.text, name, max_words, analysis.ordinary, strict)
            if text:
                return text
    return None


def limitation_sentence(analysis: WindowAnalysis, index: int) -> str | None:
    """The paper's own sentence stating a limitation or open problem, as written."""
    for sentence in analysis.sentences(index):
        if sentence.is_limitation:
            return sentence.text
    return None


def limitation(analysis: WindowAnalysis, index: int, name: str, max_words: int = 36) -> str | None:
    """The paper's own statement of a limitation or open problem, about the paper; or None."""
    sentence = limitation_sentence(analysis, index)
    if sentence is None:
        return None
    paper = analysis.papers[index]
    return about(paper.id, sentence, name, max_words, analysis.ordinary)


def _by_purpose(analysis: WindowAnalysis, index: int) -> list:
    """The paper's sentences, what it does first: contribution, findings, the rest, and the
    motivation (which describes earlier work) last."""
    sentences = analysis.sentences(index)
    own = [s for s in sentences if s.is_contribution or s.is_finding]
    first_own = min((s.index for s in own), default=0)
    # The rest by the same test (not by equality with `own`, which compares every field).
    rest = [s for s in sentences if not (s.is_contribution or s.is_finding)]
    later = [s for s in rest if s.index > first_own]
    earlier = [s for s in rest if s.index <= first_own]
    return own + later + earlier


def sentence_mentioning(
    analysis: WindowAnalysis, index: int, terms: Sequence[str], name: str, max_words: int = 32
) -> str | None:
    """A statement about the paper from its best sentence that uses one of `terms`."""
    paper = analysis.papers[index]
    for sentence in _by_purpose(analysis, index):
        lower = sentence.text.lower()
        if any(term in lower for term in terms):
            text = about(paper.id, sentence.text, name, max_words, analysis.ordinary)
            if text:
                return text
    return None
