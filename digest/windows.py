"""Date windows (UTC submission days, inclusive) and when arXiv has announced all of one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.errors import InvalidWindow

_ARXIV_TZ = ZoneInfo("America/New_York")
_CUTOFF = time(14, 0)  # daily submission deadline, Eastern time, Monday to Friday
_ANNOUNCE = time(20, 0)  # announcements go out Sunday to Thursday at 20:00 Eastern
# The API lags the announcement a little; holidays shift the schedule by a day or two, which
# this rule ignores (a window closing just before a holiday can be marked complete early).
_API_LAG = timedelta(hours=2)
MAX_WINDOW_DAYS = 366


@dataclass(frozen=True, slots=True)
class Window:
    """The UTC days `since` through `until`, both included, by first-submission date."""

    since: date
    until: date

    def __post_init__(self) -> None:
        if self.since > self.until:
            raise InvalidWindow(
                f"--since {self.since} is after --until {self.until}: swap the two dates"
            )
        if (self.until - self.since).days >= MAX_WINDOW_DAYS:
            raise InvalidWindow(
                f"the window {self} spans more than {MAX_WINDOW_DAYS} days: ask for a shorter one"
            )

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def arxiv_range(self) -> tuple[str, str]:
        """The window as arXiv's submittedDate bounds (YYYYMMDDHHMM, GMT, inclusive)."""
        return f"{self.since:%Y%m%d}0000", f"{self.until:%Y%m%d}2359"

    def previous(self) -> Window:
        """The window of the same length that ends the day before this one starts."""
        until = self.since - timedelta(days=1)
        return Window(until - timedelta(days=self.days - 1), until)

    def __str__(self) -> str:
        return f"{self.since.isoformat()} to {self.until.isoformat()}"


def parse_day(text: str, flag: str) -> date:
    """An ISO date from the command line, or an error that shows the expected form."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidWindow(
            f"{flag} {text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-05-28"
        ) from None


def default_window(now: datetime, days: int = 7) -> Window:
    """The last `days` full UTC days, ending yesterday."""
    until = now.astimezone(UTC).date() - timedelta(days=1)
    return Window(until - timedelta(days=days - 1), until)


def resolve_window(since: date | None, until: date | None, now: datetime, days: int = 7) -> Window:
    """The window the user asked for; each missing bound comes from the default window."""
    # Nested so the checker sees which bound is known in each branch.
    if since is None:
        if until is None:
            return default_window(now, days)
        since = until - timedelta(days=days - 1)
    elif until is None:
        until = max(since, default_window(now, days).until)
    window = Window(since, until)
    if window.since > now.astimezone(UTC).date():
        raise InvalidWindow(f"the window {window} starts in the future: pick an earlier --since")
    return window


def settled_at(window: Window) -> datetime:
    """When arXiv will have announced every paper submitted in the window (UTC).

    A submission is announced at 20:00 Eastern on the day of the first weekday 14:00 cutoff
    after it; the Friday cutoff is announced on Sunday. The window's last instant is the end
    of its `until` day in UTC.
    """
    last = datetime.combine(window.until + timedelta(days=1), time(0), tzinfo=UTC)
    local = last.astimezone(_ARXIV_TZ)
    day = local.date()
    while True:
        cutoff = datetime.combine(day, _CUTOFF, tzinfo=_ARXIV_TZ)
        if day.weekday() < 5 and cutoff >= local:
            break
        day += timedelta(days=1)
    announce_day = day + timedelta(days=2) if day.weekday() == 4 else day
    announced = datetime.combine(announce_day, _ANNOUNCE, tzinfo=_ARXIV_TZ)
    return (announced + _API_LAG).astimezone(UTC)


def is_settled(window: Window, at: datetime) -> bool:
    """Whether a fetch made at `at` saw the window complete."""
    return at >= settled_at(window)
