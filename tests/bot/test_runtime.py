"""The bot's posting duties: weekly runs exactly once, resuming cut-off posts, admin notices."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from bot.config import Subscription
from bot.errors import PlatformError
from bot.run import AdminNotices
from bot.scheduler import Due
from digest.render import Message
from tests.fakes.poster import Crash
from tests.support.runtime import MONDAY_NINE, SUB, make_runtime, poster


@pytest.fixture
def runtime(corpus):
    return make_runtime(corpus)


class TestWeeklyRun:
    def test_posts_the_window_of_the_week_it_was_scheduled_for(self, runtime) -> None:
        runtime.run_due(Due(SUB, MONDAY_NINE))
        keys = poster(runtime).keys()
        assert keys[0] == "parent" and keys[-1] == "catalog" and len(keys) == 9
        assert runtime.notices == []

    def test_two_triggers_for_the_same_window_post_once(self, runtime) -> None:
        other = Subscription("slack:C1", "post-train", "mon", "10:30", "UTC")
        runtime.run_due(Due(SUB, MONDAY_NINE))
        runtime.run_due(Due(other, datetime(2026, 6, 8, 10, 30, tzinfo=UTC)))
        keys = poster(runtime).keys()
        assert len(keys) == len(set(keys)) == 9

    def test_concurrent_triggers_post_once(self, runtime) -> None:
        threads = [
            threading.Thread(target=runtime.run_due, args=(Due(SUB, MONDAY_NINE),))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        keys = poster(runtime).keys()
        assert len(keys) == len(set(keys)) == 9

    def test_arxiv_down_posts_nothing_and_tells_the_admins(self, runtime) -> None:
        runtime.run_due(Due(SUB, datetime(2026, 6, 15, 7, 0, tzinfo=UTC)))  # an unfetched week
        assert poster(runtime).sent == []
        (notice,) = runtime.notices
        assert "could not be posted to slack:C1" in notice and "next run tries again" in notice

    def test_a_channel_without_a_running_platform_is_a_notice(self, runtime) -> None:
        runtime.run_due(Due(Subscription("discord:42", "post-train"), MONDAY_NINE))
        assert "no discord connection is running" in runtime.notices[0]

    def test_missed_run_tells_the_admins(self, runtime) -> None:
        runtime.missed(SUB, MONDAY_NINE)
        assert "was skipped: the bot was down past the grace period" in runtime.notices[0]


class TestResume:
    @pytest.mark.parametrize("k", [1, 3, 6])
    def test_a_cut_off_weekly_post_is_completed_with_the_same_digest(self, runtime, k) -> None:
        poster(runtime).crash_after = k
        with pytest.raises(Crash):
            runtime.run_due(Due(SUB, MONDAY_NINE))
        assert runtime.resume_unfinished() == 1
        sent = poster(runtime).sent
        keys = [m.key for m in sent]
        assert len(keys) == len(set(keys)) == 9
        # The catalog of the resumed thread is the one the first run started with.
        assert len(runtime.publisher.service.corpus.digests("post-train")) == 1
        assert runtime.resume_unfinished() == 0


class Sender:
    """A platform's plain-message sender (the `MessageSender` both posters implement)."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, list[Message]]] = []
        self.fail = fail

    def post_reply(self, channel_id: str, messages: Sequence[Message], /) -> list[str]:
        if self.fail:
            raise PlatformError("channel_not_found")
        self.sent.append((channel_id, list(messages)))
        return ["1"]


class TestAdminNotices:
    def test_a_notice_goes_to_the_admin_channel_through_its_platforms_sender(self) -> None:
        notices, slack, discord = AdminNotices("slack:CADMIN"), Sender(), Sender()
        notices.add_sender("slack", slack)
        notices.add_sender("discord", discord)
        notices.send("arXiv was down.")
        ((channel, (message,)),) = slack.sent
        assert channel == "CADMIN" and message.blocks[0].plain == "arXiv was down."
        assert discord.sent == []

    def test_without_a_running_platform_it_is_only_logged(self, caplog) -> None:
        notices = AdminNotices("discord:42")
        notices.add_sender("slack", Sender())
        notices.send("arXiv was down.")
        assert "admin notice: arXiv was down." in caplog.text
        assert "no discord connection for the admin channel" in caplog.text

    def test_a_failing_send_does_not_fail_the_caller(self, caplog) -> None:
        notices = AdminNotices("slack:CADMIN")
        notices.add_sender("slack", Sender(fail=True))
        notices.send("arXiv was down.")  # must not raise: it reports a failure already
        assert "could not send the admin notice to slack:CADMIN" in caplog.text
