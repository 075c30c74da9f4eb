"""Bounded full-text lookups over the papers, for answering questions on a large corpus.

Ranking is `Corpus.search`'s (exact BM25). These are the other lookups the question path
needs, each with a bounded cost whatever the corpus's size:

- `document_frequencies`: how many papers hold each word, counted only up to a cap (reading
  at most `cap` postings), so common words can be told from rare ones cheaply;
- `title_prefix`: papers whose title has a word starting with a prefix (typo tolerance),
  newest first (FTS5 walks its posting lists newest rowid first and stops at the limit);
- `in_window`: papers of a time window matching a query, likewise;
- the stored digests, newest first.

Every query text passed here must already be a safe FTS5 expression built from quoted words
(`phrase`, `any_of`, `all_of`); the joins are CROSS JOINs so that SQLite always walks the
FTS index first instead of probing it once per row of another table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from storage.corpus import Corpus, StoredDigest, capped_counts


def phrase(word: str) -> str:
    """One word (or several, as a phrase) quoted for FTS5."""
    return '"' + word.replace('"', '""') + '"'


def any_of(words: Sequence[str]) -> str:
    """A query matching papers with any of the words."""
    return " OR ".join(phrase(w) for w in words)


def all_of(words: Sequence[str]) -> str:
    """A query matching papers with every one of the words."""
    return " ".join(phrase(w) for w in words)


class PaperSearch:
    """The bounded lookups above, over one corpus."""

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus

    def stamp(self) -> int:
        """A number that changes when papers are added (the highest rowid): for caches."""
        with self._corpus.reading() as db:
            row = db.execute("SELECT max(rowid) FROM papers").fetchone()
        return int(row[0] or 0)

    def document_frequencies(self, words: Sequence[str], cap: int) -> dict[str, int]:
        """How many papers contain each word (stemmed as the index is), counted up to `cap`:
        a value of `cap` means "at least that many"."""
        with self._corpus.reading() as db:
            return capped_counts(db.conn, words, cap)

    def title_prefix(self, prefix: str, *, limit: int) -> list[str]:
        """Ids of the newest papers with a title word starting with `prefix` (>= 3 chars)."""
        if len(prefix) < 3:
            return []
        match = "{title} : " + phrase(prefix) + "*"
        sql = (
            "SELECT p.id FROM (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?"
            " ORDER BY rowid DESC LIMIT ?) s CROSS JOIN papers p ON p.rowid = s.rowid"
            " ORDER BY s.rowid DESC"
        )
        with self._corpus.reading() as db:
            return [row[0] for row in db.execute(sql, [match, limit])]

    def digests_stamp(self) -> tuple[int, int]:
        """(count, highest id) of the stored digests: changes whenever one is stored."""
        with self._corpus.reading() as db:
            row = db.execute("SELECT count(*), coalesce(max(id), 0) FROM digests").fetchone()
        return int(row[0]), int(row[1])

    def recent_digests(self, limit: int, topic: str | None = None) -> list[StoredDigest]:
        """The stored digests of every topic (or of one), newest window first."""
        sql = "SELECT id FROM digests"
        params: list[object] = []
        if topic is not None:
            sql += " WHERE topic = ?"
            params.append(topic)
        sql += " ORDER BY until DESC, generated_at DESC, id DESC LIMIT ?"
        params.append(limit)
        with self._corpus.reading() as db:
            ids = [row[0] for row in db.execute(sql, params)]
        found = (self._corpus.get_digest(i) for i in ids)
        return [d for d in found if d is not None]

    def in_window(
        self,
        match: str | None,
        since: date,
        until: date,
        *,
        limit: int,
        topic: str | None = None,
    ) -> list[str]:
        """Ids of papers first submitted on the UTC days since..until (inclusive) that match
        `match`, most recently stored first (every paper of the window, newest first, when
        `match` is None).

        Bounded on a large corpus: the `published` index gives the window's rowid range
        (papers are stored about as they appear, so a window's rowids lie close together),
        and FTS5 walks the match's postings only inside that range, newest first, stopping
        at `limit` papers of the window."""
        start = f"{max(since, date(1, 1, 2)).isoformat()}T00:00:00Z"
        end = (
            f"{(until + timedelta(days=1)).isoformat()}T00:00:00Z"
            if until < date.max - timedelta(days=1)
            else "9999-12-31T23:59:59Z"
        )
        if match is None:
            sql = "SELECT p.id FROM papers p"
            params: list[object] = []
            if topic is not None:
                sql += " JOIN topic_papers t ON t.paper_id = p.id AND t.topic = ?"
                params.append(topic)
            sql += " WHERE p.published >= ? AND p.published < ? ORDER BY p.published DESC, p.id"
            with self._corpus.reading() as db:
                return [
                    row[0] for row in db.execute(f"{sql} LIMIT ?", [*params, start, end, limit])
                ]
        with self._corpus.reading() as db:
            low, high = db.execute(
                "SELECT min(rowid), max(rowid) FROM papers WHERE published >= ? AND published < ?",
                [start, end],
            ).fetchone()
            if low is None:
                return []
            inner = (
                "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?"
                " AND rowid BETWEEN ? AND ? ORDER BY rowid DESC"
            )
            params = [match, low, high]
            sql = f"SELECT p.id FROM ({inner}) s CROSS JOIN papers p ON p.rowid = s.rowid"
            if topic is not None:
                sql += " CROSS JOIN topic_papers t ON t.paper_id = p.id AND t.topic = ?"
                params.append(topic)
            sql += " WHERE p.published >= ? AND p.published < ? LIMIT ?"
            params += [start, end, limit]
            return [row[0] for row in db.execute(sql, params)]
