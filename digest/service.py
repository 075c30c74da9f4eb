"""Building a digest end to end: make sure the corpus has the window, pick the topic's
papers, synthesize (falling back to the offline engine), check citations, store."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from digest.arxiv_source import ArxivSource, Progress
from digest.clock import Clock, utc_now
from digest.errors import DigestError, SynthesisFailed
from digest.ingest import IngestReport, ensure_window
from digest.model import Digest, restrict_citations, with_note
from digest.offline.engine import OfflineEngine
from digest.synthesis import History, SynthesisRequest, Synthesizer
from digest.topics import Topic, TopicCatalog
from digest.windows import Window, is_settled
from storage import Corpus, Paper
from storage.corpus import StoredDigest

log = logging.getLogger(__name__)
HISTORY_WEEKS = 4  # how far back "What Is New" looks (in weeks, and in earlier digests)


class WindowNotFetched(DigestError):
    """A digest without fetching was asked for a window the corpus never fetched."""


@dataclass
class DigestService:
    """Everything a digest needs, wired once; used by the CLI, the commands and the scheduler."""

    corpus: Corpus
    topics: TopicCatalog
    source: ArxivSource | None = None
    synthesizer: Synthesizer | None = None
    clock: Clock = utc_now
    notable_count: int = 6
    language: str = "en"  # [digest] language: what the LLM engines write in
    offline: OfflineEngine = field(default_factory=OfflineEngine)

    def __post_init__(self) -> None:
        if self.synthesizer is None:
            self.synthesizer = self.offline

    def ingest(
        self, topic: Topic, window: Window, progress: Progress | None = None, force: bool = False
    ) -> IngestReport:
        if self.source is None:
            raise DigestError("no arXiv source is configured")
        return ensure_window(
            self.corpus,
            self.source,
            topic,
            window,
            clock=self.clock,
            progress=progress,
            force=force,
        )

    def history(self, topic: Topic, window: Window) -> History:
        """The topic's earlier digests and its papers of the weeks before the window."""
        stored = self.corpus.digests(topic.name, before=window.since, limit=HISTORY_WEEKS)
        digests = tuple(Digest.from_json(s.body) for s in stored)
        until = window.since - timedelta(days=1)
        earlier_window = Window(until - timedelta(days=7 * HISTORY_WEEKS - 1), until)
        earlier = self.corpus.papers_in_window(earlier_window.since, until, topic.name)
        return History(digests, tuple(earlier), earlier_window if earlier else None)

    def build(
        self,
        topic_name: str,
        window: Window,
        *,
        fetch: bool = True,
        progress: Progress | None = None,
        force_fetch: bool = False,
        regenerate: bool = False,
    ) -> Digest:
        """Fetch what the corpus lacks (unless `fetch` is False), synthesize, store, return.

        A complete window whose papers have not changed since its stored digest was written
        gets that digest back as it is, unless `regenerate`: synthesis is the slow part, and
        the same papers would give the same digest.
        """
        return self.build_stored(
            topic_name,
            window,
            fetch=fetch,
            progress=progress,
            force_fetch=force_fetch,
            regenerate=regenerate,
        )[0]

    def build_stored(
        self,
        topic_name: str,
        window: Window,
        *,
        fetch: bool = True,
        progress: Progress | None = None,
        force_fetch: bool = False,
        regenerate: bool = False,
    ) -> tuple[Digest, int | None]:
        """`build`, also returning the stored digest's id (so no caller has to look it up
        again, and cannot pick up another build's row); None when the database is read-only
        and the digest was shown, not kept."""
        topic = self.topics.get(topic_name)
        if fetch:
            self.ingest(topic, window, progress, force_fetch)
        papers = self.corpus.papers_in_window(window.since, window.until, topic.name)
        gap = None if fetch else self._coverage_gap(topic, window, len(papers))
        if not regenerate:
            cached = self.cached(topic, window, papers)
            if cached is not None:
                return cached
        request = SynthesisRequest(
            topic=topic,
            window=window,
            papers=tuple(papers),
            generated_at=self.clock().replace(microsecond=0),
            history=self.history(topic, window),
            notable_count=self.notable_count,
        )
        digest = self._synthesize(request)
        digest, removed = restrict_citations(digest)
        if removed:
            log.warning("removed citations of papers outside the window: %s", ", ".join(removed))
        if gap is not None:
            log.warning("%s", gap)
            digest = with_note(digest, gap, heading="Incomplete window")
        if self.corpus.read_only:
            return digest, None  # a read-only database: the digest is shown, not kept
        digest_id = self.corpus.save_digest(
            topic=topic.name,
            since=window.since,
            until=window.until,
            engine=digest.synthesizer,
            generated_at=digest.generated_at,
            body=digest.to_json(),
        )
        return digest, digest_id

    def cached(
        self, topic: Topic, window: Window, papers: list[Paper]
    ) -> tuple[Digest, int] | None:
        """The stored digest of this window (and its id) when it still describes it."""
        stored = self.corpus.latest_digest(topic.name, window.since, window.until)
        if stored is None or not self._still_valid(stored, papers):
            return None
        return Digest.from_json(stored.body), stored.id

    def _still_valid(self, stored: StoredDigest, papers: list[Paper]) -> bool:
        """Whether a stored digest is the one a new build would write: the window was complete
        when it was written, it was written by the engine now configured (a fallback digest is
        rebuilt once the model answers again), and the window holds the same papers, none
        revised since."""
        window = Window(stored.since, stored.until)
        if not is_settled(window, stored.generated_at):
            return False
        engine = self.synthesizer or self.offline
        if stored.engine != engine.name:
            return False
        listed = {entry.get("id") for entry in stored.body.get("papers", [])}
        if listed != {p.id for p in papers}:
            return False
        return all(p.updated <= stored.generated_at for p in papers)

    def _coverage_gap(self, topic: Topic, window: Window, stored: int) -> str | None:
        """Why the corpus's papers may not be the whole window (for a digest built without
        fetching), or None when fetches cover every day of it. Raises when the corpus has
        never fetched any of it and holds nothing: that is not a quiet week."""
        records = self.corpus.fetches_overlapping(topic.name, window.since, window.until)
        if not records:
            if stored == 0:
                raise WindowNotFetched(
                    f"the corpus has never fetched {topic.name} for {window}, so it cannot say "
                    f"whether the week was quiet: run digestbot ingest {topic.name} --since "
                    f"{window.since} --until {window.until} first, or leave out --no-fetch"
                )
            # Papers filed from saved feeds: the user chose that source, so it is the window.
            return None
        days = {
            record.since + timedelta(days=offset)
            for record in records
            for offset in range((record.until - record.since).days + 1)
        }
        wanted = (window.until - window.since).days + 1
        covered = sum(
            1 for offset in range(wanted) if window.since + timedelta(days=offset) in days
        )
        promised = sum(
            r.paper_count for r in records if r.since >= window.since and r.until <= window.until
        )
        if covered < wanted or not all(r.complete for r in records) or stored < promised:
            return (
                f"Incomplete window: the corpus holds {stored} papers of {topic.name} for "
                f"{window}, from fetches covering {covered} of its {wanted} days, not all of "
                "them final; fetch it again for the whole week."
            )
        return None

    def _synthesize(self, request: SynthesisRequest) -> Digest:
        engine = self.synthesizer or self.offline
        if isinstance(engine, OfflineEngine):
            return self._offline(request, engine)
        try:
            return engine.synthesize(request)
        except SynthesisFailed as err:
            log.warning("%s failed, using the offline engine: %s", engine.name, err)
            digest = self._offline(request)
            note = f"{engine.name} failed ({err}); the offline engine wrote this digest instead"
            return with_note(digest, note, heading="Fallback")

    def _offline(self, request: SynthesisRequest, engine: OfflineEngine | None = None) -> Digest:
        digest = (engine or self.offline).synthesize(request)
        if self.language.split("-")[0].lower() != "en":
            note = (
                f'The offline engine writes English only; language = "{self.language}" '
                "applies to the language-model engines."
            )
            digest = with_note(digest, note, heading="Language")
        return digest
