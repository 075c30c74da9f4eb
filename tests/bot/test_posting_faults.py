"""Posting through faults: a post cut off mid-thread is finished in-process after a back-off
and the admins are told truthfully what is in the channel; a permanent refusal marks the
post failed instead of resuming it forever; a malformed target is never recorded; a post
cut off before its first message was recorded is still found."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.errors import ChannelMalformed, PlatformError, PlatformRefused, UsageError
from bot.posting import Part, PostCutOff, post_digest, split_channel
from bot.scheduler import Due
from digest.model import Digest
from storage.ledger import FAILED, POSTING, LedgerKey, PostLedger
from tests.fakes.poster import Crash, FakePoster
from tests.support.publishing import offline_digest as _digest
from tests.support.runtime import MONDAY_NINE, SUB, WINDOW, make_runtime


@dataclass
class FlakyPoster(FakePoster):
    """Fails the send after `fail_after` successful ones, `times` times, with `error`."""

    fail_after: int = 0
    times: int = 0
    error: Exception | None = None

    def send(self, channel_id: str, part: Part, thread_ref: str | None) -> str:
        if self.times and len(self.sent) >= self.fail_after:
            self.times -= 1
            assert self.error is not None
            raise self.error
        return super().send(channel_id, part, thread_ref)


@dataclass
class CrashingRender(FakePoster):
    """Dies while rendering: after the post was claimed, before any message was recorded."""

    def render(self, digest: Digest) -> list[Part]:
        raise Crash("died before the first message")


@pytest.fixture
def ledger(corpus) -> PostLedger:
    return PostLedger(corpus)


@pytest.fixture
def runtime(corpus):
    return make_runtime(corpus)


class TestCutOff:
    def test_a_failure_says_what_is_in_the_channel(self, ledger) -> None:
        digest = _digest()
        flaky = FlakyPoster(fail_after=3, times=1, error=PlatformError("Slack failed (HTTP 500)"))

        with pytest.raises(PostCutOff) as caught:
            post_digest(digest, "slack:C1", flaky, ledger)

        err = caught.value
        assert err.in_channel == ["parent", "themes", "methods"] and not err.permanent
        assert "parent, themes, methods (3 of 9 messages)" in err.what_is_where()
        assert "not posted: notable" in err.what_is_where()
        key = LedgerKey("slack:C1", digest.topic, digest.since, digest.until)
        assert ledger.unfinished() == [key]
        assert [r.state for r in ledger.posts()] == [POSTING]

    def test_a_permanent_refusal_is_marked_failed_not_resumed(self, ledger) -> None:
        refused = PlatformRefused("Slack refused: the bot is not a member of channel C0NOTIN")
        flaky = FlakyPoster(fail_after=0, times=1, error=refused)

        with pytest.raises(PostCutOff) as caught:
            post_digest(_digest(), "slack:C0NOTIN", flaky, ledger)

        assert caught.value.permanent
        assert "Nothing of it reached slack:C0NOTIN" in caught.value.what_is_where()
        assert ledger.unfinished() == []
        (record,) = ledger.posts()
        assert record.state == FAILED and "not a member" in record.error

    def test_a_post_cut_off_before_its_first_message_is_found(self, ledger) -> None:
        digest = _digest()
        with pytest.raises(Crash):
            post_digest(digest, "slack:C1", CrashingRender(), ledger)

        assert ledger.unfinished() == [
            LedgerKey("slack:C1", digest.topic, digest.since, digest.until)
        ]


class TestMalformedTargets:
    @pytest.mark.parametrize(
        "target", ["discord:general", "slack:#general", "slack:general", "discord:12ab"]
    )
    def test_never_recorded(self, ledger, target: str) -> None:
        with pytest.raises(ChannelMalformed, match="channel id"):
            post_digest(_digest(), target, FakePoster(platform=target.split(":")[0]), ledger)

        assert ledger.unfinished() == [] and ledger.posts() == []

    def test_a_malformed_target_is_a_user_mistake(self) -> None:
        with pytest.raises(UsageError):
            split_channel("discord:general")


class TestInProcessResume:
    def test_a_weekly_post_cut_off_is_finished_after_a_back_off(self, runtime) -> None:
        flaky = FlakyPoster(fail_after=3, times=2, error=PlatformError("Slack failed (HTTP 503)"))
        runtime.publisher.add_poster(flaky)
        pauses: list[float] = []
        runtime.retry_delays, runtime._sleep = (1.0, 5.0, 25.0), pauses.append

        runtime.run_due(Due(SUB, MONDAY_NINE))

        keys = flaky.keys()
        assert len(keys) == len(set(keys)) == 9 and keys[0] == "parent"
        assert pauses == [1.0, 5.0]
        assert runtime.notices == []
        assert runtime.publisher.ledger.unfinished() == []

    def test_when_retries_run_out_the_notice_says_what_is_where(self, runtime) -> None:
        flaky = FlakyPoster(fail_after=3, times=99, error=PlatformError("Slack failed (HTTP 503)"))
        runtime.publisher.add_poster(flaky)
        runtime.retry_delays, runtime._sleep = (1.0, 2.0), lambda _s: None

        runtime.run_due(Due(SUB, MONDAY_NINE))

        (notice,) = runtime.notices
        assert "Nothing half-done was left" not in notice
        assert "In slack:C1 now: parent, themes, methods (3 of 9 messages)" in notice
        assert "not posted: notable" in notice
        assert len(flaky.sent) == 3
        assert runtime.publisher.ledger.unfinished() == [
            LedgerKey(SUB.channel, SUB.topic, WINDOW.since, WINDOW.until)
        ]

    def test_a_permanent_failure_is_not_retried_and_not_resumed(self, runtime) -> None:
        refused = PlatformRefused("Slack cannot find channel C1 (check the channel id)")
        flaky = FlakyPoster(fail_after=0, times=99, error=refused)
        runtime.publisher.add_poster(flaky)
        pauses: list[float] = []
        runtime._sleep = pauses.append

        runtime.run_due(Due(SUB, MONDAY_NINE))

        assert pauses == []
        (notice,) = runtime.notices
        assert "will not be retried" in notice and "digestbot posts" in notice
        assert runtime.resume_unfinished() == 0 and flaky.sent == []

    def test_an_old_record_of_a_malformed_target_stops_being_resumed(self, runtime) -> None:
        bad = LedgerKey("discord:general", "post-train", WINDOW.since, WINDOW.until)
        runtime.publisher.ledger.mark(bad, "parent", 0, "sending")

        assert runtime.resume_unfinished() == 0
        assert runtime.publisher.ledger.unfinished() == []
        assert [r.state for r in runtime.publisher.ledger.posts()] == [FAILED]
