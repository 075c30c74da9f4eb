"""Discord-test builders: a week of papers in the default window and its digest, a router
over a real corpus holding them, and an asyncio loop on a thread as the running bot has."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bot.commands import Router
from digest.model import Digest
from digest.offline.engine import OfflineEngine
from digest.render import Block, Message, Span
from digest.service import DigestService
from digest.synthesis import SynthesisRequest
from digest.topics import TopicCatalog
from digest.windows import default_window
from storage import Corpus, Paper
from storage.ledger import PostLedger
from storage.subscriptions import SubscriptionStore
from tests.support.papers import make_paper

T = TypeVar("T")


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


BUILT = NOW + timedelta(days=3)


_SUBJECTS = (
    ("reward models", "reward model calibration"),
    ("preference optimization", "direct preference optimization losses"),
    ("GRPO reasoning", "group relative policy optimization for math reasoning"),
    ("instruction tuning", "instruction tuning data selection"),
    ("RLHF safety", "safety alignment with human feedback"),
    ("distillation", "on-policy distillation from a larger teacher"),
)


@functools.cache
def week_papers(
    count: int = 14, *, title_extra: str = "", abstract_extra: str = ""
) -> tuple[Paper, ...]:
    """A week of post-training papers in the default window, with distinct subjects."""
    papers = []
    for i in range(count):
        short, long = _SUBJECTS[i % len(_SUBJECTS)]
        papers.append(
            make_paper(
                f"2605.{20000 + i:05d}",
                title=f"Name{i}: Better {short} for language models{title_extra}",
                abstract=(
                    f"We study {long} for large language models. Our method improves {short} "
                    f"on standard benchmarks by {i + 2} points.{abstract_extra} Experiments on "
                    f"math and coding show consistent gains in {short}."
                ),
                published=datetime(2026, 5, 26 + i % 5, 12, 0, tzinfo=UTC),
            )
        )
    return tuple(papers)


@functools.cache
def build_digest(papers: tuple[Paper, ...]) -> Digest:
    """The offline engine's digest of `papers` for the default window."""
    topic = TopicCatalog.with_builtins().get("post-train")
    request = SynthesisRequest(
        topic=topic,
        window=default_window(NOW),
        papers=tuple(papers),
        generated_at=BUILT,
    )
    return OfflineEngine().synthesize(request)


class Answers:
    """The router's answerer seam, faked: records each question and answers with its text,
    plus whatever `extra` a test wants in the answer (e.g. hostile text)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[str, ...]]] = []
        self.extra = ""

    def __call__(self, question: str, ids: Sequence[str]) -> list[Message]:
        self.asked.append((question, tuple(ids)))
        text = f"You asked: {question}. {self.extra}".strip()
        cited = (Span("Name0", url="https://arxiv.org/abs/2605.20000"),)
        return [
            Message("answer", "Answer", (Block("paragraph", (Span(text),)), Block("bullet", cited)))
        ]


def make_router(corpus: Corpus, papers: Sequence[Paper], answers: Answers) -> Router:
    """A router whose corpus holds `papers` and the offline digest of them, stored as
    `DigestService.build` stores it (built once per paper set: the engine is the slow part)."""
    corpus.store_papers(papers, "post-train", [p.id for p in papers])
    digest = build_digest(tuple(papers))
    corpus.save_digest(
        topic=digest.topic,
        since=digest.since,
        until=digest.until,
        engine=digest.synthesizer,
        generated_at=digest.generated_at,
        body=digest.to_json(),
    )
    service = DigestService(corpus, TopicCatalog.with_builtins(), clock=lambda: BUILT)
    return Router(
        service=service,
        subscriptions=SubscriptionStore(corpus),
        ledger=PostLedger(corpus),
        answer=answers,
        clock=lambda: NOW,
    )


class LoopThread:
    """An asyncio loop on a thread, as a running bot has: the client lives on it, and
    tests submit coroutines to it and wait (so the poster can run in worker threads)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, function: Callable[[], T]) -> T:
        """Run a plain function on the loop's thread (discord.py's state is not thread-safe)."""

        async def wrapper() -> T:
            return function()

        return self.run(wrapper())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
