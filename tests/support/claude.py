"""Claude-engine builders: a key that must never be logged, a sleep that only records, and
the synthesis request of an invented week."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from digest.model import Digest
from digest.synthesis import SynthesisRequest
from digest.topics import POST_TRAIN
from digest.windows import Window
from storage import Paper
from tests.support.papers import make_paper
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


def metadata(digest: Digest) -> dict[str, str]:
    section = digest.section("metadata")
    assert section is not None
    return {i.heading: i.text for i in section.items}


TOPICS = (
    ("preference optimization", "DPO", "noisy preference pairs and reference models"),
    ("process reward models", "PRM", "step-level verification of long proofs"),
    ("tool-using agents", "GRPO", "rollouts in sandboxed environments with tool calls"),
)


def generated_week(n: int = 45) -> tuple[Paper, ...]:
    """n invented papers in three clear clusters, for map-reduce on a small budget."""
    papers = []
    for index in range(n):
        subject, acronym, detail = TOPICS[index % 3]
        papers.append(
            make_paper(
                f"2606.2{index:04d}",
                title=f"Study {index} of {subject} with {acronym}",
                abstract=(
                    f"We study {subject} for large language models using {acronym}. "
                    f"Our method addresses {detail}. Experiments on benchmark suite {index} "
                    f"show gains of {index % 7 + 1} points over strong {acronym} baselines. "
                    f"However, {subject} remains costly at scale."
                ),
                published=datetime(2026, 6, 9, 10, tzinfo=UTC),
            )
        )
    return tuple(papers)
