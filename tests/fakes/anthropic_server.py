"""Loopback stand-in for the Anthropic Messages API (``POST /v1/messages`` and
``/v1/messages/count_tokens``), for tests, benchmarks and demos of the real SDK.

It speaks the wire format: JSON bodies, ``stop_reason``, ``usage`` with
``cache_creation_input_tokens``/``cache_read_input_tokens`` worked out from the
``cache_control`` prefixes it has seen (the structured-output schema counts as part of the
prefix, so changing it misses the cache, as it does on the real API), and error bodies with
``retry-after``. Each test scripts the answers it needs as a queue of ``Reply``; when the
queue is empty it writes a plausible answer from the request's own JSON schema, citing ids
of the papers in the prompt (optionally plus an invented paper). Every request is recorded.

Typical use::

    with FakeAnthropic() as fake:
        fake.queue(Reply.overloaded(), Reply.default())
        client = LLMClient(LLMSettings(api_key="test", base_url=fake.base_url))

Run ``python -m tests.fakes.anthropic_server [--invent] [--down]`` for a standalone server:
it prints its base URL (for ``ANTHROPIC_BASE_URL``) as the first stdout line.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import re
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.loopback import JSONHandler, Loopback, LoopbackServer

INVENTED_ID = "2699.99999"  # a well-formed id of no real paper (month 99 does not exist)
INVENTED_NAME = "HalluciNet"
_TOKEN = re.compile(r"[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]+")
_RECORD = re.compile(r"(?m)^(\d{4}\.\d{4,5}) \| ([^|\n]*) \| ([^|\n]*) \|")
_MARKER = re.compile(r"\[\[(\d{4}\.\d{4,5})\]\]")
_LABEL = re.compile(r'<cluster n="\d+" papers="\d+" label="([^"]*)">')


def count_tokens(text: str) -> int:
    """Tokens as the stand-in counts them: about 3.9 characters a token on English
    abstracts and 2.9 on JSON, close to Claude's tokenizer (a word piece per 5 letters,
    digits in threes, punctuation in pairs)."""
    return sum(
        1 + (len(t) - 1) // (5 if t[0].isalpha() else 2) if not t[0].isdigit() else 1
        for t in _TOKEN.findall(text)
    )


# -- scripted replies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One scripted answer to one ``/v1/messages`` request."""

    kind: str  # answer | text | truncated | status | stall | drop | default
    payload: Any = None  # dict, or callable(Seen) -> dict, or raw text
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    invent: bool = False

    @classmethod
    def answer(cls, payload: dict | Callable[[Seen], dict]) -> Reply:
        """A structured answer: this object (or what the callable builds from the request)."""
        return cls("answer", payload)

    @classmethod
    def text(cls, raw: str) -> Reply:
        """An answer whose text is exactly `raw` (invalid JSON, say)."""
        return cls("text", raw)

    @classmethod
    def truncated(cls, payload: dict | Callable[[Seen], dict] | None = None) -> Reply:
        """An answer cut off at max_tokens: ``stop_reason: "max_tokens"``, text cut short."""
        return cls("truncated", payload)

    @classmethod
    def error(cls, status: int, retry_after: float | None = None) -> Reply:
        """An API error with the real error body (and ``retry-after`` when given)."""
        headers = (("retry-after", f"{retry_after:g}"),) if retry_after is not None else ()
        return cls("status", status=status, headers=headers)

    @classmethod
    def overloaded(cls, retry_after: float | None = None) -> Reply:
        return cls.error(529, retry_after)

    @classmethod
    def stall(cls, seconds: float) -> Reply:
        """Answer nothing for `seconds` (or until the server stops): a client timeout."""
        return cls("stall", seconds=seconds)

    @classmethod
    def drop(cls) -> Reply:
        """Close the connection without answering."""
        return cls("drop")

    @classmethod
    def default(cls, invent: bool = False) -> Reply:
        """The schema-driven plausible answer (with an invented paper when `invent`)."""
        return cls("default", invent=invent)


_ERRORS = {
    400: ("invalid_request_error", "Bad request"),
    401: ("authentication_error", "invalid x-api-key"),
    404: ("not_found_error", "Not found"),
    408: ("timeout_error", "Request timeout"),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}


# -- what was seen --------------------------------------------------------------------------------


@dataclass
class Seen:
    """One request the stand-in received, with its accounting (for /v1/messages)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int = 0
    prompt_chars: int = 0
    cache_read_chars: int = 0
    cache_write_chars: int = 0
    input_tokens: int = 0  # uncached
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def weighted_chars(self) -> float:
        """Prompt characters weighted as billed: cache reads 0.1, cache writes 1.25."""
        plain = self.prompt_chars - self.cache_read_chars - self.cache_write_chars
        return plain + 0.1 * self.cache_read_chars + 1.25 * self.cache_write_chars

    @property
    def system_texts(self) -> list[str]:
        system = self.body.get("system", [])
        if isinstance(system, str):
            return [system]
        return [block.get("text", "") for block in system]

    @property
    def user_text(self) -> str:
        """The text of the last user turn."""
        turns = [m for m in self.body.get("messages", []) if m.get("role") == "user"]
        if not turns:
            return ""
        content = turns[-1].get("content", "")
        if isinstance(content, str):
            return content
        return "\n".join(block.get("text", "") for block in content)

    @property
    def ids(self) -> list[str]:
        """Paper ids in the prompt: records of <papers>, else markers of <cluster_notes>."""
        text = "\n".join(self.system_texts)
        found = _RECORD.findall(text)
        if found:
            return [paper_id for paper_id, _, _ in found]
        notes = text[text.find("<cluster_notes") :] if "<cluster_notes" in text else ""
        return list(dict.fromkeys(_MARKER.findall(notes)))

    @property
    def titles(self) -> dict[str, str]:
        text = "\n".join(self.system_texts)
        return {paper_id: title.strip() for paper_id, _, title in _RECORD.findall(text)}

    @property
    def schema(self) -> dict[str, Any]:
        return (self.body.get("output_config") or {}).get("format", {}).get("schema", {})


def _segments(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The prompt as (text, cache breakpoint after it?) in the order the API caches it:
    tools, the output schema, system blocks, then message content blocks."""
    out: list[tuple[str, bool]] = []
    for tool in body.get("tools") or []:
        out.append((json.dumps(tool, sort_keys=True), "cache_control" in tool))
    schema = (body.get("output_config") or {}).get("format")
    if schema:
        out.append((json.dumps(schema, sort_keys=True), False))
    system = body.get("system") or []
    if isinstance(system, str):
        out.append((system, False))
    else:
        out.extend((b.get("text", ""), "cache_control" in b) for b in system)
    for message in body.get("messages") or []:
        content = message.get("content", "")
        if isinstance(content, str):
            out.append((content, False))
        else:
            out.extend((b.get("text", ""), "cache_control" in b) for b in content)
    if body.get("cache_control") and out:  # top-level: a breakpoint on the last block
        out[-1] = (out[-1][0], True)
    return out


# -- plausible answers ----------------------------------------------------------------------------


class _Writer:
    """Fills a JSON schema with short prose citing the request's papers, in turn."""

    def __init__(self, seen: Seen, invent: bool) -> None:
        self.schema = seen.schema
        self.defs = self.schema.get("$defs", {})
        ids = seen.ids or ["2605.00001"]
        self.cursor: Iterator[str] = itertools.cycle(ids)
        self.titles = seen.titles
        self.labels = _LABEL.findall("\n".join(seen.system_texts))
        self.invent = invent
        self.invented = False
        self.count = 0

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.defs[schema["$ref"].rsplit("/", 1)[-1]]
        if "anyOf" in schema:
            options = [s for s in schema["anyOf"] if s.get("type") != "null"]
            return self.resolve(options[0] if options else schema["anyOf"][0])
        return schema

    def topic_of(self, paper_id: str) -> str:
        title = self.titles.get(paper_id, "")
        words = title.split(":")[-1].split()[:6]
        if words:
            return " ".join(words).lower().rstrip(".")
        if self.labels:
            return self.labels[self.count % len(self.labels)].lower()
        return "post-training of language models"

    def take(self, count: int) -> list[str]:
        return list(dict.fromkeys(next(self.cursor) for _ in range(count)))

    def value(self, schema: dict[str, Any], name: str, papers: list[str] | None) -> Any:
        schema = self.resolve(schema)
        kind = schema.get("type")
        if kind == "object":
            return self.obj(schema, name)
        if kind == "array":
            if name == "papers":
                return list(papers or [])
            return self.array(schema["items"], name)
        if kind == "string":
            return self.string(name, papers or self.take(2))
        if kind in ("integer", "number"):
            return 1
        if kind == "boolean":
            return True
        return None

    def obj(self, schema: dict[str, Any], name: str) -> dict[str, Any]:
        props = schema.get("properties", {})
        papers = self.take(1 if name == "notable" else 2) if "papers" in props else None
        self.count += 1
        out: dict[str, Any] = {}
        for key, sub in props.items():
            if key == "heading":
                out[key] = self.heading(name, papers or self.take(1))
            elif key == "text":
                out[key] = self.string("notable" if name == "notable" else key, papers or [])
            else:
                out[key] = self.value(sub, key, papers)
        return out

    def array(self, items: dict[str, Any], name: str) -> list[Any]:
        out = [self.value(items, name, None) for _ in range(3)]
        resolved = self.resolve(items)
        if (
            self.invent
            and not self.invented
            and resolved.get("type") == "object"
            and "papers" in resolved.get("properties", {})
        ):
            self.invented = True
            fake = {
                "heading": INVENTED_NAME,
                "text": f"{INVENTED_NAME} [[{INVENTED_ID}]] reports a 40-point gain on every "
                "benchmark, far beyond any other paper of the week.",
                "papers": [INVENTED_ID],
            }
            out.append({k: fake.get(k, "x") for k in resolved["properties"]})
        return out

    def heading(self, name: str, papers: list[str]) -> str:
        if name == "notable":
            return f"[[{papers[0]}]]"
        return self.topic_of(papers[0]).capitalize()

    def string(self, name: str, papers: list[str]) -> str:
        cited = " and ".join(f"[[{p}]]" for p in papers)
        subject = self.topic_of(papers[0])
        if name == "label":
            return subject.capitalize()
        if name == "notable":
            return (
                f"Why: {cited} is the clearest entry point to {subject}. Caveat: its "
                "evaluation is limited to the settings the abstract describes."
            )
        extra = ""
        if name == "gist" and self.invent and not self.invented:
            extra = f" See also [[{INVENTED_ID}]]."
        return (
            f"{cited} study {subject}; the abstracts report consistent gains over the "
            f"baselines they compare with, and the approach looks reusable.{extra}"
        )


def plausible_answer(seen: Seen, invent: bool = False) -> dict[str, Any]:
    """An answer that matches the request's schema and cites its papers."""
    writer = _Writer(seen, invent)
    return writer.value(seen.schema or {"type": "object", "properties": {}}, "", None)


# -- the server -----------------------------------------------------------------------------------


class _Handler(JSONHandler):
    label = "anthropic-fake"

    def reply_headers(self, body: dict[str, Any]) -> Sequence[tuple[str, str]]:
        return (("request-id", f"req_fake_{id(body):x}"),)


@dataclass
class FakeAnthropic(Loopback):
    """The stand-in server. Use as ``with FakeAnthropic() as fake:``; `base_url` is what
    the SDK (or ANTHROPIC_BASE_URL) takes."""

    port: int = 0
    min_cache_tokens: int = 1024  # below this a prefix is silently not cached, as on the API
    invent: bool = False  # default answers add an invented paper
    down: bool = False  # drop every connection
    verbose: bool = False
    requests: list[Seen] = field(default_factory=list)
    _replies: deque[Reply] = field(default_factory=deque)
    _always: Reply | None = None
    _cache: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    thread_name = "fake-anthropic"

    # -- lifecycle --

    def _new_server(self) -> LoopbackServer:
        server = LoopbackServer(self.port, _Handler, self)
        self.port = server.port  # port 0 asked for any free one: say which
        return server

    def _before_stop(self) -> None:
        self._stop.set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting --

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order (then the default again)."""
        with self._lock:
            self._replies.extend(replies)

    def always(self, reply: Reply | None) -> None:
        """Answer every request (once the queue is empty) with `reply`; None resets."""
        self._always = reply

    @property
    def messages(self) -> list[Seen]:
        """The /v1/messages requests, in order."""
        return [s for s in self.requests if s.path == "/v1/messages"]

    def reset(self) -> None:
        """Forget requests, replies and the cache."""
        with self._lock:
            self.requests.clear()
            self._replies.clear()
            self._cache.clear()
            self._always = None

    # -- serving --

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length)
        path = handler.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            handler.send_json(400, _error_body(400))
            return
        seen = Seen(path, {k: v for k, v in headers.items() if k not in _SECRET_HEADERS}, body)
        with self._lock:
            self.requests.append(seen)
            scripted = path == "/v1/messages" and self._replies
            reply = self._replies.popleft() if scripted else None
        if self.down or (reply is not None and reply.kind == "drop"):
            handler.close_connection = True
            return
        if not (headers.get("x-api-key") or headers.get("authorization", "").startswith("Bearer ")):
            seen.status = 401
            handler.send_json(401, _error_body(401))
            return
        if path == "/v1/messages/count_tokens":
            seen.status = 200
            text = "".join(t for t, _ in _segments(body))
            handler.send_json(200, {"input_tokens": count_tokens(text)})
            return
        if path != "/v1/messages":
            seen.status = 404
            handler.send_json(404, _error_body(404))
            return
        reply = reply or self._always or Reply.default(self.invent)
        if reply.kind == "stall":
            self._stop.wait(reply.seconds)
            reply = Reply.default(self.invent)
        if reply.kind == "status":
            seen.status = reply.status
            handler.send_json(reply.status, _error_body(reply.status), reply.headers)
            return
        self._answer(handler, seen, reply)

    def _answer(self, handler: _Handler, seen: Seen, reply: Reply) -> None:
        stop_reason = "end_turn"
        if reply.kind == "text":
            text = str(reply.payload)
        else:
            payload = reply.payload
            if callable(payload):
                payload = payload(seen)
            if payload is None:
                payload = plausible_answer(seen, reply.invent)
            text = json.dumps(payload, ensure_ascii=False)
        output_tokens = count_tokens(text)
        if reply.kind == "truncated":
            stop_reason = "max_tokens"
            text = text[: max(1, int(len(text) * 0.6))]
            output_tokens = int(seen.body.get("max_tokens", output_tokens))
        self._account(seen)
        seen.output_tokens = output_tokens
        seen.status = 200
        handler.send_json(
            200,
            {
                "id": f"msg_fake_{len(self.requests):04d}",
                "type": "message",
                "role": "assistant",
                "model": seen.body.get("model", ""),
                "content": [{"type": "text", "text": text}],
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": seen.input_tokens,
                    "output_tokens": output_tokens,
                    "cache_creation_input_tokens": seen.cache_write_tokens,
                    "cache_read_input_tokens": seen.cache_read_tokens,
                },
            },
        )

    def _account(self, seen: Seen) -> None:
        """Input, cache-read and cache-write tokens of a request, from its breakpoints and
        the prefixes cached before (per model; the 5-minute TTL is not modelled)."""
        segments = _segments(seen.body)
        model = str(seen.body.get("model", ""))
        texts = [t for t, _ in segments]
        seen.prompt_chars = sum(len(t) for t in texts)
        breakpoints = [i for i, (_, mark) in enumerate(segments) if mark]
        total_tokens = count_tokens("".join(texts))
        if not breakpoints:
            seen.input_tokens = total_tokens
            return
        last = breakpoints[-1]
        prefix = "".join(texts[: last + 1])
        prefix_tokens = count_tokens(prefix)
        if prefix_tokens < self.min_cache_tokens:
            seen.input_tokens = total_tokens
            return
        read_tokens = read_chars = 0
        with self._lock:
            for point in reversed(breakpoints):  # the longest prefix cached before
                candidate = "".join(texts[: point + 1])
                key = hashlib.sha256(f"{model}\0{candidate}".encode()).hexdigest()
                if key in self._cache:
                    read_tokens, read_chars = self._cache[key], len(candidate)
                    break
            self._cache[hashlib.sha256(f"{model}\0{prefix}".encode()).hexdigest()] = prefix_tokens
        seen.cache_read_tokens = read_tokens
        seen.cache_read_chars = read_chars
        seen.cache_write_tokens = prefix_tokens - read_tokens
        seen.cache_write_chars = len(prefix) - read_chars
        seen.input_tokens = total_tokens - prefix_tokens


_SECRET_HEADERS = frozenset({"x-api-key", "authorization"})


def _error_body(status: int) -> dict[str, Any]:
    kind, message = _ERRORS.get(status, ("api_error", f"HTTP {status}"))
    return {"type": "error", "error": {"type": kind, "message": message}}


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT, printing the base URL as the first stdout line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.anthropic_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument(
        "--invent",
        action="store_true",
        help=f"answers also cite an invented paper ({INVENTED_NAME}, {INVENTED_ID})",
    )
    parser.add_argument("--down", action="store_true", help="drop every connection")
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    args = parser.parse_args(argv)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    fake = FakeAnthropic(port=args.port, invent=args.invent, down=args.down, verbose=not args.quiet)
    with fake:
        print(fake.base_url, flush=True)
        while not done.wait(0.1):  # short waits so the signal handler runs promptly
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
