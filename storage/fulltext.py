"""The full-text store: papers' full text, in section-labelled chunks, searchable with FTS5.

Full text is fetched on demand (for a question about one paper), so this store holds only
the papers someone asked about. A failed fetch is stored too ("unavailable", with why), so
that a paper without an HTML version is not fetched again on every question; callers decide
when such a record is old enough to try again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.corpus import Corpus, fts_query

STATUS_OK = "ok"
STATUS_UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of a paper's full text and the section it comes from."""

    paper_id: str
    position: int
    section: str
    text: str


@dataclass(frozen=True, slots=True)
class FullTextRecord:
    """What is known about one paper's full text: the chunks, or why there are none."""

    paper_id: str
    status: str  # STATUS_OK or STATUS_UNAVAILABLE
    source: str  # "html", "pdf", or "" when unavailable
    url: str
    detail: str
    chars: int
    fetched_at: datetime

    @property
    def available(self) -> bool:
        return self.status == STATUS_OK


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """A chunk that matched a search, with its BM25 score (lower is better, as in SQLite)."""

    chunk: Chunk
    score: float


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record(row: dict) -> FullTextRecord:
    return FullTextRecord(
        paper_id=row["paper_id"],
        status=row["status"],
        source=row["source"],
        url=row["url"],
        detail=row["detail"],
        chars=row["chars"],
        fetched_at=datetime.fromisoformat(row["fetched_at"].replace("Z", "+00:00")),
    )


def _chunk(row: dict) -> Chunk:
    return Chunk(row["paper_id"], row["position"], row["section"], row["text"])


class FullTextStore:
    """Reads and writes full texts in the corpus database (migration 0006_fulltext_chunks)."""

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus

    def save(
        self,
        paper_id: str,
        *,
        source: str,
        url: str,
        sections: Sequence[tuple[str, str]],
        fetched_at: datetime,
    ) -> FullTextRecord:
        """Store a paper's full text as (section, text) chunks in order, replacing any earlier
        record of it. One transaction."""
        chars = sum(len(text) for _, text in sections)
        with self._corpus.writing() as db:
            db.execute("DELETE FROM fulltext_chunks WHERE paper_id = ?", [paper_id])
            db.execute(
                "INSERT OR REPLACE INTO fulltext_docs "
                "(paper_id, status, source, url, detail, chars, fetched_at) "
                "VALUES (?, ?, ?, ?, '', ?, ?)",
                [paper_id, STATUS_OK, source, url, chars, _iso(fetched_at)],
            )
            db.conn.executemany(
                "INSERT INTO fulltext_chunks (paper_id, position, section, text) "
                "VALUES (?, ?, ?, ?)",
                [(paper_id, i, section, text) for i, (section, text) in enumerate(sections)],
            )
        return FullTextRecord(paper_id, STATUS_OK, source, url, "", chars, fetched_at)

    def mark_unavailable(
        self, paper_id: str, *, url: str, detail: str, fetched_at: datetime
    ) -> FullTextRecord:
        """Remember that the paper's full text could not be had (and why), replacing any
        earlier record; its chunks, if any, are dropped."""
        with self._corpus.writing() as db:
            db.execute("DELETE FROM fulltext_chunks WHERE paper_id = ?", [paper_id])
            db.execute(
                "INSERT OR REPLACE INTO fulltext_docs "
                "(paper_id, status, source, url, detail, chars, fetched_at) "
                "VALUES (?, ?, '', ?, ?, 0, ?)",
                [paper_id, STATUS_UNAVAILABLE, url, detail, _iso(fetched_at)],
            )
        return FullTextRecord(paper_id, STATUS_UNAVAILABLE, "", url, detail, 0, fetched_at)

    def record(self, paper_id: str) -> FullTextRecord | None:
        """What is stored about the paper's full text, if anything."""
        with self._corpus.reading() as db:
            rows = list(db.query("SELECT * FROM fulltext_docs WHERE paper_id = ?", [paper_id]))
        return _record(rows[0]) if rows else None

    def chunks(self, paper_id: str) -> list[Chunk]:
        """The paper's stored chunks, in order."""
        with self._corpus.reading() as db:
            rows = db.query(
                "SELECT paper_id, position, section, text FROM fulltext_chunks "
                "WHERE paper_id = ? ORDER BY position",
                [paper_id],
            )
            return [_chunk(row) for row in rows]

    def search(
        self,
        text: str,
        *,
        paper_ids: Sequence[str] | None = None,
        limit: int = 5,
    ) -> list[ChunkHit]:
        """Chunks matching any word of `text`, best first (BM25; section names weigh
        double). User text is quoted word by word, so FTS5 syntax in it cannot fail.
        `paper_ids` restricts the search to those papers' chunks."""
        match = fts_query(text, any_term=True)
        if match is None or (paper_ids is not None and not paper_ids):
            return []
        sql = (
            "SELECT c.paper_id, c.position, c.section, c.text,"
            " bm25(fulltext_chunks_fts, 2.0, 1.0) AS score"
            " FROM fulltext_chunks_fts JOIN fulltext_chunks c ON c.id = fulltext_chunks_fts.rowid"
            " WHERE fulltext_chunks_fts MATCH ?"
        )
        params: list[object] = [match]
        if paper_ids is not None:
            sql += f" AND c.paper_id IN ({','.join('?' * len(paper_ids))})"
            params.extend(paper_ids)
        sql += " ORDER BY score, c.paper_id, c.position LIMIT ?"
        params.append(limit)
        with self._corpus.reading() as db:
            return [ChunkHit(_chunk(row), row["score"]) for row in db.query(sql, params)]
