"""`SlackPoster` with the real slack_sdk against the loopback Slack: threads, the ledger,
rate limits, pacing, errors, finding what a crashed run sent."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from bot.config import parse_config
from bot.errors import ConfigError, PlatformError
from bot.posting import Part, post_digest
from bot.slack.client import make_client
from bot.slack.poster import SlackPoster
from bot.slack.render import METADATA_EVENT, SlackFile, SlackMessage
from digest.render import Block, Message, Span
from digest.windows import Window
from storage.ledger import SENDING, LedgerKey, PostLedger
from tests.fakes.slack_server import FakeSlack
from tests.support.slack import CHANNEL, WINDOW, ManualClock, assert_inert, build_digest, papers

CH = f"slack:{CHANNEL}"


@pytest.fixture
def ledger(corpus) -> PostLedger:
    return PostLedger(corpus)


def part_keys(fake: FakeSlack, thread_ts: str) -> list[str]:
    return [
        m["metadata"]["event_payload"]["part"]
        for m in fake.thread(CHANNEL, thread_ts)
        if "metadata" in m
    ]


class TestPostingADigest:
    def test_one_parent_and_every_section_in_its_thread(self, fake, poster, ledger) -> None:
        digest = build_digest(papers(8))
        outcome = post_digest(digest, CH, poster, ledger)
        (parent,) = fake.top_level(CHANNEL)
        assert (
            outcome.thread_ref == parent["ts"]
            and parent["metadata"]["event_payload"]["part"] == "parent"
        )
        expected = [p.key for p in poster.render(digest)]
        assert ["parent", *part_keys(fake, parent["ts"])] == expected
        posts = fake.posts(CHANNEL)
        assert len(posts) == len(expected) == outcome.sent
        assert "thread_ts" not in posts[0]
        for args in posts[1:]:
            assert args["thread_ts"] == parent["ts"]
        for args in posts:
            assert args["unfurl_links"] is False and args["unfurl_media"] is False
            assert args["metadata"]["event_type"] == METADATA_EVENT
            assert len(args["text"]) <= 4000

    def test_a_second_run_posts_nothing(self, fake, poster, ledger) -> None:
        digest = build_digest(papers(8))
        post_digest(digest, CH, poster, ledger)
        before = len(fake.calls())
        again = post_digest(digest, CH, poster, ledger)
        assert again.already_posted and again.sent == 0
        assert len(fake.calls()) == before

    def test_force_posts_a_second_thread(self, fake, poster, ledger) -> None:
        digest = build_digest(papers(8))
        first = post_digest(digest, CH, poster, ledger)
        second = post_digest(digest, CH, poster, ledger, force=True)
        assert second.thread_ref != first.thread_ref and len(fake.top_level(CHANNEL)) == 2

    def test_a_large_week_uploads_its_catalog_into_the_thread(self, fake, poster, ledger) -> None:
        digest = build_digest(papers(90))
        outcome = post_digest(digest, CH, poster, ledger)
        last = fake.thread(CHANNEL, outcome.thread_ref)[-1]
        (shared,) = last["files"]
        assert shared["name"] == "post-train-2026-06-01-2026-06-07-papers.txt"
        content = fake.uploaded(shared["id"]).decode()
        assert all(f"https://arxiv.org/abs/{p.id}" in content for p in digest.papers)
        (complete,) = fake.calls("files.completeUploadExternal")
        assert complete.args["thread_ts"] == outcome.thread_ref
        assert (
            ledger.entries(LedgerKey(CH, "post-train", WINDOW.since, WINDOW.until))[
                "catalog"
            ].message_ref
            == shared["id"]
        )

    def test_hostile_papers_reach_slack_inert(self, fake, poster, ledger) -> None:
        post_digest(build_digest(papers(8, hostile=True)), CH, poster, ledger)
        assert_inert(fake.posts(CHANNEL))


class TestRateLimits:
    def test_a_429_is_retried_after_its_retry_after(self, fake, poster, clock) -> None:
        fake.rate_limit("chat.postMessage", retry_after=7)
        ts = poster.post_message(CHANNEL, SlackMessage("hi", ()))
        attempts = fake.calls("chat.postMessage")
        assert [c.status for c in attempts] == [429, 200] and attempts[1].response["ts"] == ts
        assert 7 in clock.sleeps
        assert len(fake.messages(CHANNEL)) == 1

    def test_endless_429s_end_in_one_clear_sentence(self, fake, poster) -> None:
        fake.rate_limit("chat.postMessage", retry_after=1, times=10)
        with pytest.raises(PlatformError, match="rate-limiting"):
            poster.post_message(CHANNEL, SlackMessage("hi", ()))
        assert fake.messages(CHANNEL) == []

    def test_posts_to_one_channel_are_a_second_apart(self, fake, poster, clock) -> None:
        starts = []
        for _ in range(3):
            starts.append(clock())
            poster.post_message(CHANNEL, SlackMessage("hi", ()))
        poster.post_message("C0OTHER", SlackMessage("elsewhere", ()))
        assert clock.sleeps == [1.0, 1.0]  # the other channel did not wait

    def test_a_real_clock_paces_too(self, fake) -> None:
        import time

        client = make_client("xoxb-test", fake.base_url)
        paced = SlackPoster(client, interval=0.2)
        started = time.monotonic()
        for _ in range(3):
            paced.post_message(CHANNEL, SlackMessage("hi", ()))
        assert time.monotonic() - started >= 0.4


class TestErrors:
    def test_not_in_channel(self, fake, poster) -> None:
        fake.add_channel("C0PRIV", member=False)
        with pytest.raises(PlatformError, match=r"not a member of channel C0PRIV.*/invite"):
            poster.post_message("C0PRIV", SlackMessage("hi", ()))

    def test_channel_not_found(self, poster) -> None:
        with pytest.raises(PlatformError, match="cannot find channel C0NOPE"):
            poster.post_message("C0NOPE", SlackMessage("hi", ()))

    def test_a_bad_token_says_which_token_and_never_shows_it(self, fake, caplog) -> None:
        secret = "xoxb-not-the-right-one-123456"
        poster = SlackPoster(make_client(secret, fake.base_url), interval=0)
        with caplog.at_level(logging.DEBUG), pytest.raises(PlatformError) as raised:
            poster.post_message(CHANNEL, SlackMessage("hi", ()))
        assert "invalid_auth" in str(raised.value) and "SLACK_BOT_TOKEN" in str(raised.value)
        assert secret not in str(raised.value) and secret not in caplog.text

    def test_a_missing_scope_names_it(self, fake, poster) -> None:
        fake.fail("conversations.history", "missing_scope", needed="channels:history")
        part = Part(
            "parent", SlackMessage("x", (), {"event_type": METADATA_EVENT, "event_payload": {}})
        )
        with pytest.raises(PlatformError, match="lacks the channels:history scope"):
            poster.find_sent(CHANNEL, None, part)

    def test_slack_unreachable(self) -> None:
        poster = SlackPoster(make_client("xoxb-test", "http://127.0.0.1:9/api/"), interval=0)
        with pytest.raises(
            PlatformError, match=r"cannot reach Slack at http://127\.0\.0\.1:9/api/"
        ):
            poster.post_message(CHANNEL, SlackMessage("hi", ()))


class TestReplies:
    def test_neutral_messages_are_rendered_and_posted_in_order(self, fake, poster) -> None:
        parent = poster.post_message(CHANNEL, SlackMessage("parent", ()))
        link = Span("the digest", url=f"post:slack:{CHANNEL}:{parent}")
        notice = Message("notice", "Admins", (Block("paragraph", (Span("See "), link)),))
        (ts,) = poster.post_reply(CHANNEL, [notice], thread_ts=parent)
        posted = fake.posts(CHANNEL)[-1]
        assert posted["thread_ts"] == parent and fake.thread(CHANNEL, parent)[0]["ts"] == ts
        permalink = f"https://fake.slack.com/archives/{CHANNEL}/p{parent.replace('.', '')}"
        assert f"See <{permalink}|the digest>" in posted["text"]


class TestFromConfig:
    def test_a_missing_bot_token_is_a_config_error(self, fake) -> None:
        config = parse_config({}, {"DIGESTBOT_SLACK_API_URL": fake.base_url})
        with pytest.raises(ConfigError, match=r"\$SLACK_BOT_TOKEN is not set"):
            SlackPoster.from_config(config)

    def test_the_configured_api_url_and_token_are_used(self, fake) -> None:
        env = {"SLACK_BOT_TOKEN": "xoxb-test", "DIGESTBOT_SLACK_API_URL": fake.base_url.rstrip("/")}
        poster = SlackPoster.from_config(parse_config({}, env))
        assert poster.client.base_url == fake.base_url
        poster.post_message(CHANNEL, SlackMessage("hi", ()))
        assert fake.posts(CHANNEL)[0]["text"] == "hi"


class TestFindingWhatWasSent:
    def test_parts_are_found_by_their_metadata(self, fake, poster, ledger) -> None:
        digest = build_digest(papers(8))
        outcome = post_digest(digest, CH, poster, ledger)
        parts = poster.render(digest)
        assert poster.find_sent(CHANNEL, None, parts[0]) == outcome.thread_ref
        replies = fake.thread(CHANNEL, outcome.thread_ref)
        assert poster.find_sent(CHANNEL, outcome.thread_ref, parts[3]) == replies[2]["ts"]
        # The same part of another week's digest is not this one.
        other = build_digest(papers(8), Window(date(2026, 5, 25), date(2026, 5, 31)))
        assert poster.find_sent(CHANNEL, outcome.thread_ref, poster.render(other)[3]) is None

    def test_a_part_left_sending_is_not_posted_twice(self, fake, poster, ledger) -> None:
        """The run died after Slack took message 3 but before the ledger said so."""
        digest = build_digest(papers(8))
        parts = poster.render(digest)
        key = LedgerKey(CH, "post-train", WINDOW.since, WINDOW.until)
        parent = poster.send(CHANNEL, parts[0], None)
        ledger.mark(key, "parent", 0, "sent", message_ref=parent, thread_ref=parent)
        for position, part in enumerate(parts[1:3], start=1):
            ledger.mark(
                key,
                part.key,
                position,
                "sent",
                message_ref=poster.send(CHANNEL, part, parent),
                thread_ref=parent,
            )
        poster.send(CHANNEL, parts[3], parent)
        ledger.mark(key, parts[3].key, 3, SENDING, thread_ref=parent)
        post_digest(digest, CH, poster, ledger)
        assert part_keys(fake, parent) == [p.key for p in parts[1:]]

    def test_history_is_read_page_by_page(self, fake, poster) -> None:
        meta = {
            "event_type": METADATA_EVENT,
            "event_payload": {"part": "parent", "topic": "t", "since": "a", "until": "b"},
        }
        wanted = poster.post_message(CHANNEL, SlackMessage("old", (), meta))
        for i in range(250):
            fake.post_as_user(CHANNEL, f"chatter {i}", "U2")
        assert (
            poster.find_sent(CHANNEL, None, Part("parent", SlackMessage("x", (), meta))) == wanted
        )
        assert len(fake.calls("conversations.history")) == 2

    def test_a_file_is_found_by_its_name(self, fake, poster) -> None:
        parent = poster.post_message(CHANNEL, SlackMessage("parent", ()))
        file = SlackFile("t-papers.txt", "Catalog", "a\nb\n", "*Catalog*")
        file_id = poster.upload_file(CHANNEL, file, parent)
        assert poster.find_sent(CHANNEL, parent, Part("catalog", file)) == file_id

    def test_a_permalink_of_our_own_message(self, fake, poster) -> None:
        ts = poster.post_message(CHANNEL, SlackMessage("parent", ()))
        link = poster.permalink(f"post:slack:{CHANNEL}:{ts}")
        assert link == f"https://fake.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}"
        assert poster.permalink(f"post:slack:{CHANNEL}:1.2") is None
        assert poster.permalink("post:discord:123:456") is None


def test_manual_clock_is_a_clock() -> None:
    clock = ManualClock()
    clock.sleep(2)
    assert clock() == 1002.0
