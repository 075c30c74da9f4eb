"""Fixtures of the Slack tests: the loopback Slack, a poster on a manual clock, the app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.slack.app import Jobs, SlackApp, build_app
from bot.slack.client import make_client
from bot.slack.poster import SlackPoster
from tests.fakes.slack_server import FakeSlack
from tests.support.publishing import publisher_for
from tests.support.slack import Answers, ManualClock, make_router, papers, slack_config


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(channels=("C0TEST", "C0OTHER")) as server:
        yield server


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def poster(fake: FakeSlack, clock: ManualClock) -> SlackPoster:
    """The real poster and WebClient against the fake; pacing and Retry-After on `clock`."""
    client = make_client("xoxb-test", fake.base_url, sleep=clock.sleep)
    return SlackPoster(client, sleep=clock.sleep, clock=clock)


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def router(corpus, answers):
    return make_router(corpus, papers(8), answers)


@pytest.fixture
def app(fake: FakeSlack, poster: SlackPoster, router) -> Iterator[SlackApp]:
    """The Bolt app in HTTP mode, its work on a pool the test can wait for."""
    built = build_app(
        router,
        slack_config(fake.base_url),
        publisher=publisher_for(router),
        poster=poster,
        jobs=Jobs(),
        env={},
    )
    # The "working on it" notice has its own test; here it would depend on machine load.
    built.bot.notice_after = 120
    yield built
    built.close()
