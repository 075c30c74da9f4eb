"""Bounded full-text lookups over the papers, for answering questions on a large corpus.

These lookups go through FTS5, whose bm25() must read the whole posting list of each word
(for its IDF) and score every match: over 200,000 papers an any-word question of three to
nine common words took 0.5-0.6 s that way. (`Corpus.search` now ranks exactly from postings
of its own, storage/bm25.py, in a few ms.) So the question path asks narrower questions,
each with a bounded cost, and the caller combines them:

- `document_frequencies`: how many papers hold each word, counted only up to a cap (reading
  at most `cap` postings), so common words can be told from rare ones cheaply;
- `ranked`: BM25 over words the caller knows to be rare (a bounded number of matches);
- `recent`: the most recently stored papers matching a query, unranked (FTS5 walks its
  posting lists newest rowid first and stops at the limit);
- `title_prefix`: papers whose title has a word starting with a prefix (typo tolerance).

Every query text passed here must already be a safe FTS5 expression built from quoted words
(`phrase`, `any_of`, `all_of`); the joins are CROSS JOINs so that SQLite always walks the
FTS index first instead of probing it once per row of another table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from storage.corpus import Corpus, StoredDigest

_BM25 = "bm25(papers_fts, 5.0, 1.0, 2.0)"  # title, abstract, authors: as Corpus.search


def phrase(word: str) -> str:
    """One word (or several, as a phrase) quoted for FTS5."""
    return '"' + word.replace('"', '""') + '"'


def any_of(words: Sequence[str]) -> str:
    """A query matching papers with any of the words."""
    return " OR ".join(phrase(w) for w in words)


def all_of(words: Sequence[str]) -> str:
    """A query matching papers with every one of the words."""
    return " ".join(phrase(w) for w in words)


@dataclass(frozen=True, slots=True)
class RankedId:
    """A paper id and its BM25 score for the query that found it (lower is better)."""

    id: str
    score: float


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
        unique = list(dict.fromkeys(words))
        if not unique:
            return {}
        # One statement for all the words: one round trip instead of one per word.
        probe = (
            "(SELECT count(*) FROM (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ? LIMIT ?))"
        )
        sql = "SELECT " + ", ".join([probe] * len(unique))
        params: list[object] = []
        for word in unique:
            params += [phrase(word), cap]
        with self._corpus.reading() as db:
            row = db.execute(sql, params).fetchone()
        return {word: int(count) for word, count in zip(unique, row, strict=True)}

    def ranked(self, match: str, *, limit: int, topic: str | None = None) -> list[RankedId]:
        """The best `limit` papers for `match` by BM25. Cost grows with the number of
        matches: pass only words known to be rare."""
        params: list[object] = [match]
        if topic is None:
            sql = (
                f"SELECT p.id AS id, s.score AS score FROM (SELECT rowid, {_BM25} AS score"
                " FROM papers_fts WHERE papers_fts MATCH ? ORDER BY score LIMIT ?) s"
                " CROSS JOIN papers p ON p.rowid = s.rowid ORDER BY s.score, p.id"
            )
        else:
            sql = (
                f"SELECT p.id AS id, {_BM25} AS score FROM papers_fts"
                " CROSS JOIN papers p ON p.rowid = papers_fts.rowid"
                " CROSS JOIN topic_papers t ON t.paper_id = p.id AND t.topic = ?"
                " WHERE papers_fts MATCH ? ORDER BY score, p.id LIMIT ?"
            )
            params = [topic, match]
        params.append(limit)
        with self._corpus.reading() as db:
            return [RankedId(row[0], float(row[1])) for row in db.execute(sql, params)]

    def recent(self, match: str, *, limit: int, topic: str | None = None) -> list[str]:
        """Ids of the most recently stored papers matching `match`, newest first, unranked.
        With `topic`, only a bounded window of the newest matches (20 times `limit`, at
        least 2,000) is looked through for the topic's papers."""
        if topic is None:
            sql = (
                "SELECT p.id FROM (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?"
                " ORDER BY rowid DESC LIMIT ?) s CROSS JOIN papers p ON p.rowid = s.rowid"
                " ORDER BY s.rowid DESC"
            )
            params: list[object] = [match, limit]
        else:
            # Look at a bounded window of the newest matches, then keep the topic's.
            sql = (
                "SELECT p.id FROM (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?"
                " ORDER BY rowid DESC LIMIT ?) s CROSS JOIN papers p ON p.rowid = s.rowid"
                " CROSS JOIN topic_papers t ON t.paper_id = p.id AND t.topic = ?"
                " ORDER BY s.rowid DESC LIMIT ?"
            )
            params = [match, max(limit * 20, 2000), topic, limit]
        with self._corpus.reading() as db:
            return [row[0] for row in db.execute(sql, params)]

    def title_prefix(self, prefix: str, *, limit: int) -> list[str]:
        """Ids of the newest papers with a title word starting with `prefix` (>= 3 chars)."""
        if len(prefix) < 3:
            return []
        match = "{title} : " + phrase(prefix) + "*"
        return self.recent(match, limit=limit)

    def topic_ids(self, topic: str) -> list[str]:
        """Ids of every paper filed under the topic."""
        with self._corpus.reading() as db:
            rows = db.execute("SELECT paper_id FROM topic_papers WHERE topic = ?", [topic])
            return [row[0] for row in rows]

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
