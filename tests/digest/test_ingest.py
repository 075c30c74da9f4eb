"""Getting papers into the corpus: ensure_window (arXiv, via the fake) and ingest_feed_file."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.errors import ArxivUnavailable, FeedError
from digest.feed import read_feed_file
from digest.ingest import ensure_window, ingest_feed_file
from digest.topics import POST_TRAIN, Topic
from digest.windows import Window, settled_at
from storage import Corpus
from tests.fakes.arxiv_server import FakeArxiv, FakeEntry, load_listing_entries, render_feed
from tests.support.paths import FIXTURES, SHARED_ARXIV

FEEDS = FIXTURES / "feeds"
WEEK = Window(date(2026, 5, 13), date(2026, 5, 19))
SETTLED = settled_at(WEEK) + timedelta(minutes=1)
UNSETTLED = settled_at(WEEK) - timedelta(hours=1)
POST_TRAIN_42 = "feeds/post-train_2026-05-13_to_05-19.atom.xml"


@pytest.fixture
def fake() -> Iterator[FakeArxiv]:
    with FakeArxiv() as served:
        yield served


@pytest.fixture(scope="module")
def listing_entries() -> list[FakeEntry]:
    """The real daily listings as fake entries, parsed once for the module (or skipped)."""
    if not SHARED_ARXIV.is_dir():
        pytest.skip(f"real arXiv data not present at {SHARED_ARXIV} (only in the dev workspace)")
    return load_listing_entries(SHARED_ARXIV / "listings")


def source_for(fake: FakeArxiv, *, page_size: int = 2000, retries: int = 2) -> ArxivSource:
    return ArxivSource(
        ArxivSettings(
            api_url=fake.url,
            delay_seconds=0,
            page_size=page_size,
            retries=retries,
            backoff_seconds=0.01,
            timeout_seconds=5,
        ),
        sleep=lambda _: None,
    )


def at(moment: datetime) -> Callable[[], datetime]:
    """A clock stopped at `moment`."""
    return lambda: moment


def filed_under(corpus: Corpus, topic: str = "post-train") -> set[str]:
    """Every paper id filed under `topic`, whatever its date (read straight from SQLite)."""
    with sqlite3.connect(corpus.path) as conn:
        rows = conn.execute("SELECT paper_id FROM topic_papers WHERE topic = ?", [topic])
        return {row[0] for row in rows}


def topic_ids(corpus: Corpus, topic: str = "post-train", window: Window = WEEK) -> set[str]:
    return {p.id for p in corpus.papers_in_window(window.since, window.until, topic)}


# -- an invented week, so the window logic is tested without ../shared ------------------------


def _entry(
    paper_id: str,
    title: str,
    summary: str,
    categories: list[str],
    published: str,
    **extra: object,
) -> FakeEntry:
    return FakeEntry(
        id=paper_id,
        title=title,
        summary=summary,
        authors=["Zoë Ramírez-Götz", "Bo Li"],
        categories=categories,
        published=datetime.fromisoformat(published).replace(tzinfo=UTC),
        **extra,  # type: ignore[arg-type]
    )


INVENTED_WEEK = [
    # In the window and on topic (post-train query: cs.CL/AI/LG, an LLM phrase, a method phrase).
    _entry(
        "2605.10001", "GRPO for LLMs", "We post-train an LLM.", ["cs.CL"], "2026-05-13T00:00:00"
    ),
    _entry(
        "2605.10002",
        "Reward Models at Scale",
        "A reward model for large language models with $\\epsilon$-margins.",
        ["cs.LG"],
        "2026-05-14T09:30:00",
    ),
    _entry(
        "2605.10003",
        "Ålborg: DPO Without Tears",
        "Direct preference optimization for large language models, naïvely.",
        ["cs.AI", "cs.CL"],
        "2026-05-15T12:00:00",
    ),
    _entry(
        "2605.10004",
        "Cross-listed Instruction Tuning",
        "Instruction tuning of an LLM for captioning.",
        ["cs.CV", "cs.CL"],  # primary outside the topic, cross-listed into it
        "2026-05-16T08:00:00",
    ),
    _entry(
        "2605.10005",
        "RLHF Revisited",
        "RLHF for large language models, second version.",
        ["cs.CL"],
        "2026-05-17T18:00:00",
        version=2,
        updated=datetime(2026, 5, 25, tzinfo=UTC),
    ),
    _entry(
        "2605.10006",
        "SFT Data Mixtures",
        "Supervised fine-tuning recipes for LLMs.",
        ["cs.CL"],
        "2026-05-18T18:00:00",
    ),
    _entry(
        "2605.10007",
        "Post-Training Audits",
        "Post-training of large language models, audited.",
        ["cs.LG"],
        "2026-05-19T23:59:30",  # last minute of the window
    ),
    # Just outside the window.
    _entry("2605.10008", "DPO Early", "DPO for an LLM.", ["cs.CL"], "2026-05-12T23:59:00"),
    _entry("2605.10009", "DPO Late", "DPO for an LLM.", ["cs.CL"], "2026-05-20T00:00:00"),
    # In the window but off topic.
    _entry("2605.10010", "Vision DPO", "DPO for an LLM judge.", ["cs.CV"], "2026-05-14T10:00:00"),
    _entry(
        "2605.10011", "LLM Agents", "LLM agents for robotics.", ["cs.CL"], "2026-05-14T11:00:00"
    ),
    _entry(
        "2605.10012", "Diffusion DPO", "DPO for image diffusion.", ["cs.LG"], "2026-05-14T12:00:00"
    ),
]
INVENTED_ON_TOPIC = {f"2605.1000{n}" for n in range(1, 8)}


class TestEnsureWindowInvented:
    """ensure_window on an invented week (runs without ../shared)."""

    def test_stores_exactly_the_topics_papers_of_the_window(
        self, fake: FakeArxiv, corpus: Corpus
    ) -> None:
        """Paged 3 at a time: the 7 on-topic papers of the window are stored, the fetch complete."""
        fake.add_entries(INVENTED_WEEK)

        report = ensure_window(
            corpus, source_for(fake, page_size=3), POST_TRAIN, WEEK, clock=at(SETTLED)
        )

        assert (report.source, report.complete, report.filed) == ("arxiv", True, 7)
        assert (report.counts.new, report.counts.updated, report.counts.unchanged) == (7, 0, 0)
        assert topic_ids(corpus) == INVENTED_ON_TOPIC
        assert corpus.count_papers() == 7
        assert len(fake.requests) == 3  # 3 + 3 + 1
        record = corpus.last_fetch("post-train", WEEK.since, WEEK.until)
        assert record is not None and record.complete and record.paper_count == 7
        assert record.query == POST_TRAIN.window_query(*WEEK.arxiv_range())
        assert corpus.get_paper("2605.10005").version == 2  # type: ignore[union-attr]
        assert corpus.get_paper("2605.10003").title == "Ålborg: DPO Without Tears"  # type: ignore[union-attr]

    def test_second_call_is_served_from_the_corpus(self, fake: FakeArxiv, corpus: Corpus) -> None:
        """A complete window is not asked again: no request, source "corpus", counts unchanged."""
        fake.add_entries(INVENTED_WEEK)
        source = source_for(fake)
        ensure_window(corpus, source, POST_TRAIN, WEEK, clock=at(SETTLED))
        asked = len(fake.requests)

        again = ensure_window(corpus, source, POST_TRAIN, WEEK, clock=at(SETTLED))

        assert len(fake.requests) == asked
        assert again.source == "corpus" and again.counts.unchanged == 7 and again.counts.new == 0
        assert "served from the corpus" in again.summary()

    def test_force_asks_again(self, fake: FakeArxiv, corpus: Corpus) -> None:
        """force=True fetches a complete window anyway; nothing changed, so all unchanged."""
        fake.add_entries(INVENTED_WEEK)
        ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(SETTLED))
        asked = len(fake.requests)

        again = ensure_window(
            corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(SETTLED), force=True
        )

        assert len(fake.requests) == asked + 1
        assert again.source == "arxiv" and again.counts.unchanged == 7

    def test_unsettled_window_is_fetched_again(self, fake: FakeArxiv, corpus: Corpus) -> None:
        """Fetched before arXiv announced the whole window: incomplete, and asked again later."""
        fake.add_entries(INVENTED_WEEK[:3])
        early = ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(UNSETTLED))
        assert early.complete is False and "fetched again next time" in early.summary()
        record = corpus.last_fetch("post-train", WEEK.since, WEEK.until)
        assert record is not None and not record.complete

        fake.add_entries(INVENTED_WEEK[3:])  # the rest of the week gets announced
        later = ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(SETTLED))

        assert len(fake.requests) == 2
        assert later.source == "arxiv" and later.complete
        assert (later.counts.new, later.counts.unchanged) == (4, 3)
        assert topic_ids(corpus) == INVENTED_ON_TOPIC
        record = corpus.last_fetch("post-train", WEEK.since, WEEK.until)
        assert record is not None and record.complete and record.paper_count == 7

    def test_changed_topic_query_fetches_again(self, fake: FakeArxiv, corpus: Corpus) -> None:
        """A topic whose query changed (same name) is not served from the old fetch."""
        fake.add_entries(INVENTED_WEEK)
        ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(SETTLED))
        narrower = dataclasses.replace(POST_TRAIN, include=(("llm",), ("dpo",)))

        report = ensure_window(corpus, source_for(fake), narrower, WEEK, clock=at(SETTLED))

        assert report.source == "arxiv" and len(fake.requests) == 2
        assert "dpo" in fake.requests[-1].params["search_query"]
        record = corpus.last_fetch("post-train", WEEK.since, WEEK.until)
        assert record is not None
        assert record.query == narrower.window_query(*WEEK.arxiv_range())

    def test_failed_fetch_stores_nothing(self, fake: FakeArxiv, corpus: Corpus) -> None:
        """Page 1 arrives, then 503s to the end: no papers and no fetch record are stored."""
        fake.add_entries(INVENTED_WEEK)

        def after_page(done: int, total: int) -> None:
            fake.fail_next(503, times=10)

        with pytest.raises(ArxivUnavailable, match="HTTP 503"):
            ensure_window(
                corpus,
                source_for(fake, page_size=3, retries=2),
                POST_TRAIN,
                WEEK,
                clock=at(SETTLED),
                progress=after_page,
            )

        assert len(fake.requests) == 4  # page 1, then page 2 three times
        assert corpus.count_papers() == 0
        assert corpus.last_fetch("post-train", WEEK.since, WEEK.until) is None

    def test_failed_refetch_keeps_the_previous_state(self, fake: FakeArxiv, corpus: Corpus) -> None:
        """A failed re-fetch of an incomplete window leaves its papers and record as they were."""
        fake.add_entries(INVENTED_WEEK)
        ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(UNSETTLED))
        before = corpus.last_fetch("post-train", WEEK.since, WEEK.until)
        fake.fail_next(503, times=10)

        with pytest.raises(ArxivUnavailable):
            ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(SETTLED))

        assert corpus.last_fetch("post-train", WEEK.since, WEEK.until) == before
        assert topic_ids(corpus) == INVENTED_ON_TOPIC

    def test_new_version_replaces_the_old(self, fake: FakeArxiv, corpus: Corpus) -> None:
        """v2 of a paper replaces v1: one row, counts.updated == 1, the v2 text kept."""
        v1 = _entry(
            "2605.10001", "GRPO for LLMs", "We post-train an LLM.", ["cs.CL"], "2026-05-14T10:00:00"
        )
        fake.add_entries(v1)
        ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(UNSETTLED))
        v2 = dataclasses.replace(
            v1,
            version=2,
            summary="We post-train an LLM, now with RLHF.",
            updated=datetime(2026, 5, 16, tzinfo=UTC),
        )
        fake.add_entries(v2)  # replaces v1 in the fake

        report = ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(SETTLED))

        assert (report.counts.new, report.counts.updated, report.counts.unchanged) == (0, 1, 0)
        assert corpus.count_papers() == 1
        stored = corpus.get_paper("2605.10001")
        assert stored is not None and stored.version == 2
        assert stored.abstract == "We post-train an LLM, now with RLHF."

    def test_empty_week_is_recorded_but_asked_again(self, fake: FakeArxiv, corpus: Corpus) -> None:
        """No papers is a normal week, but never final: arXiv's flaky empty answers must not
        become a permanent empty week, so the next call asks again."""
        report = ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(SETTLED))

        assert report.counts.total == 0 and not report.complete
        record = corpus.last_fetch("post-train", WEEK.since, WEEK.until)
        assert record is not None and not record.complete and record.paper_count == 0
        again = ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(SETTLED))
        assert again.source == "arxiv" and len(fake.requests) == 2


class TestEnsureWindowReal:
    """ensure_window against the fake loaded with the real May 2026 listings."""

    def test_post_train_week_stores_exactly_the_42_papers(
        self,
        fake: FakeArxiv,
        corpus: Corpus,
        listing_entries: list[FakeEntry],
        shared_arxiv: Path,
    ) -> None:
        """Paged 10 at a time, the window stores the 42 ids of the rendered post-train feed."""
        fake.add_entries(listing_entries)
        expected = {p.id for p in read_feed_file(shared_arxiv / POST_TRAIN_42).results}
        assert len(expected) == 42

        report = ensure_window(
            corpus, source_for(fake, page_size=10), POST_TRAIN, WEEK, clock=at(SETTLED)
        )

        assert topic_ids(corpus) == expected
        assert corpus.count_papers() == 42
        assert (report.counts.new, report.source, report.complete) == (42, "arxiv", True)
        assert len(fake.requests) == 5
        record = corpus.last_fetch("post-train", WEEK.since, WEEK.until)
        assert record is not None and record.complete and record.paper_count == 42

        asked = len(fake.requests)
        again = ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(SETTLED))
        assert len(fake.requests) == asked
        assert again.source == "corpus" and again.counts.unchanged == 42
        assert corpus.count_papers() == 42

    def test_unsettled_real_week_is_fetched_again(
        self, fake: FakeArxiv, corpus: Corpus, listing_entries: list[FakeEntry]
    ) -> None:
        """Fetched an hour before settling: the next call asks arXiv again and completes it."""
        fake.add_entries(listing_entries)
        first = ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(UNSETTLED))
        second = ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(SETTLED))

        assert not first.complete and second.complete
        assert len(fake.requests) == 2
        assert second.counts.unchanged == 42 and second.counts.new == 0


class TestIngestFeedFile:
    """Saved arXiv responses into the corpus."""

    def test_project_feed_filed_under_topic_by_matches(self, corpus: Corpus) -> None:
        """current-3: all three stored; the two post-training papers filed, the "0" paper not."""
        report = ingest_feed_file(corpus, FEEDS / "current-3.atom.xml", POST_TRAIN)

        assert (report.counts.new, report.filed, report.source, report.skipped) == (3, 2, "feed", 0)
        assert corpus.count_papers() == 3
        filed = {
            p.id for p in corpus.papers_in_window(date(2026, 6, 1), date(2026, 6, 2), "post-train")
        }
        assert filed == {"2606.00011", "2606.00012"}
        kestrel = corpus.get_paper("2606.00011v2")
        assert kestrel is not None and kestrel.authors == ("Zoë Ramírez-Götz", "Ilse Weißl")
        assert "$\\epsilon$-smoothed" in kestrel.abstract

    def test_without_topic_stores_but_files_nothing(self, corpus: Corpus) -> None:
        """No topic: papers stored, none filed."""
        report = ingest_feed_file(corpus, FEEDS / "current-3.atom.xml")

        assert report.counts.new == 3 and report.filed == 0
        assert corpus.papers_in_window(date(2026, 6, 1), date(2026, 6, 2), "post-train") == []

    def test_reingest_is_unchanged(self, corpus: Corpus) -> None:
        """The same file twice: the second time everything is unchanged."""
        ingest_feed_file(corpus, FEEDS / "current-3.atom.xml")
        again = ingest_feed_file(corpus, FEEDS / "current-3.atom.xml")

        assert (again.counts.new, again.counts.updated, again.counts.unchanged) == (0, 0, 3)

    def test_legacy_blank_entries_are_counted_as_skipped(self, corpus: Corpus) -> None:
        """Blank legacy entries are skipped and counted; the real paper is stored."""
        report = ingest_feed_file(corpus, FEEDS / "legacy-blank-entries.atom.xml")

        assert (report.counts.new, report.skipped) == (1, 2)
        assert corpus.get_paper("2606.00021") is not None

    def test_real_legacy_blank_entries(self, corpus: Corpus, shared_arxiv: Path) -> None:
        """The real legacy response with 3 blank entries: 1 stored, 3 skipped."""
        report = ingest_feed_file(
            corpus,
            shared_arxiv
            / "atom_2025-08-24_LEGACY_id-list-3-missing-1-present_4entries-3-blank.xml",
        )

        assert (report.counts.new, report.skipped) == (1, 3)

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("error-400.atom.xml", "arXiv error response: incorrect id format for nonsense"),
            ("not-a-feed.html", "not an arXiv API Atom feed"),
            ("truncated.atom.xml", "not a complete XML document"),
            ("no-such-file.xml", "cannot read the feed file"),
        ],
    )
    def test_bad_files_raise_feed_error_and_store_nothing(
        self, corpus: Corpus, name: str, message: str
    ) -> None:
        """Error feeds, non-feeds, truncated and missing files: one FeedError, nothing stored."""
        with pytest.raises(FeedError, match=message):
            ingest_feed_file(corpus, FEEDS / name, POST_TRAIN)
        assert corpus.count_papers() == 0

    def test_real_error_feed(self, corpus: Corpus, shared_arxiv: Path) -> None:
        """The recorded HTTP 400 response saved to disk is refused with arXiv's message."""
        with pytest.raises(FeedError, match="incorrect id format for abc"):
            ingest_feed_file(
                corpus,
                shared_arxiv / "atom_2026-04-12_ERROR-http400_id-list-abc_incorrect-id-format.xml",
            )

    def test_real_post_train_feed_files_all_42(self, corpus: Corpus, shared_arxiv: Path) -> None:
        """The rendered post-train week: 42 stored, all 42 filed (the local matcher agrees)."""
        report = ingest_feed_file(corpus, shared_arxiv / POST_TRAIN_42, POST_TRAIN)

        assert (report.counts.new, report.filed) == (42, 42)
        assert len(topic_ids(corpus)) == 42

    def test_real_ai_day_files_only_the_post_training_paper(
        self, corpus: Corpus, shared_arxiv: Path
    ) -> None:
        """A real cs.AI/cs.LG day: all 50 stored, only the one true post-training paper filed."""
        path = shared_arxiv / "atom_2026-07-13_cat-cs.AI-OR-cs.LG_newest_50entries.xml"

        report = ingest_feed_file(corpus, path, POST_TRAIN)

        assert report.counts.new == corpus.count_papers() == 50
        # "Multimodal Reward Hacking in RL" (LLMs + GRPO/SFT); the mere "alignment" papers and
        # PAC-ACT (post-training, but of robot policies, no LLM) stay unfiled.
        assert filed_under(corpus) == {"2607.09492"} and report.filed == 1

    @pytest.mark.parametrize(
        ("exclude", "filed"), [((), {"2606.00011"}), (("grpo",), set())], ids=["plain", "excluded"]
    )
    def test_topic_filter_applies_categories_and_exclusions(
        self, corpus: Corpus, exclude: tuple[str, ...], filed: set[str]
    ) -> None:
        """A configured topic files only what its matcher accepts: category, phrase, exclusion."""
        topic = Topic(
            name="calibration",
            title="Calibration",
            categories=("cs.LG",),  # only Kestrel is (cross-)listed in cs.LG
            include=(("reward model",),),  # Kestrel says "reward models": plurals fold
            exclude=exclude,  # Kestrel mentions GRPO
        )

        report = ingest_feed_file(corpus, FEEDS / "current-3.atom.xml", topic)

        assert report.counts.new == 3 and report.filed == len(filed)
        assert filed_under(corpus, "calibration") == filed


class TestTotalsThatDisagree:
    """arXiv's totalResults against what actually came: never an empty or silent short week."""

    def test_an_always_empty_page_claiming_results_stores_nothing(
        self, fake: FakeArxiv, corpus: Corpus
    ) -> None:
        fake.add_entries(INVENTED_WEEK)
        fake.empty_page_next(times=20)

        with pytest.raises(ArxivUnavailable, match="came back empty"):
            ensure_window(corpus, source_for(fake), POST_TRAIN, WEEK, clock=at(SETTLED))

        assert corpus.last_fetch("post-train", WEEK.since, WEEK.until) is None
        assert corpus.count_papers() == 0

    def test_fewer_papers_than_announced_is_an_incomplete_window(
        self, fake: FakeArxiv, corpus: Corpus
    ) -> None:
        """Pages that repeat a paper (arXiv reshuffled while we paged) bring 6 of the 7
        announced: stored, but not final, and the summary says so."""
        on_topic = [e for e in INVENTED_WEEK if e.id in INVENTED_ON_TOPIC]
        on_topic.sort(key=lambda e: e.published)
        # Page 2 repeats the last of page 1, so its own last (the 6th) is never sent.
        pages = [on_topic[0:3], on_topic[2:5], on_topic[6:7]]
        fake.serve_by_start(
            {
                3 * n: render_feed(page, start=3 * n, max_results=3, total=len(on_topic))
                for n, page in enumerate(pages)
            }
        )

        report = ensure_window(
            corpus, source_for(fake, page_size=3), POST_TRAIN, WEEK, clock=at(SETTLED)
        )

        assert (report.filed, report.expected, report.complete) == (6, 7, False)
        assert "incomplete: arXiv listed 7 but sent 6" in report.summary()
        record = corpus.last_fetch("post-train", WEEK.since, WEEK.until)
        assert record is not None and not record.complete
