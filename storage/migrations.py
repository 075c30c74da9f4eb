"""Named, ordered schema migrations, each recorded in the `_migrations` table once applied.

Add a migration by appending to `MIGRATIONS`; never edit or reorder one that has shipped.
Each function must be safe to re-run on a database where it half-applied (sqlite-utils'
`enable_fts` commits on its own, so a migration cannot rely on rolling back as one unit).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded only when a write needs it (storage.lazydb)
    import sqlite_utils

Migration = Callable[["sqlite_utils.Database"], None]


def _papers(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS papers (
            id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            title TEXT NOT NULL,
            abstract TEXT NOT NULL,
            authors TEXT NOT NULL,          -- JSON list of names
            categories TEXT NOT NULL,       -- JSON list, primary first
            primary_category TEXT NOT NULL,
            published TEXT NOT NULL,        -- UTC, ISO 8601 with Z: sorts as text
            updated TEXT NOT NULL,
            comment TEXT,
            journal_ref TEXT,
            doi TEXT,
            first_seen TEXT NOT NULL,
            last_changed TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS papers_published ON papers(published)")
    # Porter stemming so "rewards" finds "reward"; triggers keep the index current on every
    # insert, update and delete, so no code path can forget to reindex.
    db.table("papers").enable_fts(
        ["title", "abstract", "authors"], create_triggers=True, tokenize="porter", replace=True
    )


def _topic_fetches(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS topic_papers (
            topic TEXT NOT NULL,
            paper_id TEXT NOT NULL REFERENCES papers(id),
            added_at TEXT NOT NULL,
            PRIMARY KEY (topic, paper_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS fetches (
            topic TEXT NOT NULL,
            since TEXT NOT NULL,
            until TEXT NOT NULL,
            query TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            complete INTEGER NOT NULL,
            paper_count INTEGER NOT NULL,
            PRIMARY KEY (topic, since, until)
        )
        """
    )


def _digests(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS digests (
            id INTEGER PRIMARY KEY,
            topic TEXT NOT NULL,
            since TEXT NOT NULL,
            until TEXT NOT NULL,
            engine TEXT NOT NULL,
            generated_at TEXT NOT NULL,
            body TEXT NOT NULL              -- the digest as JSON (the --format json contract)
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS digests_topic ON digests(topic, until)")


def _post_ledger(db: sqlite_utils.Database) -> None:
    # One row per message of a posted digest, written before ("sending") and after ("sent")
    # the platform call: the truth for exactly-once posting across crashes and re-runs.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS post_ledger (
            channel TEXT NOT NULL,          -- "<platform>:<channel id>"
            topic TEXT NOT NULL,
            since TEXT NOT NULL,
            until TEXT NOT NULL,
            part TEXT NOT NULL,             -- "parent", a section key, "catalog", "themes#2"
            position INTEGER NOT NULL,      -- order in the thread; the parent is 0
            state TEXT NOT NULL,            -- "sending" or "sent"
            message_ref TEXT,               -- the platform's id of the posted message
            thread_ref TEXT,                -- where the replies go (the platform's thread id)
            digest_id INTEGER,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (channel, topic, since, until, part)
        )
        """
    )


def _subscriptions(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS subscriptions (
            channel TEXT NOT NULL,
            topic TEXT NOT NULL,
            weekday TEXT NOT NULL,          -- mon..sun
            time TEXT NOT NULL,             -- HH:MM, in `timezone`
            timezone TEXT NOT NULL,         -- IANA name
            created_by TEXT NOT NULL,       -- user id, or "config"
            created_at TEXT NOT NULL,
            PRIMARY KEY (channel, topic)
        )
        """
    )


def _fulltext_chunks(db: sqlite_utils.Database) -> None:
    # A paper's full text (arXiv HTML, or its PDF), fetched on demand for questions: one row
    # per fetch attempt (a failure is remembered too, so a paper without HTML is not fetched
    # again on every question), and the text in section-labelled chunks.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS fulltext_docs (
            paper_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,           -- "ok" or "unavailable"
            source TEXT NOT NULL,           -- "html", "pdf", or "" when unavailable
            url TEXT NOT NULL,
            detail TEXT NOT NULL,           -- why it is unavailable; "" when ok
            chars INTEGER NOT NULL,
            fetched_at TEXT NOT NULL        -- UTC, ISO 8601 with Z
        )
        """
    )
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS fulltext_chunks (
            id INTEGER PRIMARY KEY,
            paper_id TEXT NOT NULL REFERENCES fulltext_docs(paper_id) ON DELETE CASCADE,
            position INTEGER NOT NULL,      -- order in the paper
            section TEXT NOT NULL,          -- "3.2 Reward Model", "Abstract", "page 4"
            text TEXT NOT NULL,
            UNIQUE (paper_id, position)
        )
        """
    )
    # Written by hand rather than with enable_fts (which commits on its own) so that every
    # statement is IF NOT EXISTS and a half-applied run can simply be repeated. Porter
    # stemming, as for the papers; triggers keep the index current on every write.
    db.execute(
        """
        CREATE VIRTUAL TABLE IF NOT EXISTS fulltext_chunks_fts USING fts5(
            section, text, content='fulltext_chunks', content_rowid='id', tokenize='porter'
        )
        """
    )
    db.execute(
        """
        CREATE TRIGGER IF NOT EXISTS fulltext_chunks_ai AFTER INSERT ON fulltext_chunks BEGIN
            INSERT INTO fulltext_chunks_fts (rowid, section, text)
            VALUES (new.id, new.section, new.text);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER IF NOT EXISTS fulltext_chunks_ad AFTER DELETE ON fulltext_chunks BEGIN
            INSERT INTO fulltext_chunks_fts (fulltext_chunks_fts, rowid, section, text)
            VALUES ('delete', old.id, old.section, old.text);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER IF NOT EXISTS fulltext_chunks_au AFTER UPDATE ON fulltext_chunks BEGIN
            INSERT INTO fulltext_chunks_fts (fulltext_chunks_fts, rowid, section, text)
            VALUES ('delete', old.id, old.section, old.text);
            INSERT INTO fulltext_chunks_fts (rowid, section, text)
            VALUES (new.id, new.section, new.text);
        END
        """
    )


def _questions(db: sqlite_utils.Database) -> None:
    # Questions asked about papers, for the papers' web pages: the text and the time only.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS questions (
            id INTEGER PRIMARY KEY,
            question TEXT NOT NULL,
            asked_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS question_papers (
            question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
            paper_id TEXT NOT NULL,
            PRIMARY KEY (question_id, paper_id)
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS question_papers_paper ON question_papers(paper_id)")


def _post_claims(db: sqlite_utils.Database) -> None:
    # One row per digest per channel: who is posting it now (owner + lease, so processes
    # sharing the file post each part once, and a dead owner's claim lapses) and how it
    # ended ("posting" until every part is sent, then "done"; "failed" when the platform
    # refused for good, so it is not resumed at every start).
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS post_claims (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            topic TEXT NOT NULL,
            since TEXT NOT NULL,
            until TEXT NOT NULL,
            state TEXT NOT NULL,            -- "posting", "done" or "failed"
            owner TEXT,                     -- "host:pid:token" while claimed, else NULL
            lease_until REAL NOT NULL,      -- unix time the claim lapses unless renewed
            error TEXT NOT NULL,            -- the last failure, "" when none
            updated_at TEXT NOT NULL,
            UNIQUE (channel, topic, since, until)
        )
        """
    )


def _bm25_index(db: sqlite_utils.Database) -> None:
    # Our own postings of the papers' terms, for exact BM25 ranking without FTS5's bm25()
    # (storage/bm25_index.py); the papers stored so far are indexed now. Safe to re-run: a
    # half-built index is dropped first.
    from storage import bm25_index

    for table in ("bm25_meta", "bm25_segments", "bm25_postings", "bm25_docs", "bm25_dead"):
        db.execute(f"DROP TABLE IF EXISTS {table}")
    bm25_index.create(db.conn)
    bm25_index.index_all(db.conn)


def _topic_checks(db: sqlite_utils.Database) -> None:
    # A topic filter's verdict on a version of a paper (storage/feedstate.py): a re-ingest
    # reuses it instead of parsing and judging the unchanged paper again. `rule`
    # fingerprints the topic's definition; a verdict under another rule is stale, and is
    # replaced when the paper is judged under the new one. No foreign key: a verdict is
    # written in its paper's transaction, and papers are never deleted.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS topic_checks (
            topic TEXT NOT NULL,
            paper_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            updated TEXT NOT NULL,          -- as papers.updated: UTC, ISO 8601 with Z
            rule TEXT NOT NULL,
            matched INTEGER NOT NULL,
            PRIMARY KEY (topic, paper_id, version, updated)
        ) WITHOUT ROWID
        """
    )


MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_papers_and_fts", _papers),
    ("0002_topic_papers_and_fetches", _topic_fetches),
    ("0003_digests", _digests),
    ("0004_post_ledger", _post_ledger),
    ("0005_subscriptions", _subscriptions),
    ("0006_fulltext_chunks", _fulltext_chunks),
    ("0007_questions", _questions),
    ("0008_post_claims", _post_claims),
    ("0009_bm25_index", _bm25_index),
    ("0010_topic_checks", _topic_checks),
]


def applied(db: sqlite_utils.Database) -> set[str]:
    """Names of the migrations this database has recorded."""
    # Plain SQL rather than db["_migrations"].exists(): opening a database that needs no
    # migration then never loads sqlite_utils (see storage.lazydb).
    found = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if found is None:
        return set()
    return {row["name"] for row in db.query("SELECT name FROM _migrations")}


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration the database lacks, in order; return the names applied."""
    if {name for name, _ in MIGRATIONS} <= applied(db):
        return []  # the usual case, decided with a SELECT (no sqlite_utils import)
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = applied(db)
    newly: list[str] = []
    for name, migration in MIGRATIONS:
        if name in done:
            continue
        with db.conn:
            migration(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                [name, datetime.now(UTC).isoformat(timespec="seconds")],
            )
        newly.append(name)
    return newly
