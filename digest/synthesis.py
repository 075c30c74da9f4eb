"""What every synthesis engine is given and must return: the seam between the digest
service and the engines (offline, and the language-model engine over Claude or an
OpenAI-compatible API), with the pieces every engine fills the same way: the catalog of the
window's papers and the Run Metadata section."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from digest.model import SECTION_TITLES, CatalogEntry, Digest, Item, Section
from digest.safety import defang, neutralize
from digest.shortnames import short_names
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


def catalog(papers: list[Paper] | tuple[Paper, ...]) -> tuple[CatalogEntry, ...]:
    """Every paper of the window with its short name, alphabetical by short name."""
    # Names come from defanged titles: a title is untrusted text like an abstract.
    safe = [p if (title := defang(p.title)) == p.title else replace(p, title=title) for p in papers]
    names = short_names(safe)
    entries = [
        CatalogEntry(
            id=p.id,
            short_name=names[p.id],
            title=p.title,
            authors=tuple(neutralize(a) for a in p.authors),
            primary_category=p.primary_category,
        )
        for p in safe
    ]
    return tuple(sorted(entries, key=lambda e: (e.short_name.lower(), e.id)))


def metadata_section(
    request: SynthesisRequest, engine: str, extra: tuple[Item, ...] = ()
) -> Section:
    """Run Metadata: what was asked (topic, window, query) and who wrote it how."""
    window = request.window
    days = f"{window.days} day{'' if window.days == 1 else 's'}"
    items = [
        Item("Topic", f"{request.topic.title} ({request.topic.name})"),
        Item("Generated on", request.generated_at.strftime("%Y-%m-%d %H:%M UTC")),
        Item("Time window", f"{window.since} to {window.until} ({days}, UTC)"),
        Item("Papers analysed", str(len(request.papers))),
        Item("Report style", request.topic.style),
        Item("Synthesizer", engine),
        *extra,
        Item("arXiv query", request.topic.query()),
    ]
    return Section("metadata", SECTION_TITLES["metadata"], tuple(items))


class Synthesizer(Protocol):
    """Writes a digest. `name` is what Run Metadata and the JSON call the engine."""

    name: str

    def synthesize(self, request: SynthesisRequest) -> Digest: ...
