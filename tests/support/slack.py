"""What the Slack tests share: project-owned papers and digests, a router over a real corpus,
signed Slack requests, a manual clock, and checks on what Slack received."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from urllib.parse import urlencode

from slack_bolt import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.commands import Router
from bot.config import Config, parse_config
from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.model import Digest
from digest.offline.engine import OfflineEngine
from digest.render import Block, Message, Span
from digest.service import DigestService
from digest.synthesis import SynthesisRequest
from digest.topics import POST_TRAIN, TopicCatalog
from digest.windows import Window
from storage import Corpus, FetchRecord, Paper
from storage.ledger import PostLedger
from storage.subscriptions import SubscriptionStore
from tests.support.papers import make_paper

NOW = datetime(2026, 6, 8, 9, 0, tzinfo=UTC)  # a Monday: the default window is 06-01..06-07
WINDOW = Window(date(2026, 6, 1), date(2026, 6, 7))
CHANNEL = "C0TEST"
SECRET = "signing-secret-for-tests"
HOSTILE = (
    "<!channel> <!here> @everyone @here <@U123> <#C999|general> <https://evil.example/x|click> "
    "[click](https://evil.example/md) visit https://evil.example/raw or www.evil.example now"
)
_TOPICS = ["reward models", "preference optimization", "chain of thought", "tool use", "lora"]
_WORDS = (
    "curriculum verifier distillation agents retrieval safety jailbreak multilingual math "
    "code vision speech robotics planning memory calibration uncertainty hallucination "
    "summarization translation dialogue medical legal finance chemistry compression "
    "quantization pruning sparsity routing experts tokenizer"
).split()


def papers(count: int, *, hostile: bool = False, start: int = 1) -> list[Paper]:
    """`count` post-training papers of WINDOW; `hostile` puts mentions and links in them."""
    out = []
    for i in range(start, start + count):
        topic = _TOPICS[i % len(_TOPICS)]
        extra = f" {HOSTILE}." if hostile else ""
        out.append(
            make_paper(
                f"2606.{i:05d}",
                title=f"Method{i}: {topic.title()} for LLM Post-Training{extra}",
                abstract=(
                    f"We propose Method{i}, a {topic} approach to post-training large language "
                    f"models for {_WORDS[i % 31]} and {_WORDS[(i * 7) % 31]}.{extra} Experiments "
                    f"with DPO on {_WORDS[(i * 13) % 31]} benchmarks show gains of {i}%. "
                    f"A limitation is the cost of {_WORDS[(i * 3) % 31]} labels."
                ),
                published=datetime(2026, 6, 1 + i % 7, 12, tzinfo=UTC),
            )
        )
    return out


def build_digest(items: Sequence[Paper], window: Window = WINDOW) -> Digest:
    """The offline engine's digest of these papers."""
    request = SynthesisRequest(POST_TRAIN, window, tuple(items), NOW)
    return OfflineEngine().synthesize(request)


class ManualClock:
    """A monotonic clock that only moves when slept on: pacing without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Answers:
    """The router's answerer: says back the question it got, and remembers the context."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def __call__(self, question: str, context_ids: Sequence[str]) -> list[Message]:
        self.asked.append((question, tuple(context_ids)))
        body = (
            Span("You asked: "),
            Span(question),
            Span(" See "),
            Span("Method1", "https://arxiv.org/abs/2606.00001"),
        )
        return [Message("answer", "", (Block("paragraph", body),))]


def make_router(corpus: Corpus, items: Iterable[Paper], answers: Answers | None = None) -> Router:
    """A router over a corpus that holds WINDOW completely (arXiv is never asked)."""
    items = list(items)
    query = POST_TRAIN.window_query(*WINDOW.arxiv_range())
    record = FetchRecord("post-train", WINDOW.since, WINDOW.until, query, NOW, True, len(items))
    corpus.store_fetch(items, record)
    unreachable = ArxivSource(ArxivSettings(api_url="http://127.0.0.1:9/api/query", retries=0))
    service = DigestService(corpus, TopicCatalog.with_builtins(), unreachable, clock=lambda: NOW)
    return Router(
        service=service,
        subscriptions=SubscriptionStore(corpus),
        ledger=PostLedger(corpus),
        answer=answers or Answers(),
        clock=lambda: NOW,
    )


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def slack_config(
    api_url: str,
    *,
    mode: str = "http",
    admins: Sequence[str] = ("UADMIN",),
    http_port: int = 3000,
    **env: str,
) -> Config:
    """A validated config for the fake Slack, with every Slack secret set unless overridden."""
    environment = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_APP_TOKEN": "xapp-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "DIGESTBOT_SLACK_API_URL": api_url,
        **env,
    }
    environment = {k: v for k, v in environment.items() if v}
    raw = {"slack": {"mode": mode, "admins": list(admins), "http_port": http_port}}
    return parse_config(raw, environment, source="tests")


def command_body(
    text: str, *, user: str = "U1", channel: str = CHANNEL, response_url: str = ""
) -> str:
    """A `/digest` slash command payload as Slack posts it (form-encoded)."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": "T0FAKE",
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "research",
            "user_id": user,
            "user_name": "someone",
            "command": "/digest",
            "text": text,
            "api_app_id": "A0FAKE",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


def mention_body(
    text: str, *, ts: str, thread_ts: str | None = None, user: str = "U1", channel: str = CHANNEL
) -> str:
    """An Events API `app_mention` callback as Slack posts it (JSON)."""
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@U0BOT> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": "T0FAKE",
            "api_app_id": "A0FAKE",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{ts.replace('.', '')}",
            "event_time": int(float(ts)),
            "authorizations": [{"team_id": "T0FAKE", "user_id": "U0BOT", "is_bot": True}],
        }
    )


def signed(
    body: str, *, secret: str = SECRET, timestamp: int | None = None, json_body: bool = False
) -> BoltRequest:
    """An HTTP-mode request signed the way Slack signs it."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    content_type = "application/json" if json_body else "application/x-www-form-urlencoded"
    headers = {
        "content-type": [content_type],
        "x-slack-request-timestamp": [stamp],
        "x-slack-signature": [signature or ""],
    }
    return BoltRequest(body=body, headers=headers)


def texts_of(args: dict) -> list[str]:
    """Every piece of text in a message request: the fallback and each block's text."""
    out = [str(args.get("text") or "")]
    blocks = args.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    out.extend(str(b.get("text", {}).get("text", "")) for b in blocks)
    return out


_LINK = re.compile(r"<([^>|]*)")


def assert_inert(requests: Iterable[dict]) -> None:
    """No mention and no link but to arXiv (or our own permalinks) in what Slack received."""
    for args in requests:
        for text in texts_of(args):
            assert "<!" not in text and "<@" not in text and "<#" not in text, text
            for target in _LINK.findall(text):
                assert target.startswith(("https://arxiv.org/abs/", "https://fake.slack.com/")), (
                    text
                )
            for word in ("@everyone", "@here", "@channel"):
                assert word not in text, text
            assert "evil.example" not in text, text
            assert "](http" not in text, text
