"""The one door to the Anthropic Messages API: a client built from settings, structured
answers validated against a pydantic model, retries (the shared policy of
`digest.llm.transport`), errors translated into ours (`digest.errors`), and token usage for
every request. Vendor errors (anthropic, httpx, pydantic) are translated here and nowhere
else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anthropic
import pydantic
from anthropic import transform_schema

from digest.errors import LLMError, LLMOutputInvalid, LLMRejected, LLMUnavailable
from digest.llm.transport import (
    RETRYABLE_STATUS,
    RetryPolicy,
    Sleep,
    T,
    error_message,
    parse_answer,
    status_text,
    with_retries,
)
from digest.llm.usage import Usage


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """How to reach the Anthropic API. `base_url` None lets the SDK read ANTHROPIC_BASE_URL
    (else the public endpoint). Retries are ours, not the SDK's: see `digest.llm.transport`."""

    api_key: str = field(repr=False)
    base_url: str | None = None
    timeout_seconds: float = 120.0
    max_retries: int = 3
    backoff_seconds: float = 1.0  # the first wait; doubles each retry
    max_backoff_seconds: float = 30.0  # also caps a server's Retry-After

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.max_retries, self.backoff_seconds, self.max_backoff_seconds)


class LLMClient:
    """Structured requests to the Messages API with bounded retries and usage accounting."""

    provider = "the Anthropic API"
    counts_tokens = True

    def __init__(
        self,
        settings: LLMSettings,
        *,
        sleep: Sleep | None = None,
        client: anthropic.Anthropic | None = None,
    ) -> None:
        if not settings.api_key:
            raise LLMRejected("no Anthropic API key is set")
        import time

        self.settings = settings
        self._sleep = sleep if sleep is not None else time.sleep  # (a test's list is falsy)
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
        return parse_answer(text, output_model, usage), usage

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
                output_config={"format": output_format(output_model)},  # type: ignore[arg-type]
            )
        except anthropic.AnthropicError as err:
            raise self._translate(err, 1, Usage(requests=1)) from None
        return int(counted.input_tokens)

    # -- transport ------------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> tuple[Any, Usage]:
        message, attempt = with_retries(
            lambda: self._client.messages.create(**body),
            self.settings.retry,
            self._sleep,
            classify=_classify,
            translate=self._translate,  # type: ignore[arg-type]
            describe=self._describe,  # type: ignore[arg-type]
            vendor="Anthropic",
        )
        raw = message.usage
        return message, Usage(
            requests=attempt,
            input_tokens=raw.input_tokens or 0,
            output_tokens=raw.output_tokens or 0,
            cache_read_tokens=raw.cache_read_input_tokens or 0,
            cache_write_tokens=raw.cache_creation_input_tokens or 0,
            retries=attempt - 1,
        )

    def _describe(self, err: anthropic.AnthropicError) -> str:
        return _describe(err, self.settings.timeout_seconds, self.base_url)

    def _translate(self, err: anthropic.AnthropicError, attempts: int, usage: Usage) -> LLMError:
        what = self._describe(err)
        tries = f"after {attempts} attempts" if attempts > 1 else "on the only attempt"
        if isinstance(err, anthropic.APIStatusError):
            status = err.status_code
            if status in (401, 403):
                return LLMRejected(
                    f"the Anthropic API refused the API key ({what}); check the key", usage
                )
            if status in RETRYABLE_STATUS or status >= 500:
                return LLMUnavailable(f"the Anthropic API kept failing: {what} {tries}", usage)
            return LLMRejected(f"the Anthropic API rejected the request: {what}", usage)
        if isinstance(err, anthropic.APIConnectionError):
            return LLMUnavailable(f"{what} {tries}", usage)
        # TypeError-like SDK faults (no credentials) and anything else of the SDK's own.
        return LLMRejected(f"the Anthropic client failed: {type(err).__name__}", usage)


def output_format(output_model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The `output_config.format` for answers matching `output_model` (strict JSON schema)."""
    return {"type": "json_schema", "schema": transform_schema(output_model)}


def _classify(err: Exception) -> tuple[bool, Mapping[str, str] | None] | None:
    if isinstance(err, anthropic.APIStatusError):
        headers = err.response.headers
        hint = headers.get("x-should-retry")
        if hint in ("true", "false"):  # the API's explicit word beats our guess
            return hint == "true", headers
        status = err.status_code
        return status in RETRYABLE_STATUS or status >= 500, headers
    if isinstance(err, anthropic.APIConnectionError):  # includes APITimeoutError
        return True, None
    if isinstance(err, anthropic.AnthropicError):
        return False, None
    return None


def _describe(err: anthropic.AnthropicError, timeout: float, where: str = "") -> str:
    """A short, secret-free description of an SDK error (`where`: the base URL)."""
    if isinstance(err, anthropic.APITimeoutError):
        return f"no answer within the {timeout:g} s timeout"
    if isinstance(err, anthropic.APIConnectionError):
        return "the Anthropic API could not be reached" + (f" at {where}" if where else "")
    if isinstance(err, anthropic.APIStatusError):
        return status_text(err.status_code, error_message(err.body))
    return type(err).__name__
