"""The corpus: one SQLite database holding papers (with FTS5), topic fetches and digests.

One connection guarded by a lock, so the bot's threads (command handlers, scheduler) can
share a `Corpus`. sqlite3 errors are translated here into `StorageError`s.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import unquote, urlsplit

from storage import bm25_index
from storage.errors import DatabaseDamaged, DatabaseReadOnly, DatabaseUnavailable, StorageError
from storage.feedstate import FeedBatch, HeldPapers, TopicVerdict, read_held
from storage.ids import parse_arxiv_id
from storage.lazydb import LazyDatabase
from storage.migrations import MIGRATIONS, applied, migrate
from storage.records import FetchRecord, Paper

# sqlite_utils (0.2 s to import: it loads numpy) is imported by `LazyDatabase` only when a
# command writes; reads run on the plain sqlite3 connection.
if TYPE_CHECKING:
    import sqlite_utils

    from storage.bm25 import Ranker

_CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit
_FTS_TOKEN = re.compile(r"\w+", re.UNICODE)
# `Corpus.search` lets FTS5's bm25() rank a corpus of at most FTS5_ROWS papers, or words
# with fewer than FTS5_POSTINGS papers between them: its cost grows with the postings it
# scores (about 0.6 us each, measured on 2,500-20,000 papers), so these bound it to ~10 ms
# and ~3 ms, and a one-question command on a small corpus never loads numpy.
FTS5_ROWS = 5_000
FTS5_POSTINGS = 5_000


def default_database_path() -> Path:
    """Where the corpus lives unless DIGESTBOT_DB or the config says otherwise."""
    import platformdirs

    return platformdirs.user_data_path("digestbot") / "digestbot.db"


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """What an upsert did: papers it had never seen, newer versions, and no-ops."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.new + other.new, self.updated + other.updated, self.unchanged + other.unchanged
        )

    @property
    def total(self) -> int:
        return self.new + self.updated + self.unchanged


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A full-text match: the paper and its BM25 score (lower is better, as SQLite gives it)."""

    paper: Paper
    score: float


@dataclass(frozen=True, slots=True)
class StoredDigest:
    """A digest as it was stored: the JSON body plus the columns it is found by."""

    id: int
    topic: str
    since: date
    until: date
    engine: str
    generated_at: datetime
    body: dict


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_start(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _parse_moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _paper_row(paper: Paper, now: str) -> dict:
    return {
        "id": paper.id,
        "version": paper.version,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": json.dumps(list(paper.authors), ensure_ascii=False),
        "categories": json.dumps(list(paper.categories)),
        "primary_category": paper.primary_category,
        "published": _iso(paper.published),
        "updated": _iso(paper.updated),
        "comment": paper.comment,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
        "first_seen": now,
        "last_changed": now,
    }


def _paper_from_row(row: sqlite3.Row | dict) -> Paper:
    return Paper(
        id=row["id"],
        version=row["version"],
        title=row["title"],
        abstract=row["abstract"],
        authors=tuple(json.loads(row["authors"])),
        categories=tuple(json.loads(row["categories"])),
        primary_category=row["primary_category"],
        published=_parse_moment(row["published"]),
        updated=_parse_moment(row["updated"]),
        comment=row["comment"],
        journal_ref=row["journal_ref"],
        doi=row["doi"],
    )


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


BM25_WEIGHTS = ", ".join(f"{w:.1f}" for w in bm25_index.COLUMN_WEIGHTS)  # "5.0, 1.0, 2.0"


def fts_words(text: str) -> list[str]:
    """The words of user text that `fts_query` quotes (at most 64)."""
    return _FTS_TOKEN.findall(text or "")[:64]


def fts_query(text: str, *, any_term: bool = False) -> str | None:
    """User text made safe for FTS5: each word quoted, so `c++ AND (` is just two words.

    All words must match unless `any_term`, which ORs them (for loose question matching).
    None when the text has no searchable word at all.
    """
    words = fts_words(text)
    if not words:
        return None
    quoted = ['"' + word.replace('"', '""') + '"' for word in words]
    return (" OR " if any_term else " ").join(quoted)


def capped_counts(conn: sqlite3.Connection, words: Sequence[str], cap: int) -> dict[str, int]:
    """How many papers contain each word (as FTS5 reads it), counted up to `cap`: a value of
    `cap` means "at least that many". At most `cap` rowids are read per word."""
    unique = list(dict.fromkeys(words))
    if not unique:
        return {}
    # One statement for all the words: one round trip instead of one per word.
    probe = "(SELECT count(*) FROM (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ? LIMIT ?))"
    params: list[object] = []
    for word in unique:
        params += ['"' + word.replace('"', '""') + '"', cap]
    row = conn.execute("SELECT " + ", ".join([probe] * len(unique)), params).fetchone()
    return {word: int(count) for word, count in zip(unique, row, strict=True)}


class Corpus:
    """The papers, topic fetches and digests in one SQLite file; safe to share across threads."""

    def __init__(self, db: sqlite_utils.Database, path: str, *, read_only: bool = False) -> None:
        self._db = db
        self.path = path
        self.read_only = read_only  # opened with mode=ro: callers skip what only caches
        self._depth = 0  # nesting of `writing` blocks (the lock is re-entrant)
        self._lock = threading.RLock()
        self._ranker: Ranker | None = None  # the ranked search's state, made by the first search

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as err:
            if "readonly" in str(err) or "read-only" in str(err):
                raise DatabaseReadOnly(
                    f"the database {self.path} is read-only: make it writable or point "
                    "DIGESTBOT_DB at another file"
                ) from err
            raise StorageError(f"the database {self.path} failed: {err}") from err
        except sqlite3.DatabaseError as err:
            if "malformed" in str(err):
                raise DatabaseDamaged(damaged_message(self.path)) from err
            raise DatabaseUnavailable(
                f"{self.path} is not a digestbot database ({err}): point DIGESTBOT_DB at "
                "another file"
            ) from err

    @contextmanager
    def reading(self) -> Iterator[sqlite_utils.Database]:
        """The database for reads, under the corpus lock, with errors translated."""
        with self._lock, self._translated():
            yield self._db

    @contextmanager
    def writing(self) -> Iterator[sqlite_utils.Database]:
        """A transaction under the corpus lock: everything inside is written, or nothing is.
        Other storage modules (ledger, subscriptions, full text) build on this.

        The transaction is opened explicitly, and with SQLite's write lock taken at once
        (BEGIN IMMEDIATE): sqlite-utils' write helpers commit on their own when no
        transaction is open yet (a feed's papers were committed with none filed under the
        topic), and a read followed by a write is one atomic step across processes (what
        the post ledger's claims rely on). Nested use joins the outer transaction."""
        with self._lock, self._translated():
            conn = self._db.conn
            if self._depth:
                yield self._db
                return
            if conn.in_transaction:
                # Something outside `writing` left a statement's implicit transaction open;
                # end it, or BEGIN fails and this transaction would never commit.
                conn.commit()
            conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._db
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
            finally:
                self._depth -= 1
            conn.commit()

    immediate = writing  # the name the ledger's claims use, for what they rely on

    def quick_check(self) -> list[str]:
        """SQLite's PRAGMA quick_check: [] when the file is sound, else what is damaged."""
        with self._lock:
            try:
                rows = self._db.conn.execute("PRAGMA quick_check").fetchall()
            except sqlite3.DatabaseError as err:  # damage can stop the check itself
                return [str(err)]
        problems = [str(row[0]) for row in rows]
        return [] if problems == ["ok"] else problems

    def backup(self, target: str | Path) -> None:
        """Copy the database to `target` with SQLite's online backup API: a consistent copy
        even while the bot writes."""
        path = Path(target).expanduser()
        try:
            copy = sqlite3.connect(str(path))
        except sqlite3.Error as err:
            raise StorageError(f"cannot write the backup {path}: {err}") from err
        try:
            with self._lock:
                self._db.conn.backup(copy)
        except sqlite3.Error as err:
            raise StorageError(f"the backup to {path} failed: {err}") from err
        finally:
            copy.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Corpus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- papers -----------------------------------------------------------------------------

    def upsert_papers(self, papers: Iterable[Paper]) -> UpsertCounts:
        """Store papers by id without version: a newer version replaces the row, an equal or
        older one changes nothing. One transaction."""
        with self.writing() as db:
            return self._upsert(db, papers)

    def _upsert(self, db: sqlite_utils.Database, papers: Iterable[Paper]) -> UpsertCounts:
        incoming: dict[str, Paper] = {}
        for paper in papers:
            held = incoming.get(paper.id)
            # A feed can list one paper twice (cross-list and replacement): keep the newest.
            if held is None or (paper.version, paper.updated) > (held.version, held.updated):
                incoming[paper.id] = paper
        known: dict[str, tuple[int, str]] = {}
        for chunk in _chunks(list(incoming)):
            marks = ",".join("?" * len(chunk))
            for row in db.execute(
                f"SELECT id, version, updated FROM papers WHERE id IN ({marks})", list(chunk)
            ):
                known[row[0]] = (row[1], row[2])
        now = _iso(datetime.now(UTC))
        new_rows, changed_rows = [], []
        for paper in incoming.values():
            stored = known.get(paper.id)
            if stored is None:
                new_rows.append(_paper_row(paper, now))
            elif (paper.version, _iso(paper.updated)) > stored:
                changed_rows.append(_paper_row(paper, now))
        # Plain statements, not sqlite-utils' insert_all/update: those open `with conn:` blocks
        # of their own, which commit the caller's transaction part-way (a kill or a full disk
        # then left papers stored with none filed under their topic).
        if new_rows:
            columns = list(new_rows[0])
            db.conn.executemany(
                f"INSERT INTO papers ({', '.join(columns)}) "
                f"VALUES ({', '.join(':' + c for c in columns)})",
                new_rows,
            )
        if changed_rows:
            columns = [c for c in changed_rows[0] if c not in ("id", "first_seen")]
            db.conn.executemany(
                f"UPDATE papers SET {', '.join(f'{c} = :{c}' for c in columns)} WHERE id = :id",
                changed_rows,
            )
        if new_rows or changed_rows:
            self._index(db, new_rows, changed_rows)
        return UpsertCounts(
            new=len(new_rows),
            updated=len(changed_rows),
            unchanged=len(incoming) - len(new_rows) - len(changed_rows),
        )

    def _index(self, db: sqlite_utils.Database, new_rows: list[dict], changed: list[dict]) -> None:
        """Add stored papers to the ranked search's postings (storage/bm25_index.py), in the
        same transaction: a replaced version's postings die with it."""
        rowid_of: dict[str, int] = {}
        for chunk in _chunks([r["id"] for r in (*new_rows, *changed)]):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, rowid FROM papers WHERE id IN ({marks})"
            rowid_of.update(db.execute(sql, list(chunk)).fetchall())
        bm25_index.index_papers(
            db.conn,
            [
                (rowid_of[r["id"]], r["title"], r["abstract"], r["authors"])
                for r in (*new_rows, *changed)
            ],
            replaced=[rowid_of[r["id"]] for r in changed],
        )

    def get_paper(self, ref: str) -> Paper | None:
        """The paper for an id in any common form (bare, versioned, arXiv:, URL, old style)."""
        parsed = parse_arxiv_id(ref)
        if parsed is None:
            return None
        found = self.get_papers([parsed.base])
        return found[0] if found else None

    def get_papers(self, ids: Sequence[str]) -> list[Paper]:
        """The stored papers among `ids` (bare ids), in the order asked."""
        rows: dict[str, Paper] = {}
        with self.reading() as db:
            for chunk in _chunks(list(dict.fromkeys(ids))):
                marks = ",".join("?" * len(chunk))
                for row in db.query(f"SELECT * FROM papers WHERE id IN ({marks})", list(chunk)):
                    rows[row["id"]] = _paper_from_row(row)
        return [rows[i] for i in ids if i in rows]

    def papers_in_window(self, since: date, until: date, topic: str | None = None) -> list[Paper]:
        """Papers first submitted on the UTC days since..until (inclusive), newest first;
        with `topic`, only those a fetch of that topic returned."""
        params: dict[str, str] = {
            "start": _day_start(since),
            "end": _day_start(until + timedelta(days=1)),
        }
        sql = "SELECT p.* FROM papers p"
        if topic is not None:
            sql += " JOIN topic_papers t ON t.paper_id = p.id AND t.topic = :topic"
            params["topic"] = topic
        sql += " WHERE p.published >= :start AND p.published < :end ORDER BY p.published DESC, p.id"
        with self.reading() as db:
            return [_paper_from_row(row) for row in db.query(sql, params)]

    def count_papers(self) -> int:
        with self.reading() as db:
            return db["papers"].count

    def search(
        self,
        text: str,
        *,
        limit: int = 10,
        any_term: bool = False,
        ids: Sequence[str] | None = None,
        topic: str | None = None,
    ) -> list[SearchHit]:
        """Full-text search (BM25 over title, abstract, authors; titles weigh most): the
        `limit` best matches by FTS5's bm25() with the weights 5, 1, 2, exactly.

        User text is always quoted word by word, so FTS5 syntax in it cannot fail the query.
        `ids` (a digest's papers, say) or `topic` (the papers filed under it) restrict the
        search. Who scores depends on how many postings there are to score: FTS5's bm25()
        when they are few (a small corpus, or only rare words: cheap, and numpy need not be
        loaded, which a one-question command would pay for), else our own postings
        (storage/bm25.py), which cost a fraction of FTS5 scoring every match of a broad
        query. FTS5 also ranks when a word is more than one term to it (a phrase, "a_b")
        or the postings do not cover the papers. Both give the same scores.
        """
        match = fts_query(text, any_term=any_term)
        if match is None or (ids is not None and not ids):
            return []
        words = fts_words(text)
        with self.reading() as db:
            conn = db.conn
            began = not conn.in_transaction
            if began:
                conn.execute("BEGIN")  # one snapshot for the postings and the papers
            try:
                rowids = self._restriction(conn, ids, topic)
                if rowids is not None and not rowids:
                    return []
                ranked = None
                if not self._few_postings(conn, words):
                    from storage.fts_tokens import tokenizer

                    phrases = [tokenizer().terms(word) for word in words]
                    if all(len(terms) == 1 for terms in phrases):
                        ranked = self._ranked_by_index(
                            conn, [t[0] for t in phrases], limit, any_term, rowids
                        )
                if ranked is None:
                    ranked = self._ranked_by_fts(conn, match, limit, rowids)
                papers = self._papers_by_rowid(db, [rowid for rowid, _ in ranked])
            finally:
                if began:
                    conn.commit()
        return [SearchHit(papers[rowid], score) for rowid, score in ranked if rowid in papers]

    @staticmethod
    def _restriction(
        conn: sqlite3.Connection, ids: Sequence[str] | None, topic: str | None
    ) -> list[int] | None:
        """The rowids a search is restricted to (None: every paper)."""
        rowids = None if ids is None else Corpus._rowids(conn, ids)
        if topic is not None:
            filed = [
                row[0]
                for row in conn.execute(
                    "SELECT p.rowid FROM topic_papers t JOIN papers p ON p.id = t.paper_id"
                    " WHERE t.topic = ?",
                    [topic],
                )
            ]
            rowids = filed if rowids is None else sorted(set(rowids) & set(filed))
        return rowids

    @staticmethod
    def _few_postings(conn: sqlite3.Connection, words: Sequence[str]) -> bool:
        """Whether FTS5's bm25() ranks these words about as fast as the postings would: a
        corpus of at most FTS5_ROWS papers, or words in fewer than FTS5_POSTINGS papers
        between them (counted word by word up to what is left: at most that many rowids
        are read in all)."""
        rows = conn.execute("SELECT max(rowid) FROM papers").fetchone()[0] or 0
        if rows <= FTS5_ROWS:
            return True
        left = FTS5_POSTINGS
        for word in dict.fromkeys(words):
            left -= capped_counts(conn, [word], left)[word]
            if left <= 0:
                return False
        return True

    def _ranked_by_index(
        self,
        conn: sqlite3.Connection,
        terms: list[str],
        limit: int,
        any_term: bool,
        rowids: Sequence[int] | None,
    ) -> list[tuple[int, float]] | None:
        """(rowid, score) of the best matches from the postings; None when they do not
        cover the papers FTS5 holds."""
        if self._ranker is None:
            from storage.bm25 import Ranker  # numpy: loaded by the first search only

            self._ranker = Ranker()
        if not self._ranker.usable(conn):
            return None
        return self._ranker.top(conn, terms, limit, any_term=any_term, rowids=rowids)

    @staticmethod
    def _ranked_by_fts(
        conn: sqlite3.Connection, match: str, limit: int, rowids: Sequence[int] | None
    ) -> list[tuple[int, float]]:
        """(rowid, score) of the best matches, FTS5 scoring every match with bm25()."""
        sql = (
            f"SELECT rowid, bm25(papers_fts, {BM25_WEIGHTS}) AS score FROM papers_fts"
            " WHERE papers_fts MATCH ?"
        )
        params: list[object] = [match]
        if rowids is not None:
            # The unary + keeps this a filter on the one match scan: offered to FTS5 as a rowid
            # constraint instead, the MATCH is rerun once per id.
            sql += " AND +rowid IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(rowids)))
        sql += " ORDER BY score, rowid LIMIT ?"
        params.append(limit)
        return [(int(r), float(s)) for r, s in conn.execute(sql, params)]

    @staticmethod
    def _rowids(conn: sqlite3.Connection, ids: Sequence[str]) -> list[int]:
        found: list[int] = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT rowid FROM papers WHERE id IN ({marks})"
            found += [row[0] for row in conn.execute(sql, list(chunk))]
        return found

    @staticmethod
    def _papers_by_rowid(db: sqlite_utils.Database, rowids: Sequence[int]) -> dict[int, Paper]:
        if not rowids:
            return {}
        marks = ",".join("?" * len(rowids))
        sql = f"SELECT rowid AS _rowid, * FROM papers WHERE rowid IN ({marks})"
        return {row["_rowid"]: _paper_from_row(row) for row in db.query(sql, list(rowids))}

    # -- topics and fetches -----------------------------------------------------------------

    def store_fetch(self, papers: Sequence[Paper], fetch: FetchRecord) -> UpsertCounts:
        """Store a topic's fetched window in one transaction: the papers, their membership in
        the topic, and the fetch record. A failure leaves the database as it was."""
        with self.writing() as db:
            counts = self._upsert(db, papers)
            self._add_to_topic(db, fetch.topic, [p.id for p in papers])
            # A plain statement for the same reason as in _upsert: one transaction, no commit
            # part-way.
            db.conn.execute(
                "INSERT OR REPLACE INTO fetches "
                "(topic, since, until, query, fetched_at, complete, paper_count) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    fetch.topic,
                    fetch.since.isoformat(),
                    fetch.until.isoformat(),
                    fetch.query,
                    _iso(fetch.fetched_at),
                    int(fetch.complete),
                    fetch.paper_count,
                ],
            )
            return counts

    def store_papers(
        self, papers: Sequence[Paper], topic: str | None = None, filed: Sequence[str] = ()
    ) -> UpsertCounts:
        """Store papers (from a saved feed, say) and file the ids in `filed` under `topic`.
        One transaction."""
        with self.writing() as db:
            counts = self._upsert(db, papers)
            if topic is not None:
                self._add_to_topic(db, topic, filed)
            return counts

    def store_feed(
        self,
        ids: Sequence[str],
        plan: Callable[[HeldPapers], FeedBatch],
        topic: str | None = None,
        rule: str = "",
    ) -> UpsertCounts:
        """Store a feed in one transaction, writing only what it changes.

        Inside the transaction (so no other writer can change the answer before the write),
        reads what the corpus holds for the feed's `ids`: their stored versions and, with
        `topic`, the stored verdicts of `rule` on them. `plan` turns that into the batch to
        write: papers to store, ids to file under `topic`, verdicts to keep. The feed's ids
        the batch leaves out count as unchanged."""
        with self.writing() as db:
            batch = plan(read_held(db, ids, topic, rule))
            counts = self._upsert(db, batch.papers)
            if topic is not None:
                self._add_to_topic(db, topic, batch.filed)
                _record_verdicts(db, topic, rule, batch.verdicts)
            untouched = set(ids).difference(p.id for p in batch.papers)
            return counts + UpsertCounts(unchanged=len(untouched))

    def _add_to_topic(self, db: sqlite_utils.Database, topic: str, ids: Iterable[str]) -> None:
        now = _iso(datetime.now(UTC))
        db.conn.executemany(
            "INSERT OR IGNORE INTO topic_papers (topic, paper_id, added_at) VALUES (?, ?, ?)",
            [(topic, paper_id, now) for paper_id in dict.fromkeys(ids)],
        )

    def last_fetch(self, topic: str, since: date, until: date) -> FetchRecord | None:
        """The record of the latest fetch of exactly this topic and window, if any."""
        with self.reading() as db:
            rows = list(
                db.query(
                    "SELECT * FROM fetches WHERE topic = ? AND since = ? AND until = ?",
                    [topic, since.isoformat(), until.isoformat()],
                )
            )
        if not rows:
            return None
        row = rows[0]
        return FetchRecord(
            topic=row["topic"],
            since=date.fromisoformat(row["since"]),
            until=date.fromisoformat(row["until"]),
            query=row["query"],
            fetched_at=_parse_moment(row["fetched_at"]),
            complete=bool(row["complete"]),
            paper_count=row["paper_count"],
        )

    def fetches_overlapping(self, topic: str, since: date, until: date) -> list[FetchRecord]:
        """Every recorded fetch of the topic whose window shares a day with since..until."""
        with self.reading() as db:
            rows = list(
                db.query(
                    "SELECT * FROM fetches WHERE topic = ? AND since <= ? AND until >= ? "
                    "ORDER BY since",
                    [topic, until.isoformat(), since.isoformat()],
                )
            )
        return [
            FetchRecord(
                topic=row["topic"],
                since=date.fromisoformat(row["since"]),
                until=date.fromisoformat(row["until"]),
                query=row["query"],
                fetched_at=_parse_moment(row["fetched_at"]),
                complete=bool(row["complete"]),
                paper_count=row["paper_count"],
            )
            for row in rows
        ]

    # -- digests ----------------------------------------------------------------------------

    def save_digest(
        self,
        *,
        topic: str,
        since: date,
        until: date,
        engine: str,
        generated_at: datetime,
        body: dict,
    ) -> int:
        """Store a digest (its JSON form); returns its row id."""
        with self.writing() as db:
            table = db.table("digests")
            table.insert(
                {
                    "topic": topic,
                    "since": since.isoformat(),
                    "until": until.isoformat(),
                    "engine": engine,
                    "generated_at": _iso(generated_at),
                    "body": json.dumps(body, ensure_ascii=False),
                }
            )
            return int(table.last_rowid or 0)

    def get_digest(self, digest_id: int) -> StoredDigest | None:
        with self.reading() as db:
            rows = list(db.query("SELECT * FROM digests WHERE id = ?", [digest_id]))
        return _stored_digest(rows[0]) if rows else None

    def latest_digest(self, topic: str, since: date, until: date) -> StoredDigest | None:
        """The most recently generated digest of exactly this topic and window."""
        with self.reading() as db:
            rows = list(
                db.query(
                    "SELECT * FROM digests WHERE topic = ? AND since = ? AND until = ? "
                    "ORDER BY generated_at DESC, id DESC LIMIT 1",
                    [topic, since.isoformat(), until.isoformat()],
                )
            )
        return _stored_digest(rows[0]) if rows else None

    def digests(
        self, topic: str, *, before: date | None = None, limit: int = 10
    ) -> list[StoredDigest]:
        """The topic's stored digests, newest window first; with `before`, only windows that
        ended before that day (the history a new digest compares itself with)."""
        sql = "SELECT * FROM digests WHERE topic = ?"
        params: list[object] = [topic]
        if before is not None:
            sql += " AND until < ?"
            params.append(before.isoformat())
        sql += " ORDER BY until DESC, id DESC LIMIT ?"
        params.append(limit)
        with self.reading() as db:
            rows = list(db.query(sql, params))
        return [_stored_digest(row) for row in rows]

    # -- reading for the web pages ----------------------------------------------------------

    def digests_naming(self, paper_id: str, *, limit: int = 20) -> list[StoredDigest]:
        """Stored digests whose catalog lists the paper (bare id), newest window first."""
        # instr() narrows by the quoted id in the JSON text; the catalog check below drops a
        # digest that only mentions the id in prose.
        with self.reading() as db:
            rows = list(
                db.query(
                    "SELECT * FROM digests WHERE instr(body, ?) > 0 "
                    "ORDER BY until DESC, id DESC LIMIT ?",
                    [f'"{paper_id}"', limit * 4],
                )
            )
        found = []
        for row in rows:
            stored = _stored_digest(row)
            if any(p.get("id") == paper_id for p in stored.body.get("papers", ())):
                found.append(stored)
        return found[:limit]

    def daily_counts(self, topic: str, since: date, until: date) -> dict[date, int]:
        """How many of the topic's papers were first submitted on each UTC day since..until
        (days without papers are absent): the topic's volume, without loading papers."""
        sql = (
            "SELECT substr(p.published, 1, 10) AS day, count(*) AS n FROM papers p"
            " JOIN topic_papers t ON t.paper_id = p.id AND t.topic = ?"
            " WHERE p.published >= ? AND p.published < ? GROUP BY day"
        )
        params = [topic, _day_start(since), _day_start(until + timedelta(days=1))]
        with self.reading() as db:
            return {date.fromisoformat(r["day"]): r["n"] for r in db.query(sql, params)}


def _record_verdicts(
    db: sqlite_utils.Database, topic: str, rule: str, verdicts: Sequence[TopicVerdict]
) -> None:
    """Keep topic verdicts, one per paper version (a feed can list a paper at two)."""
    db.conn.executemany(
        "INSERT OR REPLACE INTO topic_checks (topic, paper_id, version, updated, rule, matched)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(topic, v.paper_id, v.version, _iso(v.updated), rule, int(v.matched)) for v in verdicts],
    )


def _stored_digest(row: dict) -> StoredDigest:
    return StoredDigest(
        id=row["id"],
        topic=row["topic"],
        since=date.fromisoformat(row["since"]),
        until=date.fromisoformat(row["until"]),
        engine=row["engine"],
        generated_at=_parse_moment(row["generated_at"]),
        body=json.loads(row["body"]),
    )


def damaged_message(path: str) -> str:
    return f"the database {path} is damaged; restore it from a backup or re-create it"


def open_corpus(path: str | Path | None = None, *, read_only: bool = False) -> Corpus:
    """Open (creating if needed) the corpus at `path`, or in memory for ":memory:".

    Enables WAL and applies pending migrations. Raises `DatabaseUnavailable` with a sentence
    the user can act on when the file is not SQLite, is read-only, or cannot be created.
    With `read_only`, opens an existing, migrated file without writing anything to it.
    """
    target = str(path) if path is not None else str(default_database_path())
    if read_only:
        return _open_read_only(target)
    is_uri = target.startswith("file:")  # SQLite URI, e.g. file:/data/corpus.db?mode=ro
    if target != ":memory:" and not is_uri:
        parent = Path(target).expanduser().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DatabaseUnavailable(
                f"cannot create the directory for the database {target}: {err.strerror}"
            ) from err
        target = str(Path(target).expanduser())
    try:
        conn = sqlite3.connect(target, check_same_thread=False, timeout=15, uri=is_uri)
    except sqlite3.Error as err:
        raise DatabaseUnavailable(f"cannot open the database {target}: {err}") from err
    db = cast("sqlite_utils.Database", LazyDatabase(conn))
    corpus = Corpus(db, target)
    try:
        with corpus._translated():
            conn.execute("PRAGMA foreign_keys = ON")
            # Checked here first: enable_wal is sqlite_utils', and a WAL file (every one
            # but a new one) need not load it.
            wal = conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            if target != ":memory:" and not wal:
                db.enable_wal()
            migrate(db)
            # Fail now, with a clear sentence, rather than on the first write much later:
            # a write that is rolled back proves the file is writable.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('-probe-', '')")
            finally:
                conn.execute("ROLLBACK")
    except StorageError:
        conn.close()
        raise
    return corpus


def _open_read_only(target: str) -> Corpus:
    if target.startswith("file:"):  # a SQLite URI names the file in its path part
        target = unquote(urlsplit(target).path)
    path = Path(target).expanduser()
    if not path.is_file():
        raise DatabaseUnavailable(f"there is no database at {path}")
    # mode=ro reads a WAL database when its -shm file can be made; immutable=1 covers a
    # read-only directory, where it cannot (nothing can be writing it then).
    last: sqlite3.Error | None = None
    for flags in ("mode=ro", "immutable=1"):
        uri = f"{path.resolve().as_uri()}?{flags}"
        try:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=15)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as err:
            last = err
            continue
        db = cast("sqlite_utils.Database", LazyDatabase(conn))
        corpus = Corpus(db, str(path), read_only=True)
        try:
            with corpus._translated():
                missing = {name for name, _ in MIGRATIONS} - applied(db)
        except StorageError:
            conn.close()
            raise
        if missing:
            conn.close()
            raise DatabaseReadOnly(
                f"the database {path} is read-only and needs upgrading: make it writable once"
            )
        return corpus
    raise DatabaseUnavailable(f"cannot open the database {path} read-only: {last}")
