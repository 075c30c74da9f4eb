"""Benchmark of `/digest` acknowledgement latency through Bolt's dispatch, with the digest
work running behind it.

Slack gives a slash command 3 s to be acknowledged; our target is p99 < 100 ms. Each timed
request is a signed HTTP-mode `/digest` payload handed to the app's `dispatch` (what
`run_http` does per request, minus the socket); the time is from the call to the returned
response carrying the ack. Behind the acks the real work runs on the bot's pool: the real
router and offline engine over a small synthetic corpus of several weekly windows (each
first request for a window builds its digest), posts of whole threads (pacing 1 message/s
per channel, as in production) to a loopback Slack (tests/fakes/slack_server.py) via the
real slack_sdk, `--force` re-posts, questions, help and status. Requests are sent
back-to-back from one thread (`--rate` spaces them), which is far denser than people type.

    .venv/bin/python bench/bench_slack_ack.py [--requests 200] [--rate 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_bolt import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bench.common import console, header, percentile, results_table, verdict
from bot.commands import Router
from bot.config import parse_config
from bot.publisher import Publisher
from bot.slack.app import build_app
from bot.slack.client import make_client
from bot.slack.poster import SlackPoster
from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.render import Block, Message, Span
from digest.service import DigestService
from digest.topics import POST_TRAIN, TopicCatalog
from digest.windows import Window
from storage import FetchRecord, Paper, open_corpus
from storage.ledger import PostLedger
from storage.subscriptions import SubscriptionStore
from tests.fakes.slack_server import FakeSlack

TARGET_P99_MS = 100.0
SECRET = "bench-signing-secret"
NOW = datetime(2026, 6, 8, 9, 0, tzinfo=UTC)
WEEKS = 6
PAPERS_PER_WEEK = 30
CHANNELS = [f"C0BENCH{i}" for i in range(8)]
_WORDS = (
    "reward preference policy alignment safety reasoning math code agents tools retrieval "
    "distillation lora adapters tokens curriculum verifiers jailbreak multilingual vision "
    "speech planning memory calibration hallucination summarization translation dialogue "
    "quantization pruning routing experts"
).split()


def corpus_papers(week: int, since: date) -> list[Paper]:
    """A week of varied, synthetic post-training papers."""
    out = []
    for i in range(PAPERS_PER_WEEK):
        n = week * 100 + i
        words = [_WORDS[(n * k) % len(_WORDS)] for k in (1, 3, 7, 11)]
        published = datetime.combine(since + timedelta(days=i % 7), datetime.min.time(), UTC)
        out.append(
            Paper(
                id=f"2606.{n:05d}",
                version=1,
                title=f"Model{n}: {words[0].title()} and {words[1]} for LLM post-training",
                abstract=(
                    f"We study {words[0]} and {words[1]} when post-training large language "
                    f"models. Our method improves {words[2]} using {words[3]}. Experiments "
                    f"on {words[1]} benchmarks show gains of {i} points over DPO baselines."
                ),
                authors=("A. Author", "B. Author"),
                categories=("cs.CL",),
                primary_category="cs.CL",
                published=published + timedelta(hours=12),
                updated=published + timedelta(hours=12),
            )
        )
    return out


def answer(question: str, context_ids: object) -> list[Message]:
    """A stand-in answerer: question answering is not what this measures."""
    return [Message("answer", "", (Block("paragraph", (Span(f"About: {question}"),)),))]


def workload(count: int, windows: list[Window]) -> list[tuple[str, str]]:
    """(command text, channel) pairs: mostly digests of several windows, some forced
    re-posts, questions, help and status."""
    out = []
    for i in range(count):
        channel = CHANNELS[i % len(CHANNELS)]
        window = windows[(i // len(CHANNELS)) % len(windows)]
        dates = f"--since {window.since} --until {window.until}"
        kind = i % 10
        if kind in (0, 1, 2, 3, 4):
            text = f"post-train {dates}"
        elif kind == 5 and i % 20 == 5:
            text = f"post-train {dates} --force"
        elif kind in (5, 6):
            text = "ask which papers use reward models?"
        elif kind == 7:
            text = "help"
        elif kind == 8:
            text = "status"
        else:
            text = "post-train --since nonsense"
        out.append((text, channel))
    return out


def signed_command(text: str, channel: str, verifier: SignatureVerifier) -> BoltRequest:
    from urllib.parse import urlencode

    body = urlencode(
        {
            "command": "/digest",
            "text": text,
            "user_id": "U0BENCH",
            "channel_id": channel,
            "team_id": "T0FAKE",
            "api_app_id": "A0FAKE",
            "response_url": "",
        }
    )
    stamp = str(int(time.time()))
    signature = verifier.generate_signature(timestamp=stamp, body=body) or ""
    headers = {
        "content-type": ["application/x-www-form-urlencoded"],
        "x-slack-request-timestamp": [stamp],
        "x-slack-signature": [signature],
    }
    return BoltRequest(body=body, headers=headers)


def digest_threads(fake: FakeSlack) -> tuple[int, int]:
    """How many digest threads the channels hold, and how many of their parts appear twice
    in one thread (exactly-once says none)."""
    threads = duplicates = 0
    for channel in CHANNELS:
        for parent in fake.top_level(channel):
            if (parent.get("metadata") or {}).get("event_payload", {}).get("part") != "parent":
                continue
            threads += 1
            keys = [
                m["metadata"]["event_payload"]["part"]
                for m in fake.thread(channel, parent["ts"])
                if m.get("metadata")
            ]
            duplicates += len(keys) - len(set(keys))
    return threads, duplicates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests (200)")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="requests per second (0: back-to-back)"
    )
    parser.add_argument("--drain", type=float, default=300.0, help="max seconds to finish work")
    args = parser.parse_args(argv)
    header(
        "bench_slack_ack: /digest acknowledgement through Bolt's dispatch",
        [
            f"{args.requests} signed HTTP-mode requests, "
            + ("back-to-back" if not args.rate else f"{args.rate:g}/s")
            + f"; {WEEKS} weekly windows of {PAPERS_PER_WEEK} papers, {len(CHANNELS)} channels",
            "work behind the ack: real router + offline engine, thread posts paced 1/s per "
            "channel to a loopback Slack via slack_sdk",
        ],
    )
    windows = [
        Window(date(2026, 6, 1) - timedelta(days=7 * w), date(2026, 6, 7) - timedelta(days=7 * w))
        for w in range(WEEKS)
    ]
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeSlack(channels=CHANNELS) as fake,
        open_corpus(Path(tmp) / "bench.db") as corpus,
    ):
        for week, window in enumerate(windows):
            papers = corpus_papers(week, window.since)
            query = POST_TRAIN.window_query(*window.arxiv_range())
            record = FetchRecord(
                "post-train", window.since, window.until, query, NOW, True, len(papers)
            )
            corpus.store_fetch(papers, record)
        unreachable = ArxivSource(ArxivSettings(api_url="http://127.0.0.1:9/api/query", retries=0))
        service = DigestService(
            corpus, TopicCatalog.with_builtins(), unreachable, clock=lambda: NOW
        )
        router = Router(
            service=service,
            subscriptions=SubscriptionStore(corpus),
            ledger=PostLedger(corpus),
            answer=answer,
            clock=lambda: NOW,
        )
        env = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "DIGESTBOT_SLACK_API_URL": fake.base_url,
        }
        config = parse_config({"slack": {"mode": "http"}}, env, source="bench")
        poster = SlackPoster(make_client("xoxb-test", fake.base_url))
        app = build_app(
            router, config, poster=poster, publisher=Publisher(service, router.ledger), env={}
        )
        verifier = SignatureVerifier(SECRET)
        plan = workload(args.requests, windows)
        # One untimed request so first-call costs (auth.test cache, imports) are not counted.
        app.dispatch(signed_command("help", CHANNELS[0], verifier))
        app.wait_idle(30)

        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        started = time.perf_counter()
        for index, (text, channel) in enumerate(plan):
            if args.rate:
                due = started + index / args.rate
                time.sleep(max(0.0, due - time.perf_counter()))
            request = signed_command(text, channel, verifier)
            t0 = time.perf_counter()
            response = app.dispatch(request)
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[response.status] += 1
        sent_in = time.perf_counter() - started
        drained = app.wait_idle(args.drain)
        drain_s = time.perf_counter() - started
        app.close()
        posts, ephemerals = len(fake.posts()), len(fake.ephemerals())
        threads, duplicates = digest_threads(fake)

    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    table = results_table("ack latency (ms)", ["requests", "p50", "p95", "p99", "max", "target"])
    table.add_row(
        f"{len(latencies)} x /digest",
        f"{p50:.1f}",
        f"{p95:.1f}",
        f"{p99:.1f}",
        f"{max(latencies):.1f}",
        f"p99 < {TARGET_P99_MS:.0f} {verdict(p99, TARGET_P99_MS, higher_is_better=False)}",
    )
    console.print(table)
    kinds = Counter(text.split()[0] + (" --force" if "--force" in text else "") for text, _ in plan)
    console.print(
        f"· statuses {dict(statuses)}; sent in {sent_in:.2f} s; work drained "
        f"{'in' if drained else 'NOT within'} {drain_s:.1f} s: {threads} digest threads "
        f"({duplicates} duplicated messages), {posts} channel messages, {ephemerals} "
        "ephemeral replies"
    )
    console.print("· mix: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common()))
    console.print(f"p50={p50:.1f}ms p95={p95:.1f}ms p99={p99:.1f}ms runs={len(latencies)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
