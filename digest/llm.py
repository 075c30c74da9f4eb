"""The one door to the Anthropic Messages API: a client built from settings, structured
answers validated against a pydantic model, retries with back-off, errors translated into
ours, and token usage for every request. Shared by the digest engine and question answering.

    DigestError
    └── LLMError                 a language-model request did not give a usable answer
        ├── LLMUnavailable       429/408/409/5xx/529, timeouts, no connection: after retries
        ├── LLMRejected          the API refused the request itself (bad key, bad request)
        └── LLMOutputInvalid     an answer came, but truncated, not JSON, or off-schema

Every `LLMError` carries the `Usage` spent before it was raised, so a failed run still
reports what it cost. Vendor errors (anthropic, httpx2, pydantic) are translated here and
nowhere else.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anthropic
import pydantic
from anthropic import transform_schema

from digest.errors import DigestError

log = logging.getLogger(__name__)

T = TypeVar("T", bound=pydantic.BaseModel)
_RETRYABLE_STATUS = frozenset({408, 409, 429})  # and every status >= 500 (529 = overloaded)


# -- usage --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and HTTP requests spent, as the API reports them. `input_tokens` is the
    uncached part of the prompt: cache reads and writes are counted (and billed) apart."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    retries: int = 0  # requests that were repeated after a transient failure

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.requests + other.requests,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.retries + other.retries,
        )

    @property
    def prompt_tokens(self) -> int:
        """Every prompt token, cached or not."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


@dataclass
class UsageLedger:
    """Usage per model over one piece of work (one digest, one answer); prices differ per
    model, so the totals are kept apart."""

    by_model: dict[str, Usage] = field(default_factory=dict)

    def add(self, model: str, usage: Usage) -> None:
        self.by_model[model] = self.by_model.get(model, Usage()) + usage

    @property
    def total(self) -> Usage:
        total = Usage()
        for usage in self.by_model.values():
            total = total + usage
        return total


# -- errors -------------------------------------------------------------------------------------


class LLMError(DigestError):
    """A language-model request that did not give a usable answer; `usage` is what it cost."""

    def __init__(self, message: str, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.usage = usage or Usage()


class LLMUnavailable(LLMError):
    """The API kept failing in a way that retrying could fix (overload, rate limit, 5xx,
    timeout, no connection), and the retries ran out."""


class LLMRejected(LLMError):
    """The API refused the request itself (no or bad key, malformed request): retrying the
    same request would not help."""


class LLMOutputInvalid(LLMError):
    """An answer arrived but cannot be used. `kind` says why, for the repair prompt:
    "truncated", "invalid_json", "schema", "refused" or "empty"."""

    def __init__(self, kind: str, message: str, usage: Usage | None = None) -> None:
        super().__init__(message, usage)
        self.kind = kind


# -- settings and client --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """How to reach the API. `base_url` None lets the SDK read ANTHROPIC_BASE_URL (else the
    public endpoint). Retries are ours, not the SDK's: see `LLMClient`."""

    api_key: str = field(repr=False)
    base_url: str | None = None
    timeout_seconds: float = 120.0
    max_retries: int = 3
    backoff_seconds: float = 1.0  # the first wait; doubles each retry
    max_backoff_seconds: float = 30.0  # also caps a server's Retry-After


Sleep = Callable[[float], None]


class LLMClient:
    """Structured requests to the Messages API with bounded retries and usage accounting.

    Retries are done here rather than by the SDK (which is built with `max_retries=0`)
    because the SDK honours any Retry-After however long, hides how many HTTP requests it
    made, and sleeps with `time.sleep`; here the wait is capped, every attempt is counted
    and logged, and tests inject `sleep`.
    """

    def __init__(
        self,
        settings: LLMSettings,
        *,
        sleep: Sleep = time.sleep,
        client: anthropic.Anthropic | None = None,
    ) -> None:
        if not settings.api_key:
            raise LLMRejected("no Anthropic API key is set")
        self.settings = settings
        self._sleep = sleep
        self._client = client or anthropic.Anthropic(
            api_key=settings.api_key,
            base_url=settings.base_url or None,
            # The SDK's default is 600 s; a weekly job should fail over to offline sooner.
            timeout=anthropic.Timeout(
                settings.timeout_seconds, connect=min(10.0, settings.timeout_seconds)
            ),
            max_retries=0,
        )

    @property
    def base_url(self) -> str:
        """Where requests go (for error messages; it holds no secret)."""
        return str(self._client.base_url)

    def close(self) -> None:
        self._client.close()

    def structured(
        self,
        system: str | Iterable[Mapping[str, Any]],
        messages: list[Mapping[str, Any]],
        output_model: type[T],
        model: str,
        max_tokens: int,
    ) -> tuple[T, Usage]:
        """One answer validated against `output_model`, and the usage it took.

        The request carries the model's JSON schema as `output_config.format` (what
        `messages.parse(output_format=...)` sends). We validate ourselves rather than call
        `parse()` because it validates inside the SDK's response pipeline: a truncated
        answer would raise there before its `stop_reason` and usage could be read.
        """
        body = {
            "model": model,
            "max_tokens": max_tokens,
            "system": system,
            "messages": messages,
            "output_config": {"format": output_format(output_model)},
        }
        message, usage = self._create(body)
        text = "".join(b.text for b in message.content if getattr(b, "type", "") == "text")
        if message.stop_reason == "max_tokens":
            raise LLMOutputInvalid(
                "truncated",
                f"the answer was cut off at the {max_tokens}-token output limit",
                usage,
            )
        if message.stop_reason == "refusal":
            raise LLMOutputInvalid("refused", "the model declined to answer", usage)
        if not text.strip():
            raise LLMOutputInvalid("empty", "the answer was empty", usage)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise LLMOutputInvalid(
                "invalid_json", f"the answer is not valid JSON ({err.msg} at {err.pos})", usage
            ) from None
        try:
            return output_model.model_validate(data), usage
        except pydantic.ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the top level"
            raise LLMOutputInvalid(
                "schema",
                f"the answer does not match the schema ({where}: {first['msg']})",
                usage,
            ) from None

    def count_tokens(
        self,
        system: str | Iterable[Mapping[str, Any]],
        messages: list[Mapping[str, Any]],
        output_model: type[pydantic.BaseModel],
        model: str,
    ) -> int:
        """The prompt's exact token count (free, but one round trip; no retries)."""
        try:
            counted = self._client.messages.count_tokens(
                model=model,
                system=system,  # type: ignore[arg-type]
                messages=messages,  # type: ignore[arg-type]
                output_config={"format": output_format(output_model)},  # type: ignore[typeddict-item]
            )
        except anthropic.AnthropicError as err:
            raise self._translate(err, 1, Usage(requests=1)) from None
        return int(counted.input_tokens)

    # -- transport ------------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> tuple[Any, Usage]:
        attempts = 1 + max(0, self.settings.max_retries)
        for attempt in range(1, attempts + 1):
            try:
                message = self._client.messages.create(**body)
            except anthropic.AnthropicError as err:
                retryable, headers = _retryable(err)
                spent = Usage(requests=attempt, retries=attempt - 1)
                if not retryable or attempt == attempts:
                    raise self._translate(err, attempt, spent) from None
                delay = self._delay(attempt, headers)
                log.warning(
                    "Anthropic request failed (%s); retry %d of %d in %.1f s",
                    _describe(err, self.settings.timeout_seconds, self.base_url),
                    attempt,
                    attempts - 1,
                    delay,
                )
                self._sleep(delay)
                continue
            raw = message.usage
            return message, Usage(
                requests=attempt,
                input_tokens=raw.input_tokens or 0,
                output_tokens=raw.output_tokens or 0,
                cache_read_tokens=raw.cache_read_input_tokens or 0,
                cache_write_tokens=raw.cache_creation_input_tokens or 0,
                retries=attempt - 1,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, headers: Mapping[str, str] | None) -> float:
        """The wait before retry `attempt`: the server's Retry-After when it gives one,
        else exponential back-off with jitter; both capped."""
        cap = self.settings.max_backoff_seconds
        hinted = _retry_after(headers)
        if hinted is not None:
            return min(cap, hinted)
        # Jitter keeps many bots that failed together from retrying together.
        base = self.settings.backoff_seconds * 2 ** (attempt - 1)
        return min(cap, base * random.uniform(0.8, 1.0))

    def _translate(self, err: anthropic.AnthropicError, attempts: int, usage: Usage) -> LLMError:
        what = _describe(err, self.settings.timeout_seconds, self.base_url)
        tries = f"after {attempts} attempts" if attempts > 1 else "on the only attempt"
        if isinstance(err, anthropic.APIStatusError):
            status = err.status_code
            if status in (401, 403):
                return LLMRejected(
                    f"the Anthropic API refused the API key ({what}); check the key", usage
                )
            if status in _RETRYABLE_STATUS or status >= 500:
                return LLMUnavailable(f"the Anthropic API kept failing: {what} {tries}", usage)
            return LLMRejected(f"the Anthropic API rejected the request: {what}", usage)
        if isinstance(err, anthropic.APIConnectionError):
            return LLMUnavailable(f"{what} {tries}", usage)
        # TypeError-like SDK faults (no credentials) and anything else of the SDK's own.
        return LLMRejected(f"the Anthropic client failed: {type(err).__name__}", usage)


def output_format(output_model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The `output_config.format` for answers matching `output_model` (strict JSON schema)."""
    return {"type": "json_schema", "schema": transform_schema(output_model)}


def _retryable(err: anthropic.AnthropicError) -> tuple[bool, Mapping[str, str] | None]:
    if isinstance(err, anthropic.APIStatusError):
        headers = err.response.headers
        hint = headers.get("x-should-retry")
        if hint in ("true", "false"):  # the API's explicit word beats our guess
            return hint == "true", headers
        status = err.status_code
        return status in _RETRYABLE_STATUS or status >= 500, headers
    if isinstance(err, anthropic.APIConnectionError):  # includes APITimeoutError
        return True, None
    return False, None


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
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


_STATUS_WORDS = {
    408: "request timeout",
    409: "conflict",
    429: "rate limited",
    500: "internal error",
    502: "bad gateway",
    503: "unavailable",
    504: "gateway timeout",
    529: "overloaded",
}


def _describe(err: anthropic.AnthropicError, timeout: float, where: str = "") -> str:
    """A short, secret-free description of an SDK error (`where`: the base URL)."""
    if isinstance(err, anthropic.APITimeoutError):
        return f"no answer within the {timeout:g} s timeout"
    if isinstance(err, anthropic.APIConnectionError):
        return "the Anthropic API could not be reached" + (f" at {where}" if where else "")
    if isinstance(err, anthropic.APIStatusError):
        status = err.status_code
        word = _STATUS_WORDS.get(status)
        detail = _api_message(err)
        text = f"HTTP {status}" + (f" {word}" if word else "")
        return f"{text}: {detail}" if detail and status < 500 and status != 429 else text
    return type(err).__name__


def _api_message(err: anthropic.APIStatusError) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return " ".join(inner["message"].split())[:200]
    return ""
