"""What every synthesis engine is given and must return: the seam between the digest
service and the engines (offline, Claude)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from digest.model import CatalogEntry, Digest, Section
from digest.topics import Topic
from digest.windows import Window
from storage import Paper


@dataclass(frozen=True, slots=True)
class History:
    """What came before the window: the topic's stored digests (newest first) and its papers
    of the preceding weeks, for "What Is New"."""

    digests: tuple[Digest, ...] = ()
    earlier_papers: tuple[Paper, ...] = ()
    earlier_window: Window | None = None

    @property
    def is_empty(self) -> bool:
        return not self.digests and not self.earlier_papers


@dataclass(frozen=True, slots=True)
class SynthesisRequest:
    """One topic's papers of one window, with its history, to be written up as a digest."""

    topic: Topic
    window: Window
    papers: tuple[Paper, ...]
    generated_at: datetime
    history: History = field(default_factory=History)
    notable_count: int = 6


def new_digest(
    request: SynthesisRequest,
    *,
    synthesizer: str,
    gist: str,
    sections: tuple[Section, ...],
    papers: tuple[CatalogEntry, ...],
) -> Digest:
    """A digest of the request's topic and window: the fields every engine fills the same
    way, so engines differ only in what they write."""
    return Digest(
        topic=request.topic.name,
        title=f"{request.topic.title}: arXiv digest",
        since=request.window.since,
        until=request.window.until,
        generated_at=request.generated_at,
        paper_count=len(papers),
        query=request.topic.query(),
        synthesizer=synthesizer,
        style=request.topic.style,
        gist=gist,
        sections=sections,
        papers=papers,
    )


class Synthesizer(Protocol):
    """Writes a digest. `name` is what Run Metadata and the JSON call the engine."""

    name: str

    def synthesize(self, request: SynthesisRequest) -> Digest: ...
