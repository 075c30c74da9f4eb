"""Claude-engine builders: a key that must never be logged, a sleep that only records, and
the synthesis request of an invented week."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from digest.synthesis import SynthesisRequest
from digest.topics import POST_TRAIN
from digest.windows import Window
from storage import Paper
from tests.support.weeks import WEEK_A, load_week

WINDOW_A, PAPERS_A = load_week(WEEK_A)

API_KEY = "sk-ant-test-do-not-log"


class Sleeps(list):
    """A `sleep` that records how long it was asked to wait, and does not wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


GENERATED_AT = datetime(2026, 6, 16, 7, 0, tzinfo=UTC)


def week_request(
    papers: tuple[Paper, ...] = PAPERS_A, window: Window = WINDOW_A, **kwargs: Any
) -> SynthesisRequest:
    return SynthesisRequest(POST_TRAIN, window, papers, GENERATED_AT, **kwargs)
