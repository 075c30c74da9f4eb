"""Exactly once across processes: real `digestbot` processes started together on one
database post each part of the digest once, in one thread (bench/bench_faults.py runs 20
trials; a few here keep the suite's time reasonable)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.slack_server import FakeSlack
from tests.support.racing import Arena, expected_parts


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(channels=("C0SOLO",)) as fake:
        yield fake


@pytest.fixture
def expected(tmp_path: Path, slack: FakeSlack) -> set[str]:
    home = tmp_path / "solo"
    home.mkdir()
    parts = expected_parts(home, slack)
    assert "parent" in parts and "catalog" in parts
    return parts


def arena(tmp_path: Path, slack: FakeSlack, name: str) -> Arena:
    home = tmp_path / name
    home.mkdir()
    slack.add_channel(name.upper())
    return Arena(home, slack, channel=name.upper())


class TestRace:
    @pytest.mark.parametrize("racers", [2, 3])
    def test_cli_posts_racing_post_each_part_once(
        self, tmp_path: Path, slack: FakeSlack, expected: set[str], racers: int
    ) -> None:
        """`digest --post` started in 2 or 3 processes at once, twice over."""
        for trial in range(2):
            result = arena(tmp_path, slack, f"c0r{racers}t{trial}").race(clis=racers)

            assert result.codes == [0] * racers
            assert result.duplicates == 0, result.parts
            assert result.missing(expected) == 0, result.parts
            assert result.parents == 1

    def test_the_weekly_run_and_a_cli_post_race(
        self, tmp_path: Path, slack: FakeSlack, expected: set[str]
    ) -> None:
        """`digestbot run` posting the due weekly digest, held up after its 3rd message,
        while a `digest --post` of the same window to the same channel starts (21 and 19
        messages for 12 parts before the claims): the CLI waits for the bot's claim, then
        finds everything posted."""
        result = arena(tmp_path, slack, "c0mixed").race_with_bot(1, expected)

        assert result.codes == [0, 0]
        assert result.duplicates == 0, result.parts
        assert result.missing(expected) == 0, result.parts
