"""A posted Discord digest links its web page when `[web] public_url` is set, and its chart
arrives in the thread after the overview as a PNG attachment (real discord.py, fake API)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config import Config
from bot.discord.poster import DiscordPoster
from bot.posting import post_digest
from bot.presentation import Presenter
from digest.chart import ChartCache
from digest.model import Digest
from storage import Corpus
from storage.ledger import PostLedger
from tests.fakes.discord_server import CHANNEL_ID, FakeDiscord
from tests.support.discord import build_digest, week_papers

CHANNEL = f"discord:{CHANNEL_ID}"
PUBLIC = "https://digests.example.org/archive"


@pytest.fixture
def poster(config: Config) -> Iterator[DiscordPoster]:
    opened = DiscordPoster.from_config(config)
    yield opened
    opened.close()


@pytest.fixture
def stored(corpus: Corpus) -> tuple[Digest, int]:
    papers = week_papers()
    corpus.store_papers(papers, "post-train", [p.id for p in papers])
    digest = build_digest(papers)
    digest_id = corpus.save_digest(
        topic="post-train",
        since=digest.since,
        until=digest.until,
        engine="offline",
        generated_at=digest.generated_at,
        body=digest.to_json(),
    )
    return digest, digest_id


def test_parent_permalink_and_chart_after_the_overview(
    fake: FakeDiscord, poster: DiscordPoster, corpus: Corpus, stored, tmp_path
) -> None:
    digest, digest_id = stored
    shown = Presenter(PUBLIC, ChartCache(corpus, tmp_path))(digest, digest_id)
    post_digest(shown, CHANNEL, poster, PostLedger(corpus), digest_id=digest_id)
    parent = fake.created(CHANNEL_ID)[0]
    assert f"[Read this digest on the web](<{PUBLIC}/d/{digest_id}>)" in parent.content
    (thread,) = fake.threads(CHANNEL_ID)
    replies = fake.created(int(thread["id"]))
    with_files = [i for i, m in enumerate(replies) if m.files]
    (index,) = with_files  # a 14-paper catalog fits in messages: the chart is the one file
    name, data = replies[index].files[0]
    assert name == f"post-train-{digest.since}-{digest.until}-chart.png"
    assert data.startswith(b"\x89PNG") and data == shown.figure.data
    assert "This Week in Numbers" in replies[index].content
    assert "Concluding Overview" in replies[index - 1].content
    assert "Run Metadata" in replies[index + 1].content


def test_without_public_url_the_parent_has_no_web_link(
    fake: FakeDiscord, poster: DiscordPoster, corpus: Corpus, stored, tmp_path
) -> None:
    digest, digest_id = stored
    shown = Presenter("", ChartCache(corpus, tmp_path))(digest, digest_id)
    post_digest(shown, CHANNEL, poster, PostLedger(corpus), digest_id=digest_id)
    assert "on the web" not in fake.created(CHANNEL_ID)[0].content
