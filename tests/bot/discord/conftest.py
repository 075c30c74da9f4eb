"""Fixtures for the Discord adapter: the fake Discord API, a week of papers and its digest,
a router over a real corpus, and the real discord.py client running on a loop thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from discord.http import Route

from bot.commands import Router
from bot.config import Config, parse_config
from digest.model import Digest
from storage import Corpus
from tests.fakes.discord_server import FakeDiscord
from tests.support.discord import (
    Answers,
    LoopThread,
    build_digest,
    make_router,
    week_papers,
)

# The router's "now": its default window is 2026-05-25 to 2026-05-31.
# When the stored digest was built: after arXiv announced the whole window, so the router
# reuses it instead of fetching (the tests have no arXiv).


@pytest.fixture(autouse=True)
def _restore_route_base() -> Iterator[None]:
    """Every test that points discord.py at a fake leaves it as it found it."""
    before = Route.BASE
    yield
    Route.BASE = before


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        yield server


@pytest.fixture
def config(fake: FakeDiscord) -> Config:
    return parse_config(
        {"discord": {"admins": ["900000000000000777"]}},
        {"DISCORD_TOKEN": "test-token", "DIGESTBOT_DISCORD_API_URL": fake.base_url},
    )


@pytest.fixture
def digest() -> Digest:
    return build_digest(week_papers())


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def router(corpus: Corpus, answers: Answers) -> Router:
    """The real router over a corpus holding the week's papers and their stored digest."""
    return make_router(corpus, week_papers(), answers)


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()
