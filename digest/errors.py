"""Errors raised by the digest core; each message is one sentence a user can act on.

    DigestError                  anything the core cannot do
    ├── UnknownTopic             a topic name that is not configured
    ├── InvalidWindow            dates that do not make a window
    ├── FeedError                a saved feed file that is unreadable or not an arXiv feed
    ├── ArxivUnavailable         arXiv could not be reached or kept failing after retries
    │   └── ArxivQueryRejected   arXiv answered with an error feed (HTTP 400)
    ├── SynthesisFailed          an engine could not write a valid digest (offline stands in)
    ├── BudgetExceeded           no plan keeps every request of a window within the budget
    └── LLMError                 a language-model request did not give a usable answer
        ├── LLMUnavailable       429/408/409/5xx/529, timeouts, no connection: after retries
        ├── LLMRejected          the API refused the request itself (bad key, bad request)
        └── LLMOutputInvalid     an answer came, but truncated, not JSON, or off-schema

Vendor errors (arxiv, requests, lxml) are translated where they enter, in `arxiv_source.py`
and `feed.py`; the language-model SDKs' (anthropic, openai) in `digest/claude/client.py` and
`digest/openai/client.py`. Every `LLMError` carries the `Usage` spent before it was raised,
so a failed run still reports what it cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest.llm.usage import Usage


class DigestError(Exception):
    """Base class of every error of the digest core."""


class UnknownTopic(DigestError):
    """A topic name that is not built in and not in the config."""


class InvalidWindow(DigestError):
    """A date window that is malformed or backwards."""


class FeedError(DigestError):
    """A saved arXiv response that cannot be read as one."""


class ArxivUnavailable(DigestError):
    """arXiv could not be reached, or kept failing after every retry."""


class ArxivQueryRejected(ArxivUnavailable):
    """arXiv refused the request (an HTTP 400 error feed); retrying will not help."""


class SynthesisFailed(DigestError):
    """An engine could not produce a valid digest; the message says why."""


class BudgetExceeded(DigestError):
    """No plan keeps every request of this window within the input budget."""


class LLMError(DigestError):
    """A language-model request that did not give a usable answer; `usage` is what it cost."""

    def __init__(self, message: str, usage: Usage | None = None) -> None:
        super().__init__(message)
        if usage is None:
            from digest.llm.usage import Usage  # a leaf module; imported late only for the cycle

            usage = Usage()
        self.usage = usage


class LLMUnavailable(LLMError):
    """The API kept failing in a way that retrying could fix (overload, rate limit, 5xx,
    timeout, no connection), and the retries ran out."""


class LLMRejected(LLMError):
    """The API refused the request itself (no or bad key, malformed request): retrying the
    same request would not help. `status` is the HTTP status, when there was one."""

    def __init__(self, message: str, usage: Usage | None = None, status: int | None = None):
        super().__init__(message, usage)
        self.status = status


class LLMOutputInvalid(LLMError):
    """An answer arrived but cannot be used. `kind` says why, for the repair prompt:
    "truncated", "invalid_json", "schema", "refused" or "empty"."""

    def __init__(self, kind: str, message: str, usage: Usage | None = None) -> None:
        super().__init__(message, usage)
        self.kind = kind
