"""The one door to an OpenAI-compatible Chat Completions API, through the official `openai`
SDK: structured answers validated against a pydantic model, the shared retry policy,
errors translated into ours (`digest.errors`), and token usage for every request.

Structured output degrades step by step, because servers differ: first `response_format`
with a strict JSON schema (OpenAI, vLLM, recent Ollama); a server that rejects that request
(HTTP 400/422) is asked again in JSON mode (`{"type": "json_object"}`) with the schema in
the prompt; one that rejects JSON mode too gets the schema in the prompt alone. The step
that worked is remembered for the client's later requests. Whatever the mode, the answer is
validated here against the schema; an answer off the schema raises `LLMOutputInvalid`, and
the engine asks once more (its repair request).

A local server needs no API key: the SDK insists on one, so a placeholder is sent, which
such servers ignore. Vendor errors (openai, httpx) are translated here and nowhere else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import openai
import pydantic

from digest.errors import LLMError, LLMOutputInvalid, LLMRejected, LLMUnavailable
from digest.llm.transport import (
    RETRYABLE_STATUS,
    RetryPolicy,
    Sleep,
    T,
    error_message,
    parse_answer,
    status_text,
    system_text,
    with_retries,
)
from digest.llm.usage import Usage

# The SDK refuses to start without a key; servers without auth ignore this one.
NO_KEY = "no-key-configured"
MODES = ("json_schema", "json_object", "prompt")  # the order structured output degrades in


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    """How to reach the API. `base_url` empty means the vendor's default (api.openai.com,
    or the SDK's OPENAI_BASE_URL); `api_key` empty is fine for a local server."""

    api_key: str = field(default="", repr=False)
    base_url: str = ""
    timeout_seconds: float = 120.0
    max_retries: int = 3
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.max_retries, self.backoff_seconds, self.max_backoff_seconds)


class OpenAIClient:
    """Structured requests to a Chat Completions API with bounded retries and usage."""

    counts_tokens = False  # no counting endpoint: the engine plans by its estimate

    def __init__(
        self,
        settings: OpenAISettings,
        *,
        sleep: Sleep | None = None,
        client: openai.OpenAI | None = None,
    ) -> None:
        if not settings.api_key and not settings.base_url:
            raise LLMRejected("no OpenAI API key is set (a local server needs only base_url)")
        self.settings = settings
        self._sleep = sleep if sleep is not None else time.sleep  # (a test's list is falsy)
        self.mode = MODES[0]
        self._tokens_param = "max_tokens"  # widely served; newer OpenAI models want the other
        self._client = client or openai.OpenAI(
            api_key=settings.api_key or NO_KEY,
            base_url=settings.base_url or None,
            timeout=openai.Timeout(
                settings.timeout_seconds, connect=min(10.0, settings.timeout_seconds)
            ),
            max_retries=0,
        )

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    @property
    def provider(self) -> str:
        if not self.settings.base_url:
            return "the OpenAI API"
        return f"the OpenAI-compatible API at {self.settings.base_url}"

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
        """One answer validated against `output_model`, and the usage it took (every
        HTTP request counted, including those that found the server's structured-output
        mode)."""
        spent = Usage()
        while True:
            body = self._body(system, messages, output_model, model, max_tokens)
            try:
                completion, usage = self._create(body)
            except LLMRejected as err:
                spent = spent + err.usage
                if not self._degrade(err):
                    err.usage = spent
                    raise
                continue
            except LLMError as err:
                err.usage = spent + err.usage
                raise
            usage = spent + usage
            break
        choice = completion.choices[0] if completion.choices else None
        if choice is None:
            raise LLMOutputInvalid("empty", "the answer had no choices", usage)
        message = choice.message
        if choice.finish_reason == "length":
            raise LLMOutputInvalid(
                "truncated",
                f"the answer was cut off at the {max_tokens}-token output limit",
                usage,
            )
        if getattr(message, "refusal", None) or choice.finish_reason == "content_filter":
            raise LLMOutputInvalid("refused", "the model declined to answer", usage)
        return parse_answer(message.content or "", output_model, usage), usage

    def count_tokens(
        self,
        system: str | Iterable[Mapping[str, Any]],
        messages: list[Mapping[str, Any]],
        output_model: type[pydantic.BaseModel],
        model: str,
    ) -> int:
        """Chat Completions has no counting endpoint."""
        raise LLMUnavailable("an OpenAI-compatible API cannot count tokens")

    # -- requests -----------------------------------------------------------------------------

    def _body(
        self,
        system: str | Iterable[Mapping[str, Any]],
        messages: list[Mapping[str, Any]],
        output_model: type[pydantic.BaseModel],
        model: str,
        max_tokens: int,
    ) -> dict[str, Any]:
        turns: list[dict[str, Any]] = [{"role": "system", "content": system_text(system)}]
        turns.extend({"role": m["role"], "content": _content(m["content"])} for m in messages)
        schema = strict_schema(output_model)
        body: dict[str, Any] = {"model": model, "messages": turns, self._tokens_param: max_tokens}
        if self.mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": output_model.__name__, "schema": schema, "strict": True},
            }
        else:
            if self.mode == "json_object":
                body["response_format"] = {"type": "json_object"}
            # Without a schema on the wire the model reads it; last in the prompt, so the
            # system prefix stays the same for the server's prompt cache.
            turns[-1]["content"] += (
                "\n\nAnswer with only one JSON object (no prose before or after it, no code "
                "fence) matching this JSON schema:\n" + json.dumps(schema, separators=(",", ":"))
            )
        return body

    def _degrade(self, err: LLMRejected) -> bool:
        """After a rejected request: whether a plainer request may succeed (and switch to
        it). A 400/422 to a structured-output request most often means the server does not
        support that mode; a complaint about `max_tokens` means a newer OpenAI model."""
        if err.status not in (400, 422):
            return False
        text = str(err).lower()
        if self._tokens_param == "max_tokens" and "max_completion_tokens" in text:
            self._tokens_param = "max_completion_tokens"
            return True
        index = MODES.index(self.mode)
        if index + 1 < len(MODES):
            self.mode = MODES[index + 1]
            return True
        return False

    def _create(self, body: dict[str, Any]) -> tuple[Any, Usage]:
        completion, attempt = with_retries(
            lambda: self._client.chat.completions.create(**body),
            self.settings.retry,
            self._sleep,
            classify=_classify,
            translate=self._translate,  # type: ignore[arg-type]
            describe=self._describe,  # type: ignore[arg-type]
            vendor="OpenAI-compatible API",
        )
        raw = getattr(completion, "usage", None)
        prompt_tokens = (raw.prompt_tokens or 0) if raw else 0
        details = getattr(raw, "prompt_tokens_details", None) if raw else None
        cached = (getattr(details, "cached_tokens", 0) or 0) if details else 0
        return completion, Usage(
            requests=attempt,
            input_tokens=max(0, prompt_tokens - cached),
            output_tokens=((raw.completion_tokens or 0) if raw else 0),
            cache_read_tokens=cached,
            retries=attempt - 1,
        )

    def _describe(self, err: openai.OpenAIError) -> str:
        if isinstance(err, openai.APITimeoutError):
            return f"no answer within the {self.settings.timeout_seconds:g} s timeout"
        if isinstance(err, openai.APIConnectionError):
            return f"the API at {self.base_url} could not be reached"
        if isinstance(err, openai.APIStatusError):
            return status_text(err.status_code, error_message(err.body))
        return type(err).__name__

    def _translate(self, err: openai.OpenAIError, attempts: int, usage: Usage) -> LLMError:
        what = self._describe(err)
        where = self.provider
        tries = f"after {attempts} attempts" if attempts > 1 else "on the only attempt"
        if isinstance(err, openai.APIStatusError):
            status = err.status_code
            if status in (401, 403):
                return LLMRejected(f"{where} refused the API key ({what}); check the key", usage)
            if status in RETRYABLE_STATUS or status >= 500:
                return LLMUnavailable(f"{where} kept failing: {what} {tries}", usage)
            return LLMRejected(f"{where} rejected the request: {what}", usage, status)
        if isinstance(err, openai.APIConnectionError):
            return LLMUnavailable(f"{what} {tries}", usage)
        return LLMRejected(f"the OpenAI client failed: {type(err).__name__}", usage)


def strict_schema(output_model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the form strict structured output accepts: every object
    closed (`additionalProperties: false`) with every property required."""
    schema = output_model.model_json_schema()

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
            node.pop("default", None)
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n\n".join(str(block.get("text", "")) for block in content)


def _classify(err: Exception) -> tuple[bool, Mapping[str, str] | None] | None:
    if isinstance(err, openai.APIStatusError):
        headers = err.response.headers
        hint = headers.get("x-should-retry")
        if hint in ("true", "false"):
            return hint == "true", headers
        status = err.status_code
        return status in RETRYABLE_STATUS or status >= 500, headers
    if isinstance(err, openai.APIConnectionError):  # includes APITimeoutError
        return True, None
    if isinstance(err, openai.OpenAIError):
        return False, None
    return None
