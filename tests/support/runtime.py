"""The bot's weekly duties under test: a runtime over a real corpus holding one stored week,
an arXiv that cannot be reached, and a fake poster for slack:C1."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.config import Subscription
from bot.publisher import Publisher
from bot.runtime import Runtime
from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.service import DigestService
from digest.topics import POST_TRAIN, TopicCatalog
from digest.windows import Window
from storage import Corpus, FetchRecord
from storage.ledger import PostLedger
from tests.fakes.poster import FakePoster
from tests.support.papers import make_paper

MONDAY_NINE = datetime(2026, 6, 8, 7, 0, tzinfo=UTC)  # 09:00 in Berlin
WINDOW = Window(date(2026, 6, 1), date(2026, 6, 7))
SUB = Subscription("slack:C1", "post-train", "mon", "09:00", "Europe/Berlin")


def make_runtime(corpus: Corpus) -> Runtime:
    """A runtime whose notices are collected in `runtime.notices`."""
    papers = [
        make_paper(
            f"2606.0000{i}",
            title=f"Tool{i}: Reward Models for LLM Post-Training",
            abstract="We propose a reward model for post-training large language models.",
            published=datetime(2026, 6, 3, tzinfo=UTC),
        )
        for i in range(1, 4)
    ]
    query = POST_TRAIN.window_query(*WINDOW.arxiv_range())
    corpus.store_fetch(
        papers, FetchRecord("post-train", WINDOW.since, WINDOW.until, query, MONDAY_NINE, True, 3)
    )
    unreachable = ArxivSource(
        ArxivSettings(api_url="http://127.0.0.1:9/api/query", retries=0, delay_seconds=0)
    )
    service = DigestService(
        corpus, TopicCatalog.with_builtins(), unreachable, clock=lambda: MONDAY_NINE
    )
    notices: list[str] = []
    made = Runtime(Publisher(service, PostLedger(corpus), [FakePoster()]), notices.append)
    made.notices = notices  # type: ignore[attr-defined]
    return made


def poster(runtime) -> FakePoster:
    return runtime.publisher.poster("slack:C1")
