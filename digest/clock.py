"""The time of day, in one place every part of the core reads it from (tests pass a fixed
clock instead)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
