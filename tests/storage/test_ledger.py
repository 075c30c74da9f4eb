"""The post ledger's claims: one owner at a time across processes, lapsing when the owner
dies or stops renewing; pending and failed posts, listed and cleared."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date

import pytest

from storage import Corpus
from storage.ledger import (
    DONE,
    FAILED,
    POSTING,
    SENDING,
    SENT,
    ClaimLost,
    LedgerKey,
    PostLedger,
    new_owner,
    owner_alive,
)

KEY = LedgerKey("slack:C1", "post-train", date(2026, 5, 28), date(2026, 6, 3))


def dead_owner() -> str:
    """The owner name a process of this host had, once that process has exited."""
    done = subprocess.run(
        [sys.executable, "-c", "from storage.ledger import new_owner; print(new_owner())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


class TestClaim:
    def test_a_live_owner_keeps_the_claim(self, corpus: Corpus) -> None:
        """Of two claimants, the second is refused while the first holds the post."""
        ledger = PostLedger(corpus)
        first, second = new_owner(), new_owner()

        assert ledger.claim(KEY, first)
        assert not ledger.claim(KEY, second)
        ledger.release(KEY, first, DONE)
        assert ledger.claim(KEY, second)

    def test_a_dead_owner_loses_the_claim_at_once(self, corpus: Corpus) -> None:
        """A claim held by a process of this host that has exited lapses without waiting
        for its lease."""
        ledger = PostLedger(corpus, lease_seconds=3600)
        gone = dead_owner()
        assert not owner_alive(gone)

        assert ledger.claim(KEY, gone)
        assert ledger.claim(KEY, new_owner())

    def test_an_unrenewed_lease_lapses(self, corpus: Corpus) -> None:
        """A live owner that stops renewing (stuck) loses the post when its lease ends."""
        ledger = PostLedger(corpus, lease_seconds=0.2)
        stuck, other = new_owner(), new_owner()
        assert ledger.claim(KEY, stuck)
        assert not ledger.claim(KEY, other)

        time.sleep(0.3)

        assert ledger.claim(KEY, other)
        with pytest.raises(ClaimLost):
            ledger.mark(KEY, "parent", 0, SENDING, owner=stuck)

    def test_only_the_holder_marks_parts(self, corpus: Corpus) -> None:
        """A mark by an owner that does not hold the claim changes nothing."""
        ledger = PostLedger(corpus)
        holder, intruder = new_owner(), new_owner()
        ledger.claim(KEY, holder)

        with pytest.raises(ClaimLost):
            ledger.mark(KEY, "parent", 0, SENDING, owner=intruder)
        ledger.mark(KEY, "parent", 0, SENDING, owner=holder)

        assert ledger.entries(KEY)["parent"].state == SENDING


class TestUnfinished:
    def test_a_post_cut_off_before_its_first_message_is_unfinished(self, corpus: Corpus) -> None:
        """Claimed by a process that died before it recorded any message: still resumed."""
        ledger = PostLedger(corpus)
        ledger.claim(KEY, dead_owner())

        assert ledger.entries(KEY) == {}
        assert ledger.unfinished() == [KEY]

    def test_a_post_in_progress_elsewhere_is_not_resumed(self, corpus: Corpus) -> None:
        ledger = PostLedger(corpus)
        ledger.claim(KEY, new_owner())
        ledger.mark(KEY, "parent", 0, SENDING)

        assert ledger.unfinished() == []

    def test_failed_and_done_posts_are_not_resumed(self, corpus: Corpus) -> None:
        ledger = PostLedger(corpus)
        other = LedgerKey("slack:C2", KEY.topic, KEY.since, KEY.until)
        for key, state in ((KEY, FAILED), (other, DONE)):
            owner = new_owner()
            ledger.claim(key, owner)
            ledger.mark(key, "parent", 0, SENDING, owner=owner)
            ledger.release(key, owner, state, "not_in_channel" if state == FAILED else "")

        assert ledger.unfinished() == []

    def test_a_released_pending_post_is_resumed(self, corpus: Corpus) -> None:
        ledger = PostLedger(corpus)
        owner = new_owner()
        ledger.claim(KEY, owner)
        ledger.mark(KEY, "parent", 0, SENT, message_ref="1.1", owner=owner)
        ledger.release(KEY, owner, POSTING, "Slack failed")

        assert ledger.unfinished() == [KEY]


class TestPostsList:
    def test_lists_pending_and_failed_and_clears_one(self, corpus: Corpus) -> None:
        ledger = PostLedger(corpus)
        owner = new_owner()
        ledger.claim(KEY, owner)
        ledger.mark(KEY, "parent", 0, SENT, message_ref="1.1", owner=owner)
        ledger.mark(KEY, "themes", 1, SENDING, owner=owner)
        ledger.release(KEY, owner, FAILED, "the bot is not a member of channel C1")

        (record,) = ledger.posts()
        assert (record.key, record.state, record.sent) == (KEY, FAILED, 1)
        assert "not a member" in record.error

        assert ledger.clear(record.id) == KEY
        assert ledger.posts() == [] and ledger.unfinished() == []
        assert ledger.entries(KEY)["parent"].state == SENT  # what is in the channel stays
        assert "themes" not in ledger.entries(KEY)
        assert ledger.clear(record.id) is None

    def test_fail_without_a_claim(self, corpus: Corpus) -> None:
        """An old record for a malformed target is marked failed and no longer resumed."""
        ledger = PostLedger(corpus)
        bad = LedgerKey("discord:general", "post-train", KEY.since, KEY.until)
        ledger.mark(bad, "parent", 0, SENDING)
        assert ledger.unfinished() == [bad]

        ledger.fail(bad, "not a Discord channel id")

        assert ledger.unfinished() == []
        assert [r.state for r in ledger.posts()] == [FAILED]
