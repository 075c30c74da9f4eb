"""Long alternations of terms ("dpo|grpo|reward models?|...") rewritten so that `re` tries
only the terms that start with the character at hand.

`re` tries the alternatives of `(?:a|b|c)` one after the other at every word start; with a
hundred terms that is most of the time of a search. Gathering the terms by their first
character ("d(?:po|irect preference optimization)|g(?:rpo)|...") finds the same matches
(at a position only the terms starting with its character can match, and they keep their
order, so the first that matches is the same one) several times faster.
"""

from __future__ import annotations

import re


def split_alternatives(terms: str) -> list[str]:
    """The top-level alternatives of a pattern ("a|b(?:c|d)" -> ["a", "b(?:c|d)"])."""
    out: list[str] = []
    depth, start, at = 0, 0, 0
    while at < len(terms):
        char = terms[at]
        if char == "\\":
            at += 2
            continue
        if char == "[":  # a character set: "|" and "(" inside it are characters
            at += 1
            at += terms.startswith("^", at)
            at += terms.startswith("]", at)  # a "]" first in a set is a character
            while terms[at] != "]":
                at += 2 if terms[at] == "\\" else 1
            at += 1
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            out.append(terms[start:at])
            start = at + 1
        at += 1
    out.append(terms[start:])
    return out


def by_first_character(terms: str) -> str:
    """The alternation `terms` with its alternatives gathered by first character; `terms`
    unchanged when an alternative does not start with a plain letter or digit that stands
    for itself (a set, an escape, a group, or a character made optional)."""
    alternatives = split_alternatives(terms)
    groups: dict[str, list[str]] = {}
    for alternative in alternatives:
        if not alternative or not (alternative[0].isascii() and alternative[0].isalnum()):
            return terms
        if alternative[1:2] in ("?", "*", "+", "{"):
            return terms
        groups.setdefault(alternative[0], []).append(alternative[1:])
    return "|".join(f"{first}(?:{'|'.join(rests)})" for first, rests in groups.items())


def word_terms(terms: str, flags: int = 0) -> re.Pattern[str]:
    """`\\b(?:terms)\\b`, compiled with the terms gathered by first character. Only for
    case-sensitive matching: under IGNORECASE "K" would also stand for "k"."""
    if flags & re.IGNORECASE:
        raise ValueError("word_terms gathers by exact first character: no IGNORECASE")
    return re.compile(rf"\b(?:{by_first_character(terms)})\b", flags)
