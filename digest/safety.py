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
# Only the mass-mention words lose their "@" here ("@everyone" -> "everyone"): every other
# "@" is ordinary text ("pass@k", "NDCG@5", "user@example.com") and must survive. Renderers
# break each chat platform's own ping forms on top of this.
_MASS_MENTION = re.compile(r"@+(?=(?:everyone|here|channel|group)\b)", re.IGNORECASE)
# Strings shaped like credentials a user might paste by mistake: chat bot, user and app
# tokens (xoxb-, xoxp-, xapp-), LLM API keys (sk-, sk-ant-), and bot tokens made of three
# base64url parts joined by dots.
_TOKEN = re.compile(
    r"\bxox[abposr]-[A-Za-z0-9-]{8,}"
    r"|\bxapp-[A-Za-z0-9-]{8,}"
    r"|\bsk-(?:ant-)?[A-Za-z0-9_-]{16,}"
    r"|\b[MNO][A-Za-z0-9_-]{22,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}"
)
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


# Each alternative of _INJECTION holds one of these words. In ASCII text, where a
# case-insensitive match is a match in the lower-cased text, a sentence holding none of them
# cannot match, and a substring test is ~20x faster than the search (every sentence of a
# 2,500-paper window goes through it). Other text is searched as it is: Unicode case folding
# ("ſ" for "s") is the pattern's business.
_INJECTION_WORDS = ("ignore", "disregard", "system", "you", "instruction", "<", "assistant")


def may_hold_injection(text: str) -> bool:
    """False when no part of the text can look like an injection (the cheap test before
    `looks_like_injection`, also for a whole abstract before its sentences)."""
    if not text.isascii():
        return True
    lowered = text.lower()
    return any(word in lowered for word in _INJECTION_WORDS)


def looks_like_injection(text: str) -> bool:
    """Whether a sentence reads as an instruction to a model rather than as research prose."""
    return may_hold_injection(text) and bool(_INJECTION.search(text))


def defang(text: str) -> str:
    """Untrusted text with instruction-like phrases cut out: for titles, which must still be
    shown (a paper keeps its place in the catalog) but must not carry an instruction."""
    return " ".join(_INJECTION.sub("[…]", neutralize(text)).split())


def neutralize(text: str) -> str:
    """Untrusted text with mentions, links, markup and control characters made harmless."""
    # Each pattern runs only when the text holds what every match of it needs (a control
    # character is never printable; markup needs "<", a Markdown link "](", a URL "://" or
    # "www.", a mass mention "@"): most abstracts, titles and author names hold none.
    if not text.isprintable():
        text = _CONTROL.sub("", text)
    if "<" in text:
        text = _ANGLE_LINK.sub(r"\1", text)
        text = _CHAT_MARKUP.sub("", text)
    if "](" in text:
        text = _MD_LINK.sub(r"\1", text)
    if "://" in text or "www." in text.lower():
        text = _URL.sub("", text)
    if "@" in text:
        text = _MASS_MENTION.sub("", text)
    return " ".join(text.split())


def has_token(text: str) -> bool:
    """Whether the text holds something shaped like a secret token (xoxb-, xapp-, sk-ant-,
    a dotted bot token): such text must never be repeated in a public message."""
    return bool(_TOKEN.search(text or ""))


def redact_tokens(text: str) -> str:
    """The text with every token-shaped string replaced by "[redacted]"."""
    return _TOKEN.sub("[redacted]", text or "")
