"""Getting a topic's papers into the corpus: from the arXiv API, or from a saved response."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from digest.arxiv_source import ArxivSource, Progress
from digest.clock import Clock, utc_now
from digest.errors import FeedError
from digest.feed import FeedEntry, scan_feed_file
from digest.topics import Topic
from digest.windows import Window, is_settled
from storage import Corpus, FeedBatch, FetchRecord, HeldPapers, TopicVerdict, UpsertCounts


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What an ingest did, for the CLI's one-line summary and for callers that care."""

    counts: UpsertCounts
    source: str  # "arxiv", "corpus" (a complete window, arXiv not asked) or "feed"
    complete: bool = True
    filed: int = 0  # papers filed under the topic
    skipped: int = 0  # blank entries in a saved feed
    expected: int = 0  # what arXiv's totalResults promised, when more than came

    def summary(self) -> str:
        c = self.counts
        text = f"{c.new} new, {c.updated} updated, {c.unchanged} unchanged"
        if self.source == "corpus":
            text += " (served from the corpus; arXiv was not asked)"
        elif self.source == "arxiv" and self.expected > self.filed:
            text += (
                f" (incomplete: arXiv listed {self.expected} but sent {self.filed}; it will be "
                "fetched again next time)"
            )
        elif self.source == "arxiv" and not self.complete:
            text += " (window not fully announced yet: it will be fetched again next time)"
        return text


def ensure_window(
    corpus: Corpus,
    source: ArxivSource,
    topic: Topic,
    window: Window,
    *,
    clock: Clock = utc_now,
    progress: Progress | None = None,
    force: bool = False,
) -> IngestReport:
    """Make the corpus hold the topic's papers for the window, asking arXiv only if needed.

    A window fetched after arXiv had announced all of it, with the same query, is served from
    the corpus. Otherwise it is fetched whole (every page) and stored in one transaction; a
    failed fetch raises and stores nothing.
    """
    query = topic.window_query(*window.arxiv_range())
    previous = corpus.last_fetch(topic.name, window.since, window.until)
    if not force and previous and previous.complete and previous.query == query:
        return IngestReport(UpsertCounts(unchanged=previous.paper_count), source="corpus")
    papers = source.search(query, progress=progress)
    fetched_at = clock()
    # arXiv sometimes answers a valid query with an empty page: an empty window is never
    # taken as final, so a flaky answer cannot become a permanent empty week.
    # A window arXiv served partly (fewer papers than its totalResults) is stored but not
    # final either, so the next run asks again.
    expected = int(getattr(source, "last_total", 0) or 0)
    complete = bool(papers) and len(papers) >= expected and is_settled(window, fetched_at)
    record = FetchRecord(
        topic=topic.name,
        since=window.since,
        until=window.until,
        query=query,
        fetched_at=fetched_at,
        complete=complete,
        paper_count=len(papers),
    )
    counts = corpus.store_fetch(papers, record)
    return IngestReport(
        counts,
        source="arxiv",
        complete=complete,
        filed=len(papers),
        expected=expected if expected > len(papers) else 0,
    )


def ingest_feed_file(corpus: Corpus, path: str | Path, topic: Topic | None = None) -> IngestReport:
    """Store every paper of a saved arXiv API response; with `topic`, file the ones that
    match it under that topic. An error feed or a non-feed file raises `FeedError`.

    The file is always checked whole, but only entries the corpus does not hold at their
    version and <updated> stamp (or, with `topic`, has no verdict on for that version and
    the topic's rule) are parsed past their identity and judged: a re-ingest of an
    unchanged feed parses and judges no paper."""
    feed = scan_feed_file(path)
    if feed.error is not None:
        raise FeedError(f"the feed file {path} is an arXiv error response: {feed.error}")
    plan = _FeedPlan(feed.entries, topic)
    counts = corpus.store_feed(
        [entry.id for entry in feed.entries],
        plan,
        topic.name if topic else None,
        topic.rule() if topic else "",
    )
    return IngestReport(counts, source="feed", filed=plan.filed, skipped=feed.skipped)


class _FeedPlan:
    """Decides, from what the corpus holds, which entries to parse, store and judge.
    Called by the corpus inside the feed's write transaction."""

    def __init__(self, entries: Sequence[FeedEntry], topic: Topic | None) -> None:
        self.entries = entries
        self.topic = topic
        self.filed = 0  # entries the topic accepts, as the report counts them

    def __call__(self, held: HeldPapers) -> FeedBatch:
        batch = FeedBatch()
        topic = self.topic
        self.filed = 0
        for entry in self.entries:
            holds = held.holds(entry.id, entry.version, entry.updated)
            matched = None
            if topic is not None:
                matched = held.verdict(entry.id, entry.version, entry.updated)
            # Parsed only when the corpus lacks this version, or the topic's verdict on it.
            if not holds or (topic is not None and matched is None):
                paper = entry.paper()
                if not holds:
                    batch.papers.append(paper)
                if topic is not None and matched is None:
                    matched = topic.matches(paper.title, paper.abstract, paper.categories)
                    batch.verdicts.append(
                        TopicVerdict(paper.id, paper.version, paper.updated, matched)
                    )
            if matched:
                batch.filed.append(entry.id)
                self.filed += 1
        return batch
