"""Exactly-once posting through the ledger, independent of any platform."""

from __future__ import annotations

from datetime import date

import pytest

from bot.errors import PlatformError
from bot.posting import post_digest, split_channel
from digest.windows import Window
from storage.ledger import SENDING, LedgerKey, PostLedger
from tests.fakes.poster import Crash, FakePoster
from tests.support.publishing import offline_digest as _digest

WINDOW = Window(date(2026, 5, 28), date(2026, 6, 3))


@pytest.fixture
def ledger(corpus) -> PostLedger:
    return PostLedger(corpus)


class TestPostDigest:
    def test_parent_then_every_section_in_its_thread(self, ledger) -> None:
        digest, poster = _digest(), FakePoster()
        outcome = post_digest(digest, "slack:C1", poster, ledger)
        keys = poster.keys()
        assert keys[0] == "parent" and poster.sent[0].thread is None
        assert keys[1:] == [s.key for s in digest.sections] + ["catalog"]
        assert {m.thread for m in poster.sent[1:]} == {outcome.thread_ref}
        assert outcome.sent == outcome.total == len(keys)

    def test_a_second_run_posts_nothing(self, ledger) -> None:
        digest, poster = _digest(), FakePoster()
        post_digest(digest, "slack:C1", poster, ledger)
        before = len(poster.sent)
        again = post_digest(digest, "slack:C1", poster, ledger)
        assert again.already_posted and again.sent == 0 and len(poster.sent) == before

    def test_force_posts_a_new_thread(self, ledger) -> None:
        digest, poster = _digest(), FakePoster()
        first = post_digest(digest, "slack:C1", poster, ledger)
        second = post_digest(digest, "slack:C1", poster, ledger, force=True)
        assert second.sent == first.sent and second.thread_ref != first.thread_ref

    def test_another_channel_gets_its_own_post(self, ledger) -> None:
        digest, poster = _digest(), FakePoster()
        post_digest(digest, "slack:C1", poster, ledger)
        outcome = post_digest(digest, "slack:C2", poster, ledger)
        assert not outcome.already_posted and outcome.sent == outcome.total

    @pytest.mark.parametrize("crash_after", [1, 2, 4, 7])
    def test_a_cut_off_post_is_completed_without_repeats(self, ledger, crash_after) -> None:
        """The process dies right after the k-th message reached the channel but before the
        ledger recorded it; the next run finds it on the platform and sends only the rest."""
        digest, poster = _digest(), FakePoster(crash_after=crash_after)
        with pytest.raises(Crash):
            post_digest(digest, "slack:C1", poster, ledger)
        entries = ledger.entries(LedgerKey("slack:C1", digest.topic, digest.since, digest.until))
        assert [e.state for e in entries.values()].count(SENDING) == 1
        post_digest(digest, "slack:C1", poster, ledger)
        keys = poster.keys()
        assert len(keys) == len(set(keys)), "a message was sent twice"
        assert keys == ["parent", *[s.key for s in digest.sections], "catalog"]
        assert len(poster.threads_opened) == 1

    def test_unfinished_lists_a_cut_off_post(self, ledger) -> None:
        digest, poster = _digest(), FakePoster(crash_after=3)
        with pytest.raises(Crash):
            post_digest(digest, "slack:C1", poster, ledger)
        assert ledger.unfinished() == [
            LedgerKey("slack:C1", "post-train", WINDOW.since, WINDOW.until)
        ]

    def test_channel_of_another_platform_is_refused(self, ledger) -> None:
        with pytest.raises(PlatformError, match="not a slack channel"):
            post_digest(_digest(), "discord:123", FakePoster(), ledger)


class TestSplitChannel:
    def test_forms(self) -> None:
        assert split_channel("slack:C0123") == ("slack", "C0123")
        assert split_channel("discord:123456") == ("discord", "123456")

    @pytest.mark.parametrize("bad", ["C0123", "irc:#x", "slack:", ""])
    def test_bad_channels_say_how_to_write_them(self, bad: str) -> None:
        with pytest.raises(PlatformError, match="write slack:CHANNEL_ID"):
            split_channel(bad)
