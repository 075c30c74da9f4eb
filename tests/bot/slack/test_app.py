"""The Bolt app through Bolt's own dispatch: signed HTTP-mode requests, and transcripts of
`/digest` and mentions as the loopback Slack records them."""

from __future__ import annotations

import os
import sys
import threading
import time
from urllib.parse import parse_qsl

import pytest
from slack_bolt import BoltRequest

from bot.errors import ConfigError, PlatformError
from bot.slack.app import Jobs, build_app
from bot.slack.client import make_client
from bot.slack.poster import SlackPoster
from bot.slack.render import METADATA_EVENT
from tests.fakes.slack_server import FakeSlack
from tests.support.publishing import publisher_for
from tests.support.slack import (
    CHANNEL,
    HOSTILE,
    Answers,
    assert_inert,
    command_body,
    make_router,
    mention_body,
    papers,
    signed,
    slack_config,
    texts_of,
)

DIGEST = "post-train --since 2026-06-01 --until 2026-06-07"


def command(app, text: str, **kwargs) -> int:
    """Send a signed `/digest` and wait for the work behind it; the HTTP status of the ack."""
    response = app.dispatch(signed(command_body(text, **kwargs)))
    assert app.wait_idle(30)
    return response.status


def mention(app, text: str, **kwargs) -> int:
    response = app.dispatch(signed(mention_body(text, **kwargs), json_body=True))
    assert app.wait_idle(30)
    return response.status


def ephemeral_text(fake: FakeSlack) -> str:
    return "\n".join(t for args in fake.ephemerals() for t in texts_of(args))


class TestSignatures:
    def test_a_signed_command_is_acknowledged(self, app, fake) -> None:
        assert command(app, "help") == 200

    def test_a_bad_signature_is_refused_and_nothing_runs(self, app, fake) -> None:
        response = app.dispatch(signed(command_body(DIGEST), secret="not-the-secret"))
        assert response.status == 401
        assert app.wait_idle(5) and fake.posts() == [] and fake.ephemerals() == []

    def test_a_stale_timestamp_is_refused(self, app, fake) -> None:
        stale = int(time.time()) - 10 * 60
        response = app.dispatch(signed(command_body(DIGEST), timestamp=stale))
        assert response.status == 401
        assert app.wait_idle(5) and fake.posts() == []

    def test_an_unsigned_request_is_refused(self, app) -> None:
        from slack_bolt import BoltRequest

        response = app.dispatch(BoltRequest(body=command_body(DIGEST), headers={}))
        assert response.status == 401


class TestDigestCommand:
    def test_a_digest_is_one_parent_with_its_sections_in_the_thread(self, app, fake) -> None:
        assert command(app, DIGEST) == 200
        (parent,) = fake.top_level(CHANNEL)
        replies = fake.thread(CHANNEL, parent["ts"])
        keys = [m["metadata"]["event_payload"]["part"] for m in [parent, *replies]]
        assert keys[0] == "parent" and keys[-1] == "catalog" and "themes" in keys
        for args in fake.posts(CHANNEL):
            assert args["metadata"]["event_type"] == METADATA_EVENT
            assert args["unfurl_links"] is False and args["unfurl_media"] is False
        assert fake.ephemerals() == []

    def test_running_it_again_posts_nothing_new(self, app, fake) -> None:
        command(app, DIGEST)
        posted = len(fake.posts())
        command(app, DIGEST)
        assert len(fake.posts()) == posted
        (parent,) = fake.top_level(CHANNEL)
        text = ephemeral_text(fake)
        assert "already in this channel" in text and "--force" in text
        permalink = f"https://fake.slack.com/archives/{CHANNEL}/p{parent['ts'].replace('.', '')}"
        assert f"<{permalink}|its thread>" in text

    def test_a_digest_that_cannot_be_built_is_told_to_the_user_alone(self, app, fake) -> None:
        """A window the corpus lacks while arXiv is unreachable: nothing is posted, and the
        user alone is told which digest failed and why."""
        assert command(app, "post-train --since 2026-05-01 --until 2026-05-07") == 200
        assert fake.posts() == []
        text = ephemeral_text(fake)
        assert "I could not post the post-train digest for 2026-05-01" in text
        assert "arXiv" in text

    def test_force_posts_it_again(self, app, fake) -> None:
        command(app, DIGEST)
        command(app, DIGEST + " --force", user="UADMIN")
        assert len(fake.top_level(CHANNEL)) == 2

    def test_two_commands_at_once_make_one_thread(self, app, fake) -> None:
        for _ in range(3):
            app.dispatch(signed(command_body(DIGEST)))
        assert app.wait_idle(30)
        assert len(fake.top_level(CHANNEL)) == 1

    def test_help_is_ephemeral(self, app, fake) -> None:
        command(app, "help", user="U7")
        assert fake.posts() == []
        (shown,) = fake.ephemerals()
        assert shown["user"] == "U7" and shown["channel"] == CHANNEL
        assert "/digest ask QUESTION" in ephemeral_text(fake)

    def test_bad_input_is_answered_with_the_usage(self, app, fake) -> None:
        command(app, "post-train --since not-a-date")
        assert fake.posts() == []
        text = ephemeral_text(fake)
        assert "--since" in text and "/digest TOPIC" in text

    def test_an_unknown_topic_is_answered_with_the_usage(self, app, fake) -> None:
        command(app, "cooking")
        assert fake.posts() == [] and "cooking" in ephemeral_text(fake)

    def test_subscribing_needs_an_admin(self, app, fake) -> None:
        command(app, "subscribe post-train mon 09:00 UTC", user="U1")
        assert "Only the bot's admins" in ephemeral_text(fake)
        command(app, "subscribe post-train mon 09:00 UTC", user="UADMIN")
        assert any("Subscribed: post-train" in t for a in fake.posts() for t in texts_of(a))

    def test_a_channel_the_bot_is_not_in_is_told_through_the_response_url(self, app, fake) -> None:
        fake.add_channel("C0OUT", member=False)
        command(app, DIGEST, channel="C0OUT", response_url=fake.response_url("c1"))
        assert fake.posts() == []
        (reply,) = fake.responses()
        assert reply["response_type"] == "ephemeral"
        assert "not a member of channel C0OUT" in reply["text"] and "/invite" in reply["text"]

    def test_slow_work_is_announced(self, fake, poster, corpus) -> None:
        release = threading.Event()

        def slow(question, ids):
            release.wait(10)
            return Answers()(question, ids)

        router = make_router(corpus, papers(4), slow)  # type: ignore[arg-type]
        built = build_app(
            router,
            slack_config(fake.base_url),
            publisher=publisher_for(router),
            poster=poster,
            env={},
        )
        built.bot.notice_after = 0.05
        try:
            started = time.monotonic()
            response = built.dispatch(signed(command_body("ask what is new?")))
            assert response.status == 200 and time.monotonic() - started < 1.0
            assert fake.wait_for(lambda f: bool(f.ephemerals()), 5)
            assert "Working on it" in ephemeral_text(fake)
            release.set()
            assert built.wait_idle(10)
            assert any("You asked: what is new?" in t for a in fake.posts() for t in texts_of(a))
        finally:
            release.set()
            built.close()


class TestMentions:
    def test_a_question_in_a_digest_thread_is_answered_there_about_that_digest(
        self, app, fake, answers
    ) -> None:
        command(app, DIGEST)
        (parent,) = fake.top_level(CHANNEL)
        asked = fake.post_as_user(CHANNEL, "what about Method2?", "U2", parent["ts"])
        assert mention(app, "what does Method2 do?", ts=asked, thread_ts=parent["ts"]) == 200
        answer = fake.posts(CHANNEL)[-1]
        assert answer["thread_ts"] == parent["ts"]
        assert "You asked: what does Method2 do?" in answer["text"]
        question, context_ids = answers.asked[-1]
        assert question == "what does Method2 do?" and "2606.00002" in context_ids

    def test_a_question_in_the_channel_is_answered_in_a_thread_under_it(
        self, app, fake, answers
    ) -> None:
        asked = fake.post_as_user(CHANNEL, "<@U0BOT> tell me about 2606.00001", "U2")
        mention(app, "tell me about 2606.00001", ts=asked)
        (answer,) = fake.posts(CHANNEL)
        assert answer["thread_ts"] == asked
        assert answers.asked[-1][1] == ()

    def test_slack_redelivering_a_mention_answers_it_once(self, app, fake) -> None:
        asked = fake.post_as_user(CHANNEL, "<@U0BOT> hi?", "U2")
        mention(app, "what is GRPO?", ts=asked)
        mention(app, "what is GRPO?", ts=asked)
        assert len(fake.posts(CHANNEL)) == 1

    def test_slacks_escaping_is_undone_before_routing_and_redone_once(
        self, app, fake, answers
    ) -> None:
        """Slack sends "A&B <3" as "A&amp;B &lt;3"; the router sees what was typed and the
        answer shows it once escaped, not twice."""
        asked = fake.post_as_user(CHANNEL, "<@U0BOT> is A&amp;B &lt;3?", "U2")
        mention(app, "is A&amp;B &lt;3?", ts=asked)
        assert answers.asked[-1][0] == "is A&B <3?"
        assert "You asked: is A&amp;B &lt;3?" in fake.posts(CHANNEL)[0]["text"]

    def test_an_empty_mention_gets_a_hint(self, app, fake) -> None:
        asked = fake.post_as_user(CHANNEL, "<@U0BOT>", "U2")
        mention(app, "", ts=asked)
        (hint,) = fake.posts(CHANNEL)
        assert "Ask me about a paper" in hint["text"] and hint["thread_ts"] == asked

    def test_a_hostile_question_cannot_mention_or_link(self, app, fake) -> None:
        asked = fake.post_as_user(CHANNEL, "<@U0BOT> ...", "U2")
        mention(app, "what is this? " + HOSTILE, ts=asked)
        command(app, "ask " + HOSTILE)
        assert len(fake.posts(CHANNEL)) == 2
        assert_inert(fake.posts(CHANNEL))
        assert_inert(fake.ephemerals())


class TestBuilding:
    def test_a_missing_bot_token_is_a_config_error(self, fake, router) -> None:
        config = slack_config(fake.base_url, SLACK_BOT_TOKEN="")
        with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
            build_app(router, config, publisher=publisher_for(router), env={})

    def test_a_rejected_token_fails_at_start_in_words(self, fake, router) -> None:
        client = make_client("xoxb-wrong", fake.base_url)
        with pytest.raises(PlatformError, match="invalid_auth"):
            build_app(
                router, slack_config(fake.base_url), client, publisher=publisher_for(router), env={}
            )

    def test_http_mode_needs_the_signing_secret(self, fake, router) -> None:
        config = slack_config(fake.base_url, SLACK_SIGNING_SECRET="")
        with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
            build_app(router, config, publisher=publisher_for(router), env={})

    def test_socket_mode_does_not_need_the_signing_secret(self, fake, router) -> None:
        """Built without it, the app acknowledges and answers what arrives over the socket
        (unsigned there: the connection itself is authenticated)."""
        config = slack_config(fake.base_url, mode="socket", SLACK_SIGNING_SECRET="")
        built = build_app(router, config, publisher=publisher_for(router), env={})
        try:
            body = dict(parse_qsl(command_body("help")))
            response = built.dispatch(BoltRequest(body=body, mode="socket_mode"))
            assert response.status == 200
            assert built.wait_idle(10)
            shown = [text for e in fake.ephemerals() for text in texts_of(e)]
            assert any("/digest TOPIC" in text for text in shown), shown
        finally:
            built.close()

    def test_oauth_variables_would_change_the_app_and_are_refused(self, fake, router) -> None:
        env = {"SLACK_CLIENT_ID": "1", "SLACK_CLIENT_SECRET": "2"}
        with pytest.raises(ConfigError, match="unset them"):
            build_app(router, slack_config(fake.base_url), publisher=publisher_for(router), env=env)

    def test_the_config_builds_the_client(self, fake, router) -> None:
        built = build_app(
            router, slack_config(fake.base_url), publisher=publisher_for(router), env={}
        )
        try:
            assert built.bolt.client.base_url == fake.base_url
            assert [c.method for c in fake.calls()].count("auth.test") >= 1
        finally:
            built.close()


def test_a_poster_on_the_real_clock_is_the_default(fake, router) -> None:
    built = build_app(
        router,
        slack_config(fake.base_url),
        publisher=publisher_for(router),
        env={},
        jobs=Jobs(workers=1),
    )
    try:
        assert isinstance(built.bot.poster, SlackPoster) and built.bot.poster.pacer.interval == 1.0
    finally:
        built.close()


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are Linux's")
def test_the_work_behind_an_ack_runs_below_the_acking_thread(fake, router) -> None:
    """Digest builds are CPU-bound Python sharing the cores with the thread that acks: at
    equal priority a burst of parallel acks queued behind them (bench_slack_ack)."""
    built = build_app(router, slack_config(fake.base_url), publisher=publisher_for(router), env={})

    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    try:
        acking = priority()
        slow = built.bot.jobs._pool.submit(priority).result(10)
        quick = built.bot.quick._pool.submit(priority).result(10)
        assert acking == priority()  # the caller's own thread was left alone
        assert slow > quick > acking  # builds below quick commands, both below the acks
    finally:
        built.close()
