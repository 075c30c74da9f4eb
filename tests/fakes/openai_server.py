"""Loopback stand-in for an OpenAI-compatible Chat Completions API
(``POST /v1/chat/completions``), for tests, benchmarks and demos of the real `openai` SDK.

It speaks the wire format: ``messages`` in, ``choices[0].message.content`` and
``finish_reason`` out, ``usage`` with ``prompt_tokens_details.cached_tokens`` (a system
message of 1,024 tokens or more that was seen before counts as cached, like OpenAI's
automatic prefix caching), error bodies ``{"error": {"message", "type", "code"}}`` with
``retry-after``. It can play the servers that differ from OpenAI: one without strict JSON
schema support (`schema_support=False`, a 400 to ``response_format: json_schema``), one
without JSON mode either (`json_mode=False`), one that wants ``max_completion_tokens``
(`new_token_param=True`), and a local server that needs no API key (`api_key=None`).

Scripted replies are the Messages API stand-in's `Reply` (answer, text, truncated, error,
stall, drop, default); with none queued it writes a plausible answer from the request's
schema (sent as ``response_format``, or read from the prompt in JSON mode), citing the
papers in the prompt. Every request is recorded.

Run ``python -m tests.fakes.openai_server [--no-key] [--no-schema]`` for a standalone
server: it prints its base URL (for ``[openai] base_url``) as the first stdout line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.anthropic_server import Reply, Seen, count_tokens, plausible_answer
from tests.fakes.loopback import JSONHandler, Loopback, LoopbackServer

__all__ = ["FakeOpenAI", "Reply", "count_tokens"]
PATH = "/v1/chat/completions"
MIN_CACHE_TOKENS = 1024  # OpenAI caches prompts from 1,024 tokens on


@dataclass
class ChatSeen(Seen):
    """One Chat Completions request, read the way the engine's checks need it."""

    cached_tokens: int = 0

    @property
    def system_texts(self) -> list[str]:
        return [_text(m) for m in self.body.get("messages", []) if m.get("role") == "system"]

    @property
    def user_text(self) -> str:
        turns = [m for m in self.body.get("messages", []) if m.get("role") == "user"]
        return _text(turns[-1]) if turns else ""

    @property
    def response_format(self) -> str:
        """ "json_schema", "json_object" or "" (none sent)."""
        return str((self.body.get("response_format") or {}).get("type", ""))

    @property
    def schema(self) -> dict[str, Any]:
        """The schema the answer must match: on the wire, else the one in the prompt (what
        a model in JSON mode reads)."""
        sent = self.body.get("response_format") or {}
        if sent.get("type") == "json_schema":
            return dict(sent.get("json_schema", {}).get("schema", {}))
        text = self.user_text
        decoder = json.JSONDecoder()
        start = text.find('{"')  # the first object that parses whole is the outermost
        while start >= 0:
            try:
                found, _ = decoder.raw_decode(text[start:])
            except json.JSONDecodeError:
                found = None
            if isinstance(found, dict) and "properties" in found:
                return found
            start = text.find('{"', start + 1)
        return {}


def _text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content)


class _Handler(JSONHandler):
    label = "openai-fake"


@dataclass
class FakeOpenAI(Loopback):
    """The stand-in server. Use as ``with FakeOpenAI() as fake:``; `base_url` (ending in
    /v1, as OpenAI's and Ollama's do) is what the SDK takes."""

    port: int = 0
    api_key: str | None = "sk-openai-test"  # None: a local server that checks no key
    schema_support: bool = True
    json_mode: bool = True
    new_token_param: bool = False  # reject max_tokens, as OpenAI's newest models do
    invent: bool = False
    verbose: bool = False
    requests: list[ChatSeen] = field(default_factory=list)
    _replies: deque[Reply] = field(default_factory=deque)
    _always: Reply | None = None
    _cache: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    thread_name = "fake-openai"

    def _new_server(self) -> LoopbackServer:
        server = LoopbackServer(self.port, _Handler, self)
        self.port = server.port  # port 0 asked for any free one: say which
        return server

    def _before_stop(self) -> None:
        self._stop.set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def queue(self, *replies: Reply) -> None:
        """Answer the next completions with these, in order (then the default again)."""
        with self._lock:
            self._replies.extend(replies)

    def always(self, reply: Reply | None) -> None:
        """Answer every request (once the queue is empty) with `reply`; None resets."""
        self._always = reply

    @property
    def completions(self) -> list[ChatSeen]:
        """The requests that reached the completions endpoint and were answered 200."""
        return [s for s in self.requests if s.path == PATH and s.status == 200]

    # -- serving --

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length)
        path = handler.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            handler.send_json(400, _error(400, "could not parse the JSON body"))
            return
        seen = ChatSeen(path, {k: v for k, v in headers.items() if k != "authorization"}, body)
        seen.headers["has-authorization"] = str("authorization" in headers).lower()
        with self._lock:
            self.requests.append(seen)
            reply = self._replies.popleft() if path == PATH and self._replies else None
        if reply is not None and reply.kind == "drop":
            handler.close_connection = True
            return
        refusal = self._refuse(path, headers, body)
        if refusal is not None:
            seen.status = refusal[0]
            handler.send_json(refusal[0], _error(*refusal))
            if reply is not None:  # a request the server refused did not use up a reply
                with self._lock:
                    self._replies.appendleft(reply)
            return
        reply = reply or self._always or Reply.default(self.invent)
        if reply.kind == "stall":
            self._stop.wait(reply.seconds)
            reply = Reply.default(self.invent)
        if reply.kind == "status":
            seen.status = reply.status
            handler.send_json(reply.status, _error(reply.status), reply.headers)
            return
        self._answer(handler, seen, reply)

    def _refuse(
        self, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, str] | None:
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, "Incorrect API key provided."
        if path != PATH:
            return 404, f"no route {path}"
        kind = (body.get("response_format") or {}).get("type")
        if kind == "json_schema" and not self.schema_support:
            return 400, "response_format type 'json_schema' is not supported by this server"
        if kind == "json_object" and not self.json_mode:
            return 400, "response_format is not supported by this server"
        if self.new_token_param and "max_tokens" in body:
            return 400, (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
        return None

    def _answer(self, handler: _Handler, seen: ChatSeen, reply: Reply) -> None:
        finish = "stop"
        if reply.kind == "text":  # raw text, or what a callable writes from the request
            text = str(reply.payload(seen) if callable(reply.payload) else reply.payload)
        else:
            payload = reply.payload
            if callable(payload):
                payload = payload(seen)
            if payload is None:
                payload = plausible_answer(seen, reply.invent)
            text = json.dumps(payload, ensure_ascii=False)
        output_tokens = count_tokens(text)
        if reply.kind == "truncated":
            finish = "length"
            text = text[: max(1, int(len(text) * 0.6))]
            limit = seen.body.get("max_tokens") or seen.body.get("max_completion_tokens")
            output_tokens = int(limit or output_tokens)
        self._account(seen)
        seen.output_tokens = output_tokens
        seen.status = 200
        handler.send_json(
            200,
            {
                "id": f"chatcmpl-fake{len(self.requests):04d}",
                "object": "chat.completion",
                "created": 1_780_000_000,
                "model": seen.body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text, "refusal": None},
                        "finish_reason": finish,
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": seen.input_tokens + seen.cached_tokens,
                    "completion_tokens": output_tokens,
                    "total_tokens": seen.input_tokens + seen.cached_tokens + output_tokens,
                    "prompt_tokens_details": {"cached_tokens": seen.cached_tokens},
                },
            },
        )

    def _account(self, seen: ChatSeen) -> None:
        """Prompt tokens (messages and any schema on the wire), the system message counting
        as cached when the same model saw it before and it is long enough."""
        texts = [_text(m) for m in seen.body.get("messages", [])]
        fmt = seen.body.get("response_format")
        if fmt:
            texts.insert(0, json.dumps(fmt, sort_keys=True))
        seen.prompt_chars = sum(len(t) for t in texts)
        total = count_tokens("".join(texts))
        system = "".join(seen.system_texts)
        prefix = (json.dumps(fmt, sort_keys=True) if fmt else "") + system
        prefix_tokens = count_tokens(prefix)
        key = hashlib.sha256(f"{seen.body.get('model')}\0{prefix}".encode()).hexdigest()
        with self._lock:
            hit = key in self._cache
            if prefix_tokens >= MIN_CACHE_TOKENS:
                self._cache.add(key)
        if hit:
            seen.cached_tokens = prefix_tokens
            seen.cache_read_tokens = prefix_tokens
            seen.cache_read_chars = len(prefix)
        seen.input_tokens = total - seen.cached_tokens


_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "not_found_error"}


def _error(status: int, message: str = "") -> dict[str, Any]:
    default = {429: "Rate limit reached", 500: "The server had an error", 503: "Overloaded"}
    return {
        "error": {
            "message": message or default.get(status, f"HTTP {status}"),
            "type": _TYPES.get(status, "server_error" if status >= 500 else "requests"),
            "param": None,
            "code": "invalid_api_key" if status == 401 else None,
        }
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT, printing the base URL as the first stdout line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.openai_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--no-key", action="store_true", help="check no API key (a local server)")
    parser.add_argument("--no-schema", action="store_true", help="reject json_schema output")
    parser.add_argument("--invent", action="store_true", help="answers cite an invented paper")
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    args = parser.parse_args(argv)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    fake = FakeOpenAI(
        port=args.port,
        api_key=None if args.no_key else "sk-openai-test",
        schema_support=not args.no_schema,
        invent=args.invent,
        verbose=not args.quiet,
    )
    with fake:
        print(fake.base_url, flush=True)
        while not done.wait(0.1):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
