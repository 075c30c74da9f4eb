"""The SQLite corpus: upserts by id without version, FTS kept current, migrations, errors."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from storage import DatabaseUnavailable, FetchRecord, open_corpus
from storage.migrations import MIGRATIONS
from tests.support.papers import make_paper


class TestOpening:
    def test_new_database_records_every_migration_and_uses_wal(self, tmp_path: Path) -> None:
        path = tmp_path / "sub" / "dir" / "corpus.db"
        with open_corpus(path):
            pass
        conn = sqlite3.connect(path)
        names = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]
        assert names == [name for name, _ in MIGRATIONS]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def test_reopening_applies_nothing_twice(self, tmp_path: Path) -> None:
        path = tmp_path / "corpus.db"
        with open_corpus(path) as corpus:
            corpus.upsert_papers([make_paper()])
        with open_corpus(path) as corpus:
            assert corpus.count_papers() == 1
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)

    def test_a_file_that_is_not_sqlite_is_a_clear_error(self, tmp_path: Path) -> None:
        path = tmp_path / "notes.db"
        path.write_text("these are my notes, not a database\n" * 100)
        with pytest.raises(DatabaseUnavailable, match="is not a digestbot database"):
            open_corpus(path)
        assert path.read_text().startswith("these are my notes")

    @pytest.mark.skipif(os.geteuid() == 0, reason="root can write read-only files")
    def test_a_read_only_database_is_a_clear_error(self, tmp_path: Path) -> None:
        path = tmp_path / "corpus.db"
        with open_corpus(path):
            pass
        path.chmod(stat.S_IRUSR)
        tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            with pytest.raises(DatabaseUnavailable, match="read-only"):
                open_corpus(path)
        finally:
            tmp_path.chmod(stat.S_IRWXU)

    def test_read_only_via_uri_is_a_clear_error(self, tmp_path: Path) -> None:
        """Even as root: a database SQLite opens read-only says so in one sentence."""
        path = tmp_path / "corpus.db"
        with open_corpus(path):
            pass
        with pytest.raises(DatabaseUnavailable, match="read-only"):
            open_corpus(f"file:{path}?mode=ro")

    def test_unwritable_directory_is_a_clear_error(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with pytest.raises(DatabaseUnavailable, match="cannot create the directory"):
            open_corpus(blocker / "corpus.db")


class TestUpsert:
    def test_new_then_unchanged(self, corpus) -> None:
        papers = [make_paper("2605.00001"), make_paper("2605.00002")]
        first = corpus.upsert_papers(papers)
        second = corpus.upsert_papers(papers)
        assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
        assert (second.new, second.updated, second.unchanged) == (0, 0, 2)
        assert corpus.count_papers() == 2

    def test_v2_replaces_v1_without_a_second_row(self, corpus) -> None:
        corpus.upsert_papers([make_paper(version=1, title="Old title")])
        counts = corpus.upsert_papers([make_paper(version=2, title="New title")])
        assert counts.updated == 1
        assert corpus.count_papers() == 1
        stored = corpus.get_paper("2605.00001")
        assert (stored.version, stored.title) == (2, "New title")

    def test_an_older_version_never_downgrades(self, corpus) -> None:
        corpus.upsert_papers([make_paper(version=3, title="Latest")])
        counts = corpus.upsert_papers([make_paper(version=1, title="Stale")])
        assert counts.unchanged == 1
        assert corpus.get_paper("2605.00001").title == "Latest"

    def test_one_batch_listing_a_paper_twice_keeps_the_newest(self, corpus) -> None:
        counts = corpus.upsert_papers(
            [make_paper(version=1, title="v1"), make_paper(version=2, title="v2")]
        )
        assert counts.new == 1 and corpus.get_paper("2605.00001").title == "v2"

    def test_round_trip_keeps_every_field(self, corpus) -> None:
        paper = make_paper(
            title="Ω-Test: $\\epsilon$-robust Weißl",
            authors=("José Ramírez", "Zoë Götz"),
            categories=("cs.LG", "stat.ML"),
        )
        corpus.upsert_papers([paper])
        assert corpus.get_paper("arXiv:2605.00001v1") == paper

    def test_a_failed_batch_writes_nothing(self, corpus) -> None:
        good = make_paper("2605.00001")
        broken = make_paper("2605.00002", title=None)  # type: ignore[arg-type]
        with pytest.raises(Exception):  # noqa: B017 - any failure; the point is the rollback
            corpus.upsert_papers([good, broken])
        assert corpus.count_papers() == 0


class TestSearch:
    def test_finds_by_title_abstract_and_author_with_stemming(self, corpus) -> None:
        corpus.upsert_papers(
            [
                make_paper("2605.00001", title="Reward hacking in RLHF", authors=("Grace Hopper",)),
                make_paper("2605.00002", title="Vision transformers", abstract="Rewards appear."),
                make_paper("2605.00003", title="Graph kernels", abstract="Nothing relevant."),
            ]
        )
        assert [h.paper.id for h in corpus.search("reward")] == ["2605.00001", "2605.00002"]
        assert [h.paper.id for h in corpus.search("hopper")] == ["2605.00001"]

    def test_index_follows_updates(self, corpus) -> None:
        corpus.upsert_papers([make_paper(title="Old words")])
        corpus.upsert_papers([make_paper(version=2, title="Fresh vocabulary")])
        assert corpus.search("old") == []
        assert [h.paper.id for h in corpus.search("fresh")] == ["2605.00001"]

    @pytest.mark.parametrize(
        "text", ["c++ AND (", '"unbalanced', "NEAR(", "*", "NOT OR", "a:b", "^x", "\x00\x07"]
    )
    def test_fts_syntax_in_user_text_never_fails(self, corpus, text: str) -> None:
        corpus.upsert_papers([make_paper(title="C and AND operators")])
        assert isinstance(corpus.search(text), list)

    def test_any_term_ors_the_words(self, corpus) -> None:
        corpus.upsert_papers([make_paper("2605.00001", title="Reward models")])
        assert corpus.search("reward zebra") == []
        assert [h.paper.id for h in corpus.search("reward zebra", any_term=True)] == ["2605.00001"]

    def test_restricted_to_ids(self, corpus) -> None:
        corpus.upsert_papers([make_paper("2605.00001"), make_paper("2605.00002")])
        hits = corpus.search("things", ids=["2605.00002"])
        assert [h.paper.id for h in hits] == ["2605.00002"]


class TestTopicsAndWindows:
    def test_window_is_by_submission_day_inclusive_and_by_topic(self, corpus) -> None:
        inside_first = make_paper("2605.00001", published=datetime(2026, 5, 28, 0, 0, tzinfo=UTC))
        inside_last = make_paper("2605.00002", published=datetime(2026, 6, 3, 23, 59, tzinfo=UTC))
        after = make_paper("2605.00003", published=datetime(2026, 6, 4, 0, 0, tzinfo=UTC))
        other_topic = make_paper("2605.00004", published=datetime(2026, 5, 30, tzinfo=UTC))
        fetched = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
        record = FetchRecord(
            "post-train", date(2026, 5, 28), date(2026, 6, 3), "q", fetched, True, 3
        )
        corpus.store_fetch([inside_first, inside_last, after], record)
        corpus.upsert_papers([other_topic])
        window = corpus.papers_in_window(date(2026, 5, 28), date(2026, 6, 3), "post-train")
        assert [p.id for p in window] == ["2605.00002", "2605.00001"]
        everything = corpus.papers_in_window(date(2026, 5, 28), date(2026, 6, 3))
        assert {p.id for p in everything} == {"2605.00001", "2605.00002", "2605.00004"}
        assert corpus.last_fetch("post-train", date(2026, 5, 28), date(2026, 6, 3)) == record

    def test_store_fetch_is_atomic(self, corpus) -> None:
        record = FetchRecord(
            "t", date(2026, 5, 28), date(2026, 6, 3), "q", datetime.now(UTC), True, 2
        )
        broken = make_paper("2605.00002", title=None)  # type: ignore[arg-type]
        with pytest.raises(Exception):  # noqa: B017 - the point is that nothing is left behind
            corpus.store_fetch([make_paper("2605.00001"), broken], record)
        assert corpus.count_papers() == 0
        assert corpus.last_fetch("t", date(2026, 5, 28), date(2026, 6, 3)) is None


class TestDigests:
    def test_history_is_newest_first_and_before_a_day(self, corpus) -> None:
        for since, until in [
            (date(2026, 5, 14), date(2026, 5, 20)),
            (date(2026, 5, 21), date(2026, 5, 27)),
        ]:
            corpus.save_digest(
                topic="t",
                since=since,
                until=until,
                engine="offline",
                generated_at=datetime.now(UTC),
                body={"until": until.isoformat()},
            )
        assert [d.until for d in corpus.digests("t")] == [date(2026, 5, 27), date(2026, 5, 20)]
        assert [d.body["until"] for d in corpus.digests("t", before=date(2026, 5, 21))] == [
            "2026-05-20"
        ]
        assert corpus.digests("other") == []


class TestThreads:
    def test_one_corpus_serves_several_threads(self, corpus) -> None:
        errors: list[Exception] = []

        def work(n: int) -> None:
            try:
                for i in range(20):
                    corpus.upsert_papers([make_paper(f"2605.{n:02d}{i:03d}")])
                    corpus.search("things")
            except Exception as err:  # pragma: no cover - reported below
                errors.append(err)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert corpus.count_papers() == 80


class TestBroadQueries:
    def test_a_query_matching_many_papers_ranks_all_of_them(self, corpus) -> None:
        """The best matches are found however many papers match and however old they are
        (ranking only the newest matches lost them)."""
        old = [make_paper(f"2601.{i:05d}", title="Reward models reward models") for i in range(30)]
        corpus.upsert_papers(old)
        new = [make_paper(f"2606.{i:05d}", title="Reward models") for i in range(1200)]
        corpus.upsert_papers(new)
        best = corpus.search("reward models", limit=30)
        assert {h.paper.id for h in best} == {p.id for p in old}  # the title says it twice
        assert len(corpus.search("reward models", limit=2000)) == 1230

    def test_ids_restricted_searches_rank_all_their_matches(self, corpus) -> None:
        old = [make_paper(f"2601.{i:05d}", title="Reward models") for i in range(5)]
        corpus.upsert_papers(old)
        corpus.upsert_papers([make_paper(f"2606.{i:05d}", title="Reward models") for i in range(5)])
        hits = corpus.search("reward", ids=[p.id for p in old], limit=2)
        assert len(hits) == 2 and {h.paper.id for h in hits} <= {p.id for p in old}
