"""Re-ingesting saved feeds (issue 16): only new or changed entries are parsed, stored and
judged by the topic filter, with the same results and the same one-transaction guarantee
as a full ingest.

"Unchanged" is arXiv's identity of a paper's text: the corpus holds the entry's version at
the same <updated> stamp, or a newer one. A topic's verdict is kept per paper version and
topic rule, so an unchanged paper is judged once, and again after the topic is edited."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import FeedError
from digest.feed import read_feed_file
from digest.ingest import IngestReport, ingest_feed_file
from digest.topics import POST_TRAIN, Topic
from storage import Corpus, StorageError, open_corpus
from tests.fakes.arxiv_server import FakeEntry, render_feed
from tests.support.paths import FIXTURES, REPO

FEEDS = FIXTURES / "feeds"
REAL_AI_DAY = "atom_2026-07-13_cat-cs.AI-OR-cs.LG_newest_50entries.xml"


def paper(paper_id: str, title: str, summary: str, categories: list[str], **extra: object):
    return FakeEntry(
        id=paper_id,
        title=title,
        summary=summary,
        authors=("Ilse Weißl",),
        categories=tuple(categories),
        published=datetime(2026, 5, 14, 9, 30, tzinfo=UTC),
        **extra,  # type: ignore[arg-type]
    )


ON_TOPIC = paper("2605.20001", "GRPO for LLMs", "We post-train an LLM.", ["cs.CL"])
NO_METHOD = paper("2605.20002", "LLM Agents", "LLM agents for robotics.", ["cs.CL"])
WRONG_FIELD = paper("2605.20003", "Vision DPO", "DPO for an LLM judge.", ["cs.CV"])
WEEK = [ON_TOPIC, NO_METHOD, WRONG_FIELD]
LATER = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


def write_feed(folder: Path, entries: list[FakeEntry], name: str = "feed.atom.xml") -> Path:
    path = folder / name
    path.write_bytes(render_feed(entries))
    return path


def counts(report: IngestReport) -> tuple[int, int, int]:
    return report.counts.new, report.counts.updated, report.counts.unchanged


def rows(corpus: Corpus, sql: str) -> list[tuple]:
    """Straight from SQLite, on a connection of its own."""
    conn = sqlite3.connect(corpus.path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def filed_under(corpus: Corpus, topic: str = "post-train") -> set[str]:
    return {
        r[0] for r in rows(corpus, f"SELECT paper_id FROM topic_papers WHERE topic = '{topic}'")
    }


def verdicts(corpus: Corpus) -> dict[tuple[str, int], int]:
    """The stored verdicts by (paper id, version)."""
    found = rows(corpus, "SELECT paper_id, version, matched FROM topic_checks")
    return {(r[0], r[1]): r[2] for r in found}


class TestWhatChanged:
    def test_an_unchanged_feed_is_all_unchanged_and_files_the_same(
        self, corpus: Corpus, tmp_path: Path
    ) -> None:
        feed = write_feed(tmp_path, WEEK)
        first = ingest_feed_file(corpus, feed, POST_TRAIN)
        again = ingest_feed_file(corpus, feed, POST_TRAIN)

        assert (counts(first), first.filed) == ((3, 0, 0), 1)
        assert (counts(again), again.filed) == ((0, 0, 3), 1)
        assert filed_under(corpus) == {ON_TOPIC.id}
        assert verdicts(corpus) == {
            (ON_TOPIC.id, 1): 1,
            (NO_METHOD.id, 1): 0,
            (WRONG_FIELD.id, 1): 0,
        }

    def test_an_entry_at_the_stored_version_and_stamp_is_neither_parsed_nor_judged(
        self, corpus: Corpus, tmp_path: Path
    ) -> None:
        """What "unchanged" means: same version and <updated> stamp. Text edited without
        either changing (arXiv does not do that; the corpus never stored such edits
        either) is not read: the stored paper and the stored verdict stand."""
        ingest_feed_file(corpus, write_feed(tmp_path, WEEK), POST_TRAIN)
        edited = dataclasses.replace(NO_METHOD, title="Edited", summary="DPO for LLMs.")

        report = ingest_feed_file(
            corpus, write_feed(tmp_path, [ON_TOPIC, edited, WRONG_FIELD]), POST_TRAIN
        )

        assert (counts(report), report.filed) == ((0, 0, 3), 1)
        assert corpus.get_paper(NO_METHOD.id).title == "LLM Agents"  # type: ignore[union-attr]
        assert filed_under(corpus) == {ON_TOPIC.id}

    def test_a_new_version_is_stored_and_judged(self, corpus: Corpus, tmp_path: Path) -> None:
        """v2 of the off-topic paper is about DPO for LLMs: stored, judged, filed."""
        ingest_feed_file(corpus, write_feed(tmp_path, WEEK), POST_TRAIN)
        v2 = dataclasses.replace(
            NO_METHOD, version=2, updated=LATER, summary="LLM agents, now tuned with DPO."
        )

        report = ingest_feed_file(
            corpus, write_feed(tmp_path, [ON_TOPIC, v2, WRONG_FIELD]), POST_TRAIN
        )

        assert (counts(report), report.filed) == ((0, 1, 2), 2)
        stored = corpus.get_paper(NO_METHOD.id)
        assert stored is not None and stored.version == 2
        assert stored.abstract == "LLM agents, now tuned with DPO."
        assert filed_under(corpus) == {ON_TOPIC.id, NO_METHOD.id}
        assert verdicts(corpus)[(NO_METHOD.id, 2)] == 1
        stamps = rows(corpus, f"SELECT updated FROM topic_checks WHERE paper_id = '{NO_METHOD.id}'")
        assert sorted(stamps) == [("2026-05-14T09:30:00Z",), ("2026-05-20T12:00:00Z",)]

    def test_a_changed_updated_stamp_is_stored_and_judged(
        self, corpus: Corpus, tmp_path: Path
    ) -> None:
        """Same version, later <updated>: new categories (cross-listed to cs.CL) are stored,
        and the paper is judged again, now on topic."""
        ingest_feed_file(corpus, write_feed(tmp_path, WEEK), POST_TRAIN)
        relisted = dataclasses.replace(
            WRONG_FIELD, categories=("cs.CV", "cs.CL"), updated=LATER, title="Vision DPO, v1"
        )

        report = ingest_feed_file(
            corpus, write_feed(tmp_path, [ON_TOPIC, NO_METHOD, relisted]), POST_TRAIN
        )

        assert (counts(report), report.filed) == ((0, 1, 2), 2)
        stored = corpus.get_paper(WRONG_FIELD.id)
        assert stored is not None and stored.version == 1
        assert (stored.title, stored.categories) == ("Vision DPO, v1", ("cs.CV", "cs.CL"))
        assert filed_under(corpus) == {ON_TOPIC.id, WRONG_FIELD.id}

    def test_an_older_version_changes_nothing(self, corpus: Corpus, tmp_path: Path) -> None:
        v2 = dataclasses.replace(ON_TOPIC, version=2, updated=LATER, title="GRPO, v2")
        ingest_feed_file(corpus, write_feed(tmp_path, [v2], "v2.xml"), POST_TRAIN)

        report = ingest_feed_file(corpus, write_feed(tmp_path, [ON_TOPIC], "v1.xml"), POST_TRAIN)

        assert (counts(report), report.filed) == ((0, 0, 1), 1)
        stored = corpus.get_paper(ON_TOPIC.id)
        assert stored is not None and (stored.version, stored.title) == (2, "GRPO, v2")

    def test_a_paper_listed_twice_keeps_the_newest(self, corpus: Corpus, tmp_path: Path) -> None:
        v2 = dataclasses.replace(NO_METHOD, version=2, updated=LATER, summary="DPO for LLMs.")
        feed = write_feed(tmp_path, [ON_TOPIC, NO_METHOD, v2])

        first = ingest_feed_file(corpus, feed, POST_TRAIN)
        again = ingest_feed_file(corpus, feed, POST_TRAIN)

        assert counts(first) == (2, 0, 0) and counts(again) == (0, 0, 2)
        assert first.filed == again.filed == 2  # v2 matches, v1 does not: entries, as before
        assert corpus.get_paper(NO_METHOD.id).version == 2  # type: ignore[union-attr]
        assert verdicts(corpus) == {(ON_TOPIC.id, 1): 1, (NO_METHOD.id, 1): 0, (NO_METHOD.id, 2): 1}

    def test_without_a_topic_nothing_is_judged(self, corpus: Corpus, tmp_path: Path) -> None:
        feed = write_feed(tmp_path, WEEK)
        first = ingest_feed_file(corpus, feed)
        again = ingest_feed_file(corpus, feed)

        assert (counts(first), counts(again)) == ((3, 0, 0), (0, 0, 3))
        assert verdicts(corpus) == {} and filed_under(corpus) == set()


class TestVerdicts:
    def test_papers_stored_without_a_topic_are_judged_when_it_comes(
        self, corpus: Corpus, shared_arxiv: Path
    ) -> None:
        """A real cs.AI/cs.LG day stored with no topic, then with post-train: every paper is
        judged once (the one true post-training paper filed), and not again after."""
        path = shared_arxiv / REAL_AI_DAY
        expected = {
            p.id
            for p in read_feed_file(path).results
            if POST_TRAIN.matches(p.title, p.abstract, p.categories)
        }
        assert expected == {"2607.09492"}

        plain = ingest_feed_file(corpus, path)
        judged = ingest_feed_file(corpus, path, POST_TRAIN)
        again = ingest_feed_file(corpus, path, POST_TRAIN)

        assert counts(plain) == (50, 0, 0) and plain.filed == 0
        assert (counts(judged), judged.filed) == ((0, 0, 50), 1)
        assert (counts(again), again.filed) == ((0, 0, 50), 1)
        assert filed_under(corpus) == expected and len(verdicts(corpus)) == 50

    def test_the_real_listings_week_files_what_a_full_parse_matches(
        self, corpus: Corpus, shared_arxiv: Path
    ) -> None:
        """The 2,489-paper week the bench re-ingests: filed on the first ingest and the
        re-ingest exactly as matching every parsed paper files."""
        path = shared_arxiv / "feeds" / "listings_2026-05-14_to_05-21_all.atom.xml"
        parsed = read_feed_file(path).results
        expected = [p.id for p in parsed if POST_TRAIN.matches(p.title, p.abstract, p.categories)]

        first = ingest_feed_file(corpus, path, POST_TRAIN)
        again = ingest_feed_file(corpus, path, POST_TRAIN)

        assert counts(first) == (2489, 0, 0) and counts(again) == (0, 0, 2489)
        assert first.filed == again.filed == len(expected) == 74
        assert filed_under(corpus) == set(expected)

    @pytest.mark.parametrize("edit", ["exclude", "include", "categories"])
    def test_an_edited_topic_judges_every_paper_again(self, corpus: Corpus, edit: str) -> None:
        """Same topic name, another rule: the stored "no" verdicts are stale, and Kestrel
        (cs.LG, "reward models", mentions GRPO) is filed once the edit lets it in."""
        strict = Topic(
            name="calibration",
            title="Calibration",
            categories=("cs.LG",),
            include=(("reward model",),),
            exclude=("grpo",),
        )
        loose = {
            "exclude": dataclasses.replace(strict, exclude=()),
            "include": dataclasses.replace(strict, include=(("grpo",),), exclude=()),
            "categories": dataclasses.replace(strict, categories=("cs.CL",), exclude=()),
        }[edit]
        feed = FEEDS / "current-3.atom.xml"

        before = ingest_feed_file(corpus, feed, strict)
        assert before.filed == 0 and filed_under(corpus, "calibration") == set()

        after = ingest_feed_file(corpus, feed, loose)

        assert counts(after) == (0, 0, 3) and "2606.00011" in filed_under(corpus, "calibration")
        assert strict.rule() != loose.rule()

    def test_a_rule_is_the_same_for_an_equal_topic(self) -> None:
        """Only what matching judges by: the title and style are not part of the rule."""
        renamed = dataclasses.replace(POST_TRAIN, title="Another title", style="brief")
        assert renamed.rule() == POST_TRAIN.rule() and len(POST_TRAIN.rule()) == 16


class TestMalformed:
    def test_blank_entries_are_counted_on_every_ingest(self, corpus: Corpus) -> None:
        feed = FEEDS / "legacy-blank-entries.atom.xml"
        first = ingest_feed_file(corpus, feed, POST_TRAIN)
        again = ingest_feed_file(corpus, feed, POST_TRAIN)

        assert (counts(first), first.skipped) == ((1, 0, 0), 2)
        assert (counts(again), again.skipped) == ((0, 0, 1), 2)

    def test_a_broken_copy_of_a_stored_feed_is_refused_and_changes_nothing(
        self, corpus: Corpus, tmp_path: Path
    ) -> None:
        """The file is checked whole even when every paper in it is held: a truncated copy
        of an ingested feed is an error, not a shorter unchanged list."""
        feed = FEEDS / "current-3.atom.xml"
        ingest_feed_file(corpus, feed, POST_TRAIN)
        before = verdicts(corpus), filed_under(corpus)
        broken = tmp_path / "cut.atom.xml"
        broken.write_bytes(feed.read_bytes()[:-40])

        with pytest.raises(FeedError, match="not a complete XML document"):
            ingest_feed_file(corpus, broken, POST_TRAIN)

        assert corpus.count_papers() == 3 and (verdicts(corpus), filed_under(corpus)) == before

    def test_an_error_feed_is_refused_over_a_full_corpus(self, corpus: Corpus) -> None:
        ingest_feed_file(corpus, FEEDS / "current-3.atom.xml", POST_TRAIN)
        with pytest.raises(FeedError, match="incorrect id format for nonsense"):
            ingest_feed_file(corpus, FEEDS / "error-400.atom.xml", POST_TRAIN)
        assert corpus.count_papers() == 3


def statements_of(corpus: Corpus) -> list[str]:
    """Every SQL statement the corpus's connection runs from now on, in order."""
    seen: list[str] = []
    with corpus.reading() as db:
        db.conn.set_trace_callback(seen.append)
    return seen


class TestOneTransaction:
    @pytest.mark.parametrize("run", ["first", "again", "changed"])
    def test_one_begin_immediate_per_feed_and_every_read_and_write_inside_it(
        self, corpus: Corpus, tmp_path: Path, run: str
    ) -> None:
        """The stored versions and verdicts are read inside the write transaction: no
        other writer can change them between the decision and the write."""
        feed = write_feed(tmp_path, WEEK)
        if run != "first":
            ingest_feed_file(corpus, feed, POST_TRAIN)
        if run == "changed":
            feed = write_feed(tmp_path, [dataclasses.replace(ON_TOPIC, version=2, updated=LATER)])
        seen = statements_of(corpus)

        ingest_feed_file(corpus, feed, POST_TRAIN)

        assert seen.count("BEGIN IMMEDIATE") == 1 and seen.count("COMMIT") == 1
        begin, commit = seen.index("BEGIN IMMEDIATE"), seen.index("COMMIT")
        for sql in seen[:begin] + seen[commit + 1 :]:
            assert not sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE")), sql
        assert any("FROM papers" in sql for sql in seen[begin:commit])

    @pytest.mark.parametrize("table", ["topic_papers", "topic_checks"])
    def test_a_write_that_fails_leaves_no_paper_and_no_verdict(
        self, corpus: Corpus, tmp_path: Path, table: str
    ) -> None:
        feed = write_feed(tmp_path, WEEK)
        with corpus.writing() as db:
            db.conn.execute(
                f"CREATE TRIGGER boom BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )

        with pytest.raises(StorageError, match="disk is full"):
            ingest_feed_file(corpus, feed, POST_TRAIN)

        assert corpus.count_papers() == 0 and verdicts(corpus) == {}
        assert filed_under(corpus) == set()
        with corpus.writing() as db:
            db.conn.execute("DROP TRIGGER boom")
        report = ingest_feed_file(corpus, feed, POST_TRAIN)
        assert (counts(report), report.filed, len(verdicts(corpus))) == ((3, 0, 0), 1, 3)


# A fresh process ingests the feed and SIGKILLs itself as its transaction writes the last
# table (the verdicts), after the papers and the filing went in.
_KILLED_CHILD = """
import os, signal, sys
from digest.ingest import ingest_feed_file
from digest.topics import POST_TRAIN
from storage import open_corpus
corpus = open_corpus(sys.argv[1])
def kill_at_verdicts(sql):
    if sql.startswith("INSERT OR REPLACE INTO topic_checks"):
        os.kill(os.getpid(), signal.SIGKILL)
with corpus.reading() as db:
    db.conn.set_trace_callback(kill_at_verdicts)
ingest_feed_file(corpus, sys.argv[2], POST_TRAIN)
"""


def ingest_and_die(db: Path, feed: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_CHILD, str(db), str(feed)],
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    return done.returncode


@pytest.mark.slow
class TestKilled:
    def test_a_killed_first_ingest_leaves_nothing(self, tmp_path: Path) -> None:
        db = tmp_path / "corpus.db"
        assert ingest_and_die(db, write_feed(tmp_path, WEEK)) == -9

        with open_corpus(db) as corpus:
            assert corpus.count_papers() == 0
            assert filed_under(corpus) == set() and verdicts(corpus) == {}

    def test_a_killed_reingest_of_a_new_version_leaves_the_old_one_whole(
        self, tmp_path: Path
    ) -> None:
        db = tmp_path / "corpus.db"
        with open_corpus(db) as corpus:
            ingest_feed_file(corpus, write_feed(tmp_path, WEEK, "v1.xml"), POST_TRAIN)
            before = verdicts(corpus)
        v2 = dataclasses.replace(NO_METHOD, version=2, updated=LATER, summary="DPO for LLMs.")
        feed = write_feed(tmp_path, [ON_TOPIC, v2, WRONG_FIELD], "v2.xml")

        assert ingest_and_die(db, feed) == -9

        with open_corpus(db) as corpus:
            assert corpus.get_paper(NO_METHOD.id).version == 1  # type: ignore[union-attr]
            assert filed_under(corpus) == {ON_TOPIC.id} and verdicts(corpus) == before
            report = ingest_feed_file(corpus, feed, POST_TRAIN)  # and the next run stores it
            assert (counts(report), report.filed) == ((0, 1, 2), 2)
