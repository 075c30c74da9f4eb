"""The corpus under faults: a write that fails part-way leaves nothing; damage inside the
file is found; a read-only database still serves reads; an online backup is a full copy."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from storage import Corpus, FetchRecord, StorageError, open_corpus
from storage.errors import DatabaseReadOnly
from tests.support.faults import PAGE, damage, papers
from tests.support.papers import make_paper


def count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def fail_inserts_into(corpus: Corpus, table: str) -> None:
    """Make the next insert into `table` fail, as a full disk would, after the papers."""
    with corpus.writing() as db:
        db.conn.execute(
            f"CREATE TRIGGER boom BEFORE INSERT ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )


class TestOneTransaction:
    def test_a_feed_that_fails_while_filing_stores_no_paper(
        self, corpus: Corpus, tmp_path: Path
    ) -> None:
        """store_papers: papers and topic membership together, or nothing (it committed
        the papers on their own before filing them)."""
        fail_inserts_into(corpus, "topic_papers")
        batch = papers(450)

        with pytest.raises(StorageError):
            corpus.store_papers(batch, "post-train", [p.id for p in batch])

        assert count(tmp_path / "corpus.db", "papers") == 0

    def test_a_fetch_that_fails_at_its_record_stores_no_paper(
        self, corpus: Corpus, tmp_path: Path
    ) -> None:
        """store_fetch: papers, membership and the fetch record together, or nothing."""
        fail_inserts_into(corpus, "fetches")
        batch = papers(300)
        record = FetchRecord(
            "post-train", date(2026, 5, 28), date(2026, 6, 3), "q", datetime.now(UTC), True, 300
        )

        with pytest.raises(StorageError):
            corpus.store_fetch(batch, record)

        assert count(tmp_path / "corpus.db", "papers") == 0
        assert count(tmp_path / "corpus.db", "topic_papers") == 0

    def test_updates_are_part_of_the_transaction(self, corpus: Corpus, tmp_path: Path) -> None:
        corpus.store_papers(papers(5), "post-train", [])
        fail_inserts_into(corpus, "topic_papers")
        newer = [make_paper(p.id, version=2, title="Changed") for p in papers(5)]

        with pytest.raises(StorageError):
            corpus.store_papers(newer, "post-train", [p.id for p in newer])

        assert {p.version for p in corpus.get_papers([p.id for p in newer])} == {1}


@pytest.fixture
def big_db(tmp_path: Path) -> Path:
    path = tmp_path / "big.db"
    with open_corpus(path) as corpus:
        corpus.store_papers(papers(1500), "post-train", [])
        with corpus.reading() as db:
            db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


class TestQuickCheck:
    def test_a_sound_file_passes(self, big_db: Path) -> None:
        with open_corpus(big_db) as corpus:
            assert corpus.quick_check() == []

    def test_damage_inside_the_file_is_found(self, big_db: Path) -> None:
        assert big_db.stat().st_size > 60 * PAGE
        damage(big_db)

        try:
            corpus = open_corpus(big_db)
        except StorageError as err:  # damage can show already while migrating
            assert "damaged" in str(err) or "not a digestbot database" in str(err)
            return
        with corpus:
            assert corpus.quick_check() != []


class TestBackup:
    def test_the_copy_holds_everything(self, big_db: Path, tmp_path: Path) -> None:
        copy = tmp_path / "copy.db"
        with open_corpus(big_db) as corpus:
            corpus.backup(copy)

        assert count(copy, "papers") == 1500
        with open_corpus(copy) as restored:
            assert restored.quick_check() == []
            assert restored.get_paper("2605.00007") is not None

    def test_an_unwritable_target_is_one_sentence(self, corpus: Corpus, tmp_path: Path) -> None:
        with pytest.raises(StorageError, match="cannot write the backup"):
            corpus.backup(tmp_path / "no" / "such" / "dir" / "copy.db")


class TestReadOnly:
    def test_writing_names_the_path_and_reading_works_read_only(self, tmp_path: Path) -> None:
        path = tmp_path / "corpus.db"
        with open_corpus(path) as corpus:
            corpus.store_papers(papers(3), "post-train", [p.id for p in papers(3)])
        uri = f"{path.as_uri()}?mode=ro"  # root ignores file modes; SQLite's ro does not

        with pytest.raises(DatabaseReadOnly, match=str(path)):
            open_corpus(uri)
        with open_corpus(uri, read_only=True) as corpus:
            assert corpus.read_only
            assert len(corpus.papers_in_window(date(2026, 5, 28), date(2026, 5, 28))) == 3
            with pytest.raises(DatabaseReadOnly, match="read-only"):
                corpus.store_papers(papers(1, start=9))
