"""Transcript tests of the command router: `/digest ...` text in, a neutral reply out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.commands import USAGE, Context, Reply, Router, parse_window
from bot.config import Subscription
from bot.errors import UsageError
from bot.publisher import PostRequest, Publication
from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.render import Block, Message, Span
from digest.service import DigestService
from digest.topics import POST_TRAIN, TopicCatalog
from digest.windows import Window
from storage import FetchRecord
from storage.ledger import PostLedger
from storage.subscriptions import SubscriptionStore
from tests.fakes.poster import FakePoster
from tests.support.papers import make_paper
from tests.support.publishing import publisher_for

NOW = datetime(2026, 6, 8, 9, 0, tzinfo=UTC)  # a Monday; default window 06-01..06-07
WINDOW = Window(date(2026, 6, 1), date(2026, 6, 7))
USER = Context("slack", "U1", "slack:C1")
ADMIN = Context("slack", "UADMIN", "slack:C1", is_admin=True)
ADMIN_CONF = Context("slack", "UADMIN", "slack:CCONF", is_admin=True)


def publish(router: Router, reply: Reply) -> Publication:
    """Post what the router asked for, as an adapter does."""
    assert reply.post is not None
    return publisher_for(router, FakePoster()).publish_request(reply.post, USER.channel)


def text_of(reply) -> str:
    return "\n".join(block.plain for message in reply.messages for block in message.blocks)


@pytest.fixture
def router(corpus) -> Router:
    papers = [
        make_paper(
            f"2606.0000{i}",
            title=f"Tool{i}: Reward Models for LLM Post-Training",
            abstract="We propose a reward model for post-training large language models. "
            "Experiments with DPO show gains.",
            published=datetime(2026, 6, 2, 12, tzinfo=UTC),
        )
        for i in range(1, 5)
    ]
    query = POST_TRAIN.window_query(*WINDOW.arxiv_range())
    # A complete fetch on record: the router must not need arXiv for this window.
    corpus.store_fetch(
        papers, FetchRecord("post-train", WINDOW.since, WINDOW.until, query, NOW, True, 4)
    )
    unreachable = ArxivSource(ArxivSettings(api_url="http://127.0.0.1:9/api/query", retries=0))
    service = DigestService(corpus, TopicCatalog.with_builtins(), unreachable, clock=lambda: NOW)
    asked: list[tuple[str, tuple[str, ...]]] = []

    def answer(question, context_ids):
        asked.append((question, tuple(context_ids)))
        return [Message("answer", "", (Block("paragraph", (Span(f"answer to {question}"),)),))]

    made = Router(
        service=service,
        subscriptions=SubscriptionStore(corpus),
        ledger=PostLedger(corpus),
        answer=answer,
        config_subscriptions=(Subscription("slack:CCONF", "post-train"),),
        clock=lambda: NOW,
    )
    made.asked = asked  # type: ignore[attr-defined]
    return made


class TestDigestCommand:
    def test_topic_asks_to_post_the_latest_window(self, router) -> None:
        reply = router.route("post-train", USER)
        assert reply.post == PostRequest("post-train", WINDOW, force=False)
        assert not reply.ephemeral and reply.messages == ()

    def test_the_router_builds_nothing(self, router) -> None:
        """Which digest to post (stored or new) is the Publisher's rule, applied when posting."""
        router.route("post-train", USER)
        assert router.service.corpus.digests("post-train") == []

    @pytest.mark.parametrize(
        ("words", "window"),
        [
            ("last week", WINDOW),
            ("2 weeks ago", Window(date(2026, 5, 18), date(2026, 5, 24))),
            ("--since 2026-05-01 --until 2026-05-03", Window(date(2026, 5, 1), date(2026, 5, 3))),
        ],
    )
    def test_the_window_is_passed_on(self, router, words: str, window: Window) -> None:
        reply = router.route(f"post-train {words}", USER)
        assert reply.post is not None and reply.post.window == window

    def test_force_flag_is_passed_on(self, router) -> None:
        reply = router.route("post-train --force", ADMIN)
        assert reply.post is not None and reply.post.force

    @pytest.mark.parametrize(
        "text",
        ["nope", "post-train next year", "post-train --since 2026-13-01", "post-train --since"],
    )
    def test_bad_input_gets_ephemeral_usage(self, router, text: str) -> None:
        reply = router.route(text, USER)
        assert reply.ephemeral and reply.post is None
        assert "/digest TOPIC" in text_of(reply)

    @pytest.mark.parametrize("text", ["", "help", "--help"])
    def test_help(self, router, text: str) -> None:
        reply = router.route(text, USER)
        assert reply.ephemeral and text_of(reply) == USAGE.replace("\n\n", "\n")


class TestInformation:
    def test_topics_lists_the_query(self, router) -> None:
        assert POST_TRAIN.query() in text_of(router.route("topics", USER))

    def test_status(self, router) -> None:
        publish(router, router.route("post-train", USER))
        text = text_of(router.route("status", USER))
        assert "Corpus: 4 papers." in text and "Subscriptions in this channel: 0" in text
        assert "Latest post-train digest: 2026-06-01 to 2026-06-07" in text

    def test_status_lists_a_subscription_once(self, router) -> None:
        """A chat subscription for the channel and topic of a config one replaces it, as in
        the scheduler: one subscription, the chat one's schedule."""
        router.route("subscribe post-train tue 10:00", ADMIN)
        router.route("subscribe post-train wed 11:00", ADMIN_CONF)
        text = text_of(router.route("status all", ADMIN))
        assert "Subscriptions in all channels: 2: " in text
        assert "post-train to slack:CCONF wed 11:00 UTC" in text
        assert "mon 09:00" not in text

    def test_history(self, router) -> None:
        assert "No digest of post-train yet" in text_of(router.route("history post-train", USER))
        publish(router, router.route("post-train", USER))
        assert "2026-06-01 to 2026-06-07: 4 papers, offline" in text_of(
            router.route("history post-train", USER)
        )


class TestQuestions:
    def test_ask_passes_the_question(self, router) -> None:
        reply = router.route("ask which papers use DPO?", USER)
        assert text_of(reply) == "answer to which papers use DPO?"

    def test_mentions_drop_the_bot_mention_and_neutralise(self, router) -> None:
        router.mention("<@UBOT> what is Tool1? @everyone <!channel>", USER)
        question, _ = router.asked[-1]
        assert question == "what is Tool1? everyone" and "@" not in question

    def test_a_question_in_a_digest_thread_prefers_its_papers(self, router) -> None:
        outcome = publish(router, router.route("post-train", USER)).outcome
        router.mention(
            "what does Tool2 do?", Context("slack", "U1", "slack:C1", outcome.thread_ref)
        )
        _, context_ids = router.asked[-1]
        assert set(context_ids) == {f"2606.0000{i}" for i in range(1, 5)}

    def test_empty_and_huge_questions(self, router) -> None:
        assert router.route("ask", USER).ephemeral
        router.route("ask " + "x " * 10_000, USER)
        assert len(router.asked[-1][0]) <= 2000


class TestSubscriptions:
    def test_only_admins_subscribe(self, router) -> None:
        reply = router.route("subscribe post-train mon 09:00 Europe/Berlin", USER)
        assert reply.ephemeral and "Only the bot's admins" in text_of(reply)
        assert router.subscriptions.all() == []

    def test_subscribe_and_unsubscribe(self, router) -> None:
        changed = []
        router.on_subscriptions_changed = lambda: changed.append(1)
        reply = router.route("subscribe post-train weekly Tuesday 8:30 Europe/Berlin", ADMIN)
        assert "every tue at 08:30 (Europe/Berlin)" in text_of(reply)
        (stored,) = router.subscriptions.all()
        assert (stored.channel, stored.weekday, stored.time, stored.created_by) == (
            "slack:C1",
            "tue",
            "08:30",
            "UADMIN",
        )
        assert "Unsubscribed: 1" in text_of(router.route("unsubscribe post-train", ADMIN))
        assert changed == [1, 1]

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("subscribe nope", "is not a topic"),
            ("subscribe post-train mon 09:00 Mars/Base", "not an IANA time zone"),
            ("subscribe post-train mon 25:00", "24-hour HH:MM"),
            ("subscribe", "subscribe to which topic"),
        ],
    )
    def test_bad_subscriptions(self, router, text: str, message: str) -> None:
        reply = router.route(text, ADMIN)
        assert reply.ephemeral and message in text_of(reply)

    def test_config_subscriptions_are_not_removed_from_chat(self, router) -> None:
        reply = router.route(
            "unsubscribe", Context("slack", "UADMIN", "slack:CCONF", is_admin=True)
        )
        assert "comes from the config file" in text_of(reply)


class TestParseWindow:
    TODAY = Window(date(2026, 11, 20), date(2026, 11, 26))

    @pytest.mark.parametrize(
        ("words", "expected"),
        [
            ("", (date(2026, 11, 20), date(2026, 11, 26))),
            ("latest", (date(2026, 11, 20), date(2026, 11, 26))),
            ("last week", (date(2026, 11, 20), date(2026, 11, 26))),
            ("a week ago", (date(2026, 11, 13), date(2026, 11, 19))),
            ("2 weeks ago", (date(2026, 11, 6), date(2026, 11, 12))),
            ("last 2 weeks", (date(2026, 11, 13), date(2026, 11, 26))),
            ("--since 2026-05-28 --until 2026-06-03", (date(2026, 5, 28), date(2026, 6, 3))),
            ("--until 2026-06-03", (date(2026, 5, 28), date(2026, 6, 3))),
        ],
    )
    def test_windows(self, words: str, expected) -> None:
        window, force = parse_window(words.split(), self.TODAY)
        assert (window.since, window.until) == expected and not force

    def test_dates_and_words_together_are_refused(self) -> None:
        with pytest.raises(UsageError, match="not both"):
            parse_window("--since 2026-05-28 latest".split(), self.TODAY)


class TestChatLimits:
    """What chat may ask of the bot: --force and other channels' subscriptions are for
    admins, windows have a maximum length, each user a rate, and tokens are never echoed."""

    def test_force_from_chat_is_for_admins_only(self, router) -> None:
        reply = router.route("post-train --force", USER)
        assert reply.post is None and reply.ephemeral
        assert "Only the bot's admins can use --force" in text_of(reply)
        admin = router.route("post-train --force", ADMIN)
        assert admin.post is not None and admin.post.force

    def test_a_window_from_chat_is_at_most_31_days(self, router) -> None:
        reply = router.route("post-train --since 2026-01-01 --until 2026-06-07", USER)
        assert reply.post is None and reply.ephemeral
        assert "at most 31 days" in text_of(reply)
        # 31 days exactly is allowed: it becomes a request for the Publisher to post
        ok = router.route("post-train --since 2026-05-08 --until 2026-06-07", USER)
        assert ok.post is not None and (ok.post.window.until - ok.post.window.since).days == 30
        router.max_window_days = 7
        assert "at most 7 days" in text_of(router.route("post-train last 2 weeks", USER))

    def test_each_user_has_a_rate_limit_answered_ephemerally(self, router) -> None:
        router.commands_per_minute = 3
        for _ in range(3):
            assert "How to use" in router.route("help", USER).messages[0].title
        refused = router.route("topics", USER)
        assert refused.ephemeral and "wait" in text_of(refused)
        assert "post-train" not in text_of(refused)
        # another user is not held up by the first one's commands
        other = Context("slack", "U2", "slack:C1")
        assert "post-train" in text_of(router.route("topics", other))
        # nor is the same id on another platform
        discord_user = Context("discord", "U1", "discord:1")
        assert "post-train" in text_of(router.route("topics", discord_user))

    def test_the_rate_window_moves_with_the_clock(self, router) -> None:
        now = [NOW]
        router.clock = lambda: now[0]
        router.commands_per_minute = 2
        router.route("help", USER)
        router.route("help", USER)
        assert "wait" in text_of(router.route("help", USER))
        now[0] = NOW + timedelta(seconds=61)
        assert "wait" not in text_of(router.route("help", USER))

    def test_status_shows_the_asking_channels_subscriptions_only(self, router) -> None:
        here = Context("slack", "U1", "slack:CCONF")
        text = text_of(router.route("status", here))
        assert "Subscriptions in this channel: 1" in text and "slack:CCONF" in text
        elsewhere = text_of(router.route("status", USER))
        assert "Subscriptions in this channel: 0" in elsewhere and "CCONF" not in elsewhere

    def test_admins_may_ask_for_every_channel(self, router) -> None:
        assert "CCONF" in text_of(router.route("status all", ADMIN))
        refused = router.route("status all", USER)
        assert refused.ephemeral and "CCONF" not in text_of(refused)

    @pytest.mark.parametrize(
        "token",
        [
            "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "xapp-1-A0123456789-1234567890123-abcdef0123456789",
            "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
            "MTA5ODc2NTQzMjEwOTg3NjU0.GaBcDe.AbCdEfGhIjKlMnOpQrStUvWxYz0123456",
        ],
    )
    def test_a_token_typed_into_a_command_is_not_echoed(self, router, token: str) -> None:
        for reply in (
            router.route(f"ask is {token} my key?", USER),
            router.mention(f"<@UBOT> what about {token}", USER),
            router.route(f"post-train {token}", USER),
        ):
            assert reply.ephemeral and reply.post is None
            assert token not in text_of(reply) and token[:12] not in text_of(reply)
        assert router.asked == []  # nothing was answered (publicly) with it
