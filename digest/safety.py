"""Untrusted text (abstracts, titles, questions) made inert before it reaches a channel.

Paper text is data, never markup or instructions: no mass mentions (`@everyone`,
`<!channel>`), no user mentions, no links but the ones we build to arxiv.org, and no
sentences that try to instruct a language model. Renderers escape for their platform on
top of this; this is the platform-neutral floor.
"""

from __future__ import annotations

import re

_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)]*)\)")
_CHAT_MARKUP = re.compile(r"<[!@#][^>]*>")  # chat mentions: <!channel>, <@U123>, <#C1|x>
_ANGLE_LINK = re.compile(r"<(?:https?|mailto)[^|>]*\|([^>]*)>")  # <https://x|label>
_AT_WORD = re.compile(r"@+(?=[\w\u00C0-\uFFFF])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_INJECTION = re.compile(
    r"ignore\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier|preceding)\s+"
    r"(?:instructions?|prompts?|messages?|text)"
    r"|disregard\s+(?:all|any|the|previous|prior)\b"
    r"|system\s+prompt|you\s+are\s+now\b|new\s+instructions?\s*:"
    r"|<\|?(?:im_start|im_end|system|endoftext)\|?>"
    r"|\b(?:assistant|system)\s*:\s",
    re.IGNORECASE,
)


def looks_like_injection(text: str) -> bool:
    """Whether a sentence reads as an instruction to a model rather than as research prose."""
    return bool(_INJECTION.search(text))


def defang(text: str) -> str:
    """Untrusted text with instruction-like phrases cut out: for titles, which must still be
    shown (a paper keeps its place in the catalog) but must not carry an instruction."""
    return " ".join(_INJECTION.sub("[…]", neutralize(text)).split())


def neutralize(text: str) -> str:
    """Untrusted text with mentions, links, markup and control characters made harmless."""
    text = _CONTROL.sub("", text)
    text = _ANGLE_LINK.sub(r"\1", text)
    text = _CHAT_MARKUP.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _AT_WORD.sub("", text)
    return " ".join(text.split())
