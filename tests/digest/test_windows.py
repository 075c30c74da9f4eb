"""Windows: parsing, defaults, and when arXiv has announced all of one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from digest.errors import InvalidWindow
from digest.windows import Window, default_window, is_settled, parse_day, resolve_window, settled_at

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday


class TestWindow:
    def test_default_is_the_last_seven_full_days_ending_yesterday(self) -> None:
        assert default_window(NOW) == Window(date(2026, 11, 20), date(2026, 11, 26))

    def test_missing_bounds_come_from_the_default(self) -> None:
        assert resolve_window(None, date(2026, 6, 3), NOW) == Window(
            date(2026, 5, 28), date(2026, 6, 3)
        )
        assert resolve_window(date(2026, 11, 24), None, NOW).until == date(2026, 11, 26)

    def test_backwards_window_is_refused(self) -> None:
        with pytest.raises(InvalidWindow, match="after --until"):
            Window(date(2026, 5, 20), date(2026, 5, 1))

    def test_future_window_is_refused(self) -> None:
        with pytest.raises(InvalidWindow, match="future"):
            resolve_window(date(2027, 1, 1), date(2027, 1, 7), NOW)

    def test_huge_window_is_refused(self) -> None:
        with pytest.raises(InvalidWindow, match="more than"):
            Window(date(2020, 1, 1), date(2026, 1, 1))

    @pytest.mark.parametrize("text", ["2026-13-01", "yesterday", "28/05/2026", ""])
    def test_malformed_dates_say_the_expected_form(self, text: str) -> None:
        with pytest.raises(InvalidWindow, match="YYYY-MM-DD"):
            parse_day(text, "--since")

    def test_arxiv_range_and_previous(self) -> None:
        window = Window(date(2026, 5, 28), date(2026, 6, 3))
        assert window.arxiv_range() == ("202605280000", "202606032359")
        assert window.previous() == Window(date(2026, 5, 21), date(2026, 5, 27))
        assert window.days == 7


class TestSettled:
    @pytest.mark.parametrize(
        ("until", "expected"),
        [
            # Wednesday: announced Thursday 20:00 EDT -> Friday 00:00 UTC (+2 h API lag)
            (date(2026, 5, 27), datetime(2026, 5, 29, 2, 0, tzinfo=UTC)),
            # Thursday: the Friday cutoff is announced on Sunday evening
            (date(2026, 5, 28), datetime(2026, 6, 1, 2, 0, tzinfo=UTC)),
            # Friday and Saturday: the Monday cutoff, announced Monday evening
            (date(2026, 5, 29), datetime(2026, 6, 2, 2, 0, tzinfo=UTC)),
            (date(2026, 5, 30), datetime(2026, 6, 2, 2, 0, tzinfo=UTC)),
            # Sunday: also Monday's announcement
            (date(2026, 5, 31), datetime(2026, 6, 2, 2, 0, tzinfo=UTC)),
            # Winter time (EST, UTC-5): Wednesday -> Thursday 20:00 EST = Friday 01:00 UTC
            (date(2026, 1, 14), datetime(2026, 1, 16, 3, 0, tzinfo=UTC)),
        ],
    )
    def test_announcement_schedule(self, until: date, expected: datetime) -> None:
        window = Window(until, until)
        assert settled_at(window) == expected
        assert not is_settled(window, expected - timedelta(minutes=1))
        assert is_settled(window, expected)
