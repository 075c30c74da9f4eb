"""The Publisher: the one rule that reuses or rebuilds a digest, and the one way it is posted,
for chat commands, weekly runs, resumes and the CLI's --post alike."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import PlatformError
from bot.posting import PostOutcome
from bot.publisher import REUSE_FOR, Publication, Publisher
from bot.slack.client import make_client
from bot.slack.poster import SlackPoster
from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.render import message_text
from digest.service import DigestService
from digest.topics import POST_TRAIN, TopicCatalog
from digest.windows import Window, settled_at
from storage import Corpus, FetchRecord, open_corpus
from storage.ledger import PostLedger
from tests.fakes.poster import Crash, FakePoster
from tests.fakes.slack_server import FakeSlack
from tests.support.papers import make_paper

NOW = datetime(2026, 6, 8, 9, 0, tzinfo=UTC)  # a Monday, before the window has settled
WINDOW = Window(date(2026, 6, 1), date(2026, 6, 7))
CHANNEL = "slack:C1"


class Clock:
    """The publisher's and the service's "now", moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def store_week(corpus: Corpus, fetched_at: datetime = NOW) -> None:
    """Four papers of WINDOW and a complete fetch of it: building never needs arXiv."""
    papers = [
        make_paper(
            f"2606.0000{i}",
            title=f"Tool{i}: Reward Models for LLM Post-Training",
            abstract="We propose a reward model for post-training large language models.",
            published=datetime(2026, 6, 2, 12, tzinfo=UTC),
        )
        for i in range(1, 5)
    ]
    query = POST_TRAIN.window_query(*WINDOW.arxiv_range())
    corpus.store_fetch(
        papers, FetchRecord("post-train", WINDOW.since, WINDOW.until, query, fetched_at, True, 4)
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def publisher(corpus: Corpus, clock: Clock) -> Publisher:
    store_week(corpus)
    unreachable = ArxivSource(ArxivSettings(api_url="http://127.0.0.1:9/api/query", retries=0))
    service = DigestService(corpus, TopicCatalog.with_builtins(), unreachable, clock=clock)
    return Publisher(service, PostLedger(corpus), [FakePoster()])


def sent(publisher: Publisher) -> FakePoster:
    poster = publisher.poster(CHANNEL)
    assert isinstance(poster, FakePoster)
    return poster


def stored_count(publisher: Publisher) -> int:
    return len(publisher.service.corpus.digests("post-train"))


class TestTheRule:
    def test_nothing_stored_builds_and_stores(self, publisher: Publisher) -> None:
        chosen = publisher.choose("post-train", WINDOW)
        assert chosen.digest.paper_count == 4 and chosen.digest_id is not None
        assert stored_count(publisher) == 1

    def test_a_digest_built_within_the_hour_is_reused(self, publisher, clock) -> None:
        first = publisher.choose("post-train", WINDOW)
        clock.now = NOW + REUSE_FOR - timedelta(minutes=1)
        assert publisher.choose("post-train", WINDOW).digest_id == first.digest_id
        assert stored_count(publisher) == 1

    def test_an_older_digest_of_an_unsettled_window_is_rebuilt(self, publisher, clock) -> None:
        first = publisher.choose("post-train", WINDOW)
        clock.now = NOW + timedelta(hours=2)  # arXiv may have announced more since
        assert clock.now < settled_at(WINDOW)
        assert publisher.choose("post-train", WINDOW).digest_id != first.digest_id

    def test_a_digest_built_after_the_window_settled_is_reused_later(
        self, publisher, clock
    ) -> None:
        clock.now = settled_at(WINDOW) + timedelta(hours=1)
        first = publisher.choose("post-train", WINDOW)
        clock.now += timedelta(days=30)
        assert publisher.choose("post-train", WINDOW).digest_id == first.digest_id

    def test_force_builds_a_new_digest(self, publisher) -> None:
        first = publisher.choose("post-train", WINDOW)
        again = publisher.choose("post-train", WINDOW, force=True)
        assert again.digest_id != first.digest_id and stored_count(publisher) == 2

    def test_a_started_post_keeps_its_digest_over_a_newer_one(self, publisher, clock) -> None:
        """A post in a channel stays with the digest it began with, even once a newer
        digest of the window is stored (built for another channel, say)."""
        sent(publisher).crash_after = 3
        with pytest.raises(Crash):
            publisher.publish("post-train", WINDOW, CHANNEL)
        started = publisher.choose("post-train", WINDOW, CHANNEL)
        clock.now = NOW + timedelta(hours=2)
        newer = publisher.choose("post-train", WINDOW, "slack:C2")
        assert newer.digest_id != started.digest_id
        finished = publisher.publish("post-train", WINDOW, CHANNEL)
        assert finished.digest_id == started.digest_id
        assert finished.outcome.sent == finished.outcome.total - 3


class TestPublish:
    def test_posts_once_then_says_it_is_already_there(self, publisher: Publisher) -> None:
        first = publisher.publish("post-train", WINDOW, CHANNEL)
        assert first.outcome.sent == first.outcome.total == 9
        again = publisher.publish("post-train", WINDOW, CHANNEL)
        assert again.outcome.already_posted and again.outcome.sent == 0
        assert again.digest_id == first.digest_id
        assert len(sent(publisher).sent) == 9

    def test_force_posts_a_new_thread_with_a_new_digest(self, publisher: Publisher) -> None:
        first = publisher.publish("post-train", WINDOW, CHANNEL)
        forced = publisher.publish("post-train", WINDOW, CHANNEL, force=True)
        assert forced.outcome.sent == forced.outcome.total
        assert forced.digest_id != first.digest_id
        assert len(sent(publisher).threads_opened) == 2

    def test_concurrent_triggers_post_one_thread(self, publisher: Publisher) -> None:
        outcomes: list[Publication] = []
        threads = [
            threading.Thread(
                target=lambda: outcomes.append(publisher.publish("post-train", WINDOW, CHANNEL))
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        keys = sent(publisher).keys()
        assert len(keys) == len(set(keys)) == 9
        assert sorted(p.outcome.already_posted for p in outcomes) == [False, True, True, True]
        assert stored_count(publisher) == 1

    def test_a_platform_without_a_poster_is_a_platform_error(self, publisher) -> None:
        with pytest.raises(PlatformError, match="no discord connection is running"):
            publisher.publish("post-train", WINDOW, "discord:42")
        assert stored_count(publisher) == 0  # refused before building anything

    def test_a_malformed_channel_is_refused_before_any_work(self, publisher) -> None:
        with pytest.raises(PlatformError, match="slack:CHANNEL_ID"):
            publisher.publish("post-train", WINDOW, "C1")
        assert stored_count(publisher) == 0


class TestTheOutcomeMessage:
    def publication(self, publisher: Publisher, outcome: PostOutcome) -> Publication:
        chosen = publisher.choose("post-train", WINDOW)
        return Publication(chosen.digest, chosen.digest_id, CHANNEL, outcome)

    def test_posted(self, publisher: Publisher) -> None:
        done = self.publication(publisher, PostOutcome(9, 9, False, "1700.1"))
        (block,) = done.message().blocks
        assert block.plain.startswith("Posted LLM Post-Train")
        assert "(2026-06-01 to 2026-06-07) in this channel, with its sections in its thread" in (
            block.plain
        )
        assert [s.url for s in block.spans if s.url] == ["post:slack:C1:1700.1"]

    def test_already_posted_says_how_to_post_again(self, publisher: Publisher) -> None:
        done = self.publication(publisher, PostOutcome(0, 9, True, "1700.1"))
        text = message_text(done.message())
        assert "is already in this channel" in text and "add --force" in text
        assert done.text().endswith(
            "is already in slack:C1: its thread (1700.1). Nothing was sent; "
            "add --force to post it again."
        )

    def test_a_finished_post_says_how_many_were_missing(self, publisher: Publisher) -> None:
        done = self.publication(publisher, PostOutcome(4, 9, False, None))
        assert done.message().blocks[0].plain.endswith(": 4 of 9 messages were missing.")
        assert all(s.url is None for s in done.message().blocks[0].spans)


@pytest.mark.slow
def test_cli_post_reuses_the_digest_a_chat_command_just_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`digestbot digest --post` follows the same rule as /digest: a digest of the window
    built within the hour (here, posted to another channel) is posted, not rebuilt. (Slow:
    the CLI's Slack poster paces itself at one message a second, as Slack asks.)"""
    database = tmp_path / "corpus.db"
    with FakeSlack(channels=("C0A", "C0B")) as fake:
        with open_corpus(database) as corpus:
            store_week(corpus)
            service = DigestService(corpus, TopicCatalog.with_builtins())
            bot_poster = SlackPoster(make_client("xoxb-test", fake.base_url), interval=0)
            Publisher(service, PostLedger(corpus), [bot_poster]).publish(
                "post-train", WINDOW, "slack:C0A", fetch=False
            )
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("DIGESTBOT_CONFIG", raising=False)
        monkeypatch.setenv("DIGESTBOT_DB", str(database))
        monkeypatch.setenv("DIGESTBOT_ARXIV_API_URL", "http://127.0.0.1:9/api/query")
        monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", fake.base_url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        argv = ["digest", "post-train", "--since", "2026-06-01", "--until", "2026-06-07"]
        argv.append("--no-fetch")
        assert main([*argv, "--post", "slack:C0B"]) == 0
        assert "Posted LLM Post-Train" in capsys.readouterr().err
        assert len(fake.posts("C0B")) == len(fake.posts("C0A")) == 9
        assert main([*argv, "--post", "slack:C0B"]) == 0
        assert "is already in slack:C0B" in capsys.readouterr().err
    with open_corpus(database) as corpus:
        assert len(corpus.digests("post-train")) == 1


class TestPresenting:
    def test_every_post_carries_the_permalink_and_the_chart(
        self, corpus: Corpus, clock: Clock, tmp_path: Path
    ) -> None:
        """Whatever triggers a post, the Publisher presents the digest it chose: the parent
        links the digest's page (with `[web] public_url`) and the chart follows the overview."""
        from bot.presentation import Presenter
        from digest.chart import ChartCache

        store_week(corpus)
        unreachable = ArxivSource(ArxivSettings(api_url="http://127.0.0.1:9/api/query", retries=0))
        service = DigestService(corpus, TopicCatalog.with_builtins(), unreachable, clock=clock)
        present = Presenter("https://digests.example.org", ChartCache(corpus, tmp_path))
        publisher = Publisher(service, PostLedger(corpus), [FakePoster()], present=present)

        publication = publisher.publish("post-train", WINDOW, CHANNEL)

        poster = sent(publisher)
        keys = poster.keys()
        assert keys[keys.index("overview") + 1] == "chart"
        parent = poster.sent[0]
        assert parent.key == "parent"
        assert f"https://digests.example.org/d/{publication.digest_id}" in parent.text
        # The stored digest stays as the engine wrote it: neither is part of its JSON.
        stored = corpus.get_digest(publication.digest_id)
        assert stored is not None and "permalink" not in stored.body
