"""The contract of a transport (one vendor's API behind one class) and the retry policy
every transport follows, so a 429 is waited out the same way whoever sent it.

Retries are done here rather than by the SDKs (built with `max_retries=0`) because the SDKs
honour any Retry-After however long, hide how many HTTP requests they made, and sleep with
`time.sleep`; here the wait is capped, every attempt is counted and logged, and tests
inject `sleep`.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import pydantic

from digest.errors import LLMError, LLMOutputInvalid
from digest.llm.usage import Usage

log = logging.getLogger(__name__)

T = TypeVar("T", bound=pydantic.BaseModel)
R = TypeVar("R")
Sleep = Callable[[float], None]
RETRYABLE_STATUS = frozenset({408, 409, 429})  # and every status >= 500 (529 = overloaded)
System = list[dict[str, Any]]  # text blocks; a block may carry Anthropic's cache_control


class Transport(Protocol):
    """One API: structured answers validated against a pydantic model, with usage."""

    @property
    def provider(self) -> str:
        """Who answers, for Run Metadata: "the Anthropic API", "the OpenAI-compatible API
        at http://localhost:11434/v1"."""
        ...

    @property
    def counts_tokens(self) -> bool:
        """Whether `count_tokens` asks the API (else the engine plans by its estimate)."""
        ...

    def structured(
        self,
        system: str | Iterable[Mapping[str, Any]],
        messages: list[Mapping[str, Any]],
        output_model: type[T],
        model: str,
        max_tokens: int,
    ) -> tuple[T, Usage]: ...

    def count_tokens(
        self,
        system: str | Iterable[Mapping[str, Any]],
        messages: list[Mapping[str, Any]],
        output_model: type[pydantic.BaseModel],
        model: str,
    ) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a transient failure."""

    max_retries: int = 3
    backoff_seconds: float = 1.0  # the first wait; doubles each retry
    max_backoff_seconds: float = 30.0  # also caps a server's Retry-After

    def delay(self, attempt: int, headers: Mapping[str, str] | None) -> float:
        """The wait before retry `attempt`: the server's Retry-After when it gives one,
        else exponential back-off with jitter; both capped."""
        cap = self.max_backoff_seconds
        hinted = retry_after(headers)
        if hinted is not None:
            return min(cap, hinted)
        # Jitter keeps many bots that failed together from retrying together.
        base = self.backoff_seconds * 2 ** (attempt - 1)
        return min(cap, base * random.uniform(0.8, 1.0))


def with_retries(
    call: Callable[[], R],
    policy: RetryPolicy,
    sleep: Sleep,
    *,
    classify: Callable[[Exception], tuple[bool, Mapping[str, str] | None] | None],
    translate: Callable[[Exception, int, Usage], LLMError],
    describe: Callable[[Exception], str],
    vendor: str,
) -> tuple[R, int]:
    """`call()` with bounded retries; returns its result and the attempts it took.

    `classify` says of an exception whether it is the SDK's (None: not ours, re-raised) and
    if so whether a retry could help and the response headers; `translate` turns the last
    one into our error with the usage spent.
    """
    attempts = 1 + max(0, policy.max_retries)
    for attempt in range(1, attempts + 1):
        try:
            return call(), attempt
        except Exception as err:
            verdict = classify(err)
            if verdict is None:
                raise
            retryable, headers = verdict
            spent = Usage(requests=attempt, retries=attempt - 1)
            if not retryable or attempt == attempts:
                raise translate(err, attempt, spent) from None
            delay = policy.delay(attempt, headers)
            log.warning(
                "%s request failed (%s); retry %d of %d in %.1f s",
                vendor,
                describe(err),
                attempt,
                attempts - 1,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a server asked us to wait (`retry-after-ms` or `retry-after`), if any."""
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue  # an HTTP date: rare enough to fall back to our own back-off
        if seconds >= 0:
            return seconds
    return None


STATUS_WORDS = {
    408: "request timeout",
    409: "conflict",
    429: "rate limited",
    500: "internal error",
    502: "bad gateway",
    503: "unavailable",
    504: "gateway timeout",
    529: "overloaded",
}


def status_text(status: int, detail: str) -> str:
    """"HTTP 400: the server's message" (the message only where it helps and is ours to
    show: not for 5xx or 429, whose bodies say nothing a user can act on)."""
    word = STATUS_WORDS.get(status)
    text = f"HTTP {status}" + (f" {word}" if word else "")
    return f"{text}: {detail}" if detail and status < 500 and status != 429 else text


def error_message(body: object) -> str:
    """The `error.message` of an API error body (both vendors use that shape), cleaned."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return " ".join(inner["message"].split())[:200]
    return ""


_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


def parse_answer(text: str, output_model: type[T], usage: Usage) -> T:
    """An answer's text validated against `output_model`, or `LLMOutputInvalid` saying why.
    A Markdown code fence around the JSON (common from local models in JSON mode) is
    tolerated."""
    if not text.strip():
        raise LLMOutputInvalid("empty", "the answer was empty", usage)
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise LLMOutputInvalid(
            "invalid_json", f"the answer is not valid JSON ({err.msg} at {err.pos})", usage
        ) from None
    try:
        return output_model.model_validate(data)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the top level"
        raise LLMOutputInvalid(
            "schema",
            f"the answer does not match the schema ({where}: {first['msg']})",
            usage,
        ) from None


def system_text(system: str | Iterable[Mapping[str, Any]]) -> str:
    """A system prompt as one string (for APIs without content blocks)."""
    if isinstance(system, str):
        return system
    return "\n\n".join(str(block.get("text", "")) for block in system)
