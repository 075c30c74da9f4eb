"""Our own postings of the papers' terms, kept beside FTS5's, for exact BM25 without bm25().

FTS5's bm25() costs about 35 ns per posting per query word, and it must score every match
of a broad query ("large language models" matches a quarter of a large corpus), so ranking
took up to hundreds of ms on 1M papers. storage/bm25.py scores the same formula with numpy
over these postings instead; this module writes them.

Layout (migration 0009_bm25_index), like a small LSM tree:
- every stored version of a paper gets a document number ("doc"), in storing order;
  `bm25_docs` holds, per ingest batch, the papers' rowids and token counts (all columns,
  FTS5's document length), as arrays in BLOBs; a replaced version's doc goes into
  `bm25_dead` (its postings stay until they are filtered out when read);
- each ingest batch writes one segment: per term, the docs holding it (uint32, ascending)
  and its column-weighted frequency in each (title 5, abstract 1, authors 2 as in FTS5's
  bm25() call; uint8, or uint16 in a row where one exceeds 255). Rows are keyed (segment,
  term), so a batch appends to the end of the table instead of touching pages all over it;
- segments cover contiguous doc ranges; when there are more than MAX_SEGMENTS, the
  MERGE_WIDTH adjacent ones holding the fewest docs are merged into one, so a search reads
  a bounded number of rows per word and merging costs O(log n) rewrites per posting;
- `bm25_meta` counts the live docs and their tokens: a reader checks them against FTS5's
  own totals and does not trust the postings when they differ (something wrote papers
  without this module).

Writes happen inside the caller's transaction (Corpus._upsert), so papers and postings
commit together. Only new and replaced papers are tokenized: re-storing an unchanged
paper costs nothing here.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from storage.fts_tokens import tokenizer

COLUMN_WEIGHTS = (5, 1, 2)  # title, abstract, authors: the weights of Corpus.search's bm25()
MAX_SEGMENTS = 16
MERGE_WIDTH = 8
MAX_WEIGHT = 0xFFFF  # a weighted frequency beyond uint16 (never seen in an abstract) is capped

assert array("I").itemsize == 4 and array("H").itemsize == 2 and array("q").itemsize == 8

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS bm25_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)
    """,
    """
    CREATE TABLE IF NOT EXISTS bm25_segments (
        seg INTEGER PRIMARY KEY,
        first_doc INTEGER NOT NULL,     -- the docs first_doc .. end_doc - 1
        end_doc INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS bm25_postings (
        seg INTEGER NOT NULL,
        term TEXT NOT NULL,
        docs BLOB NOT NULL,             -- uint32 doc numbers, ascending
        weights BLOB NOT NULL,          -- uint8 (or uint16) column-weighted term frequencies
        PRIMARY KEY (seg, term)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS bm25_docs (
        first_doc INTEGER PRIMARY KEY,
        rowids BLOB NOT NULL,           -- int64 papers.rowid of each doc from first_doc on
        lengths BLOB NOT NULL           -- uint32 tokens in all columns (FTS5's doc size)
    )
    """,
    "CREATE TABLE IF NOT EXISTS bm25_dead (doc INTEGER PRIMARY KEY)",
)


@dataclass(frozen=True, slots=True)
class Meta:
    """The index's counters: next doc number, a version bumped on every write, and the live
    docs and their tokens (to compare with FTS5's totals)."""

    next_doc: int = 0
    version: int = 0
    rows: int = 0
    tokens: int = 0


def create(conn: sqlite3.Connection) -> None:
    """The tables (idempotent)."""
    for statement in SCHEMA:
        conn.execute(statement)


def read_meta(conn: sqlite3.Connection) -> Meta:
    values = dict(conn.execute("SELECT key, value FROM bm25_meta"))
    return Meta(
        values.get("next_doc", 0),
        values.get("version", 0),
        values.get("rows", 0),
        values.get("tokens", 0),
    )


def _write_meta(conn: sqlite3.Connection, meta: Meta) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO bm25_meta (key, value) VALUES (?, ?)",
        [
            ("next_doc", meta.next_doc),
            ("version", meta.version),
            ("rows", meta.rows),
            ("tokens", meta.tokens),
        ],
    )


def load_docs(conn: sqlite3.Connection, since: int = 0) -> tuple[array, array]:
    """(rowids, lengths) of the docs from `since` on (whole batches: the first batch
    starting at or before `since` is cut to it)."""
    rowids, lengths = array("q"), array("I")
    start = conn.execute(
        "SELECT max(first_doc) FROM bm25_docs WHERE first_doc <= ?", [since]
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT first_doc, rowids, lengths FROM bm25_docs WHERE first_doc >= ? ORDER BY first_doc",
        [start or 0],
    )
    for first, ids, sizes in rows:
        batch_ids, batch_sizes = array("q"), array("I")
        batch_ids.frombytes(ids)
        batch_sizes.frombytes(sizes)
        skip = max(0, since - first)
        rowids.extend(batch_ids[skip:])
        lengths.extend(batch_sizes[skip:])
    return rowids, lengths


def index_papers(
    conn: sqlite3.Connection,
    papers: Sequence[tuple[int, str, str, str]],
    replaced: Iterable[int] = (),
) -> None:
    """Index stored papers, given as (rowid, title, abstract, authors as stored), as one new
    segment; `replaced` are rowids whose earlier version was indexed (their docs die)."""
    meta = read_meta(conn)
    rows, tokens = meta.rows, meta.tokens
    replaced = set(replaced)
    if replaced:
        dead = _live_docs_of(conn, replaced, meta.next_doc)
        conn.executemany(
            "INSERT OR IGNORE INTO bm25_dead (doc) VALUES (?)", [(d,) for d, _ in dead]
        )
        rows -= len(dead)
        tokens -= sum(length for _, length in dead)
    if not papers:
        _write_meta(conn, Meta(meta.next_doc, meta.version + 1, rows, tokens))
        return
    import numpy as np  # here, not at the top: commands that only read never load it

    texts: list[str] = []
    for _, title_text, abstract_text, authors_text in papers:
        texts += (title_text, abstract_text, authors_text)
    terms, vocabulary = tokenizer().term_numbers(texts)
    first = meta.next_doc
    end = first + len(papers)
    # Per doc, its distinct terms and their weighted frequencies, all docs end to end.
    flat_terms: list[int] = []
    flat_weights: list[int] = []
    sizes: list[int] = []
    lengths = array("I")
    title_w, abstract_w, authors_w = COLUMN_WEIGHTS
    for offset in range(len(papers)):
        title, abstract, authors = terms[3 * offset : 3 * offset + 3]
        lengths.append(len(title) + len(abstract) + len(authors))
        # Counting a list holding each title term 5 times etc. gives the weighted frequency.
        counted = Counter(title * title_w + abstract * abstract_w + authors * authors_w)
        flat_terms.extend(counted)
        flat_weights.extend(counted.values())
        sizes.append(len(counted))
    # Grouped by term (in the terms' text order, the table's) with a stable sort, so each
    # term's docs stay ascending.
    term_numbers = np.array(flat_terms, dtype=np.int64)
    present = np.unique(term_numbers)
    names = [vocabulary[n] for n in present.tolist()]
    by_name = sorted(range(len(names)), key=names.__getitem__)
    rank = np.zeros(int(present[-1]) + 1 if len(present) else 1, dtype=np.int64)
    rank[present[by_name]] = np.arange(len(names))
    keys = rank[term_numbers]
    order = np.argsort(keys, kind="stable")
    docs = np.repeat(np.arange(first, end, dtype=np.uint32), sizes)[order].tobytes()
    weights = np.minimum(np.array(flat_weights, dtype=np.int64), MAX_WEIGHT)[order]
    starts = np.flatnonzero(np.diff(keys[order])) + 1
    bounds = [0, *starts.tolist(), len(flat_terms)]
    # One byte per weight, two in the rows (terms) where one exceeds 255.
    narrow = weights.astype(np.uint8).tobytes()
    wide = weights.astype(np.uint16).tobytes()
    wide_rows = set(np.flatnonzero(np.maximum.reduceat(weights, bounds[:-1]) > 255).tolist())
    vocabulary_sorted = [names[i] for i in by_name]
    seg = conn.execute("SELECT coalesce(max(seg), 0) + 1 FROM bm25_segments").fetchone()[0]
    conn.execute(
        "INSERT INTO bm25_segments (seg, first_doc, end_doc) VALUES (?, ?, ?)", [seg, first, end]
    )
    conn.executemany(
        "INSERT INTO bm25_postings (seg, term, docs, weights) VALUES (?, ?, ?, ?)",
        [
            (seg, term, docs[4 * a : 4 * b], wide[2 * a : 2 * b] if n in wide_rows else narrow[a:b])
            for n, (term, a, b) in enumerate(
                zip(vocabulary_sorted, bounds[:-1], bounds[1:], strict=True)
            )
        ],
    )
    conn.execute(
        "INSERT INTO bm25_docs (first_doc, rowids, lengths) VALUES (?, ?, ?)",
        [first, array("q", (p[0] for p in papers)).tobytes(), lengths.tobytes()],
    )
    _write_meta(conn, Meta(end, meta.version + 1, rows + len(papers), tokens + sum(lengths)))
    _maybe_merge(conn)


def _live_docs_of(
    conn: sqlite3.Connection, rowids: set[int], next_doc: int
) -> list[tuple[int, int]]:
    """(doc, length) of the live docs of these paper rowids."""
    dead = {row[0] for row in conn.execute("SELECT doc FROM bm25_dead")}
    ids, lengths = load_docs(conn)
    return [
        (doc, lengths[doc])
        for doc in range(min(next_doc, len(ids)))
        if ids[doc] in rowids and doc not in dead
    ]


def _maybe_merge(conn: sqlite3.Connection) -> None:
    """Merge adjacent segments while there are more than MAX_SEGMENTS."""
    while True:
        segments = conn.execute(
            "SELECT seg, first_doc, end_doc FROM bm25_segments ORDER BY first_doc"
        ).fetchall()
        if len(segments) <= MAX_SEGMENTS:
            return
        sizes = [end - first for _, first, end in segments]
        start = min(
            range(len(segments) - MERGE_WIDTH + 1),
            key=lambda i: sum(sizes[i : i + MERGE_WIDTH]),
        )
        merge(conn, segments[start : start + MERGE_WIDTH])


def merge(conn: sqlite3.Connection, segments: Sequence[tuple[int, int, int]]) -> None:
    """Replace adjacent segments (seg, first_doc, end_doc), in doc order, by one."""
    segs = [s for s, _, _ in segments]
    marks = ",".join("?" * len(segs))
    new = conn.execute("SELECT max(seg) + 1 FROM bm25_segments").fetchone()[0]
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS bm25_shared (term TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.bm25_shared")
    conn.execute(
        f"INSERT INTO temp.bm25_shared SELECT term FROM bm25_postings WHERE seg IN ({marks})"
        " GROUP BY term HAVING count(*) > 1",
        segs,
    )
    # A term in one of the segments only (most terms: names, numbers) is copied as it is.
    conn.execute(
        "INSERT INTO bm25_postings (seg, term, docs, weights)"
        f" SELECT ?, term, docs, weights FROM bm25_postings WHERE seg IN ({marks})"
        " AND term NOT IN (SELECT term FROM temp.bm25_shared)",
        [new, *segs],
    )
    # The others are concatenated in doc order (segments are adjacent, docs ascending).
    order = {seg: position for position, seg in enumerate(segs)}
    rows = conn.execute(
        f"SELECT term, seg, docs, weights FROM bm25_postings WHERE seg IN ({marks})"
        " AND term IN (SELECT term FROM temp.bm25_shared) ORDER BY term",
        segs,
    )
    merged: list[tuple[int, str, bytes, bytes]] = []
    current: str | None = None
    parts: list[tuple[int, bytes, bytes]] = []
    for term, seg, docs, weights in rows:
        if term != current:
            if current is not None:
                merged.append(_joined(new, current, parts))
            current, parts = term, []
        parts.append((order[seg], docs, weights))
    if current is not None:
        merged.append(_joined(new, current, parts))
    conn.executemany(
        "INSERT INTO bm25_postings (seg, term, docs, weights) VALUES (?, ?, ?, ?)", merged
    )
    conn.execute(f"DELETE FROM bm25_postings WHERE seg IN ({marks})", segs)
    conn.execute(f"DELETE FROM bm25_segments WHERE seg IN ({marks})", segs)
    conn.execute(
        "INSERT INTO bm25_segments (seg, first_doc, end_doc) VALUES (?, ?, ?)",
        [new, segments[0][1], segments[-1][2]],
    )
    conn.execute("DELETE FROM temp.bm25_shared")


def _joined(
    seg: int, term: str, parts: list[tuple[int, bytes, bytes]]
) -> tuple[int, str, bytes, bytes]:
    parts.sort(key=lambda part: part[0])
    weights = [p[2] for p in parts]
    if any(len(w) != len(p[1]) // 4 for w, p in zip(weights, parts, strict=True)):
        weights = [widened(w, len(p[1]) // 4) for w, p in zip(weights, parts, strict=True)]
    return seg, term, b"".join(p[1] for p in parts), b"".join(weights)


def widened(weights: bytes, count: int) -> bytes:
    """A row's weights as uint16."""
    if len(weights) == 2 * count:
        return weights
    return array("H", list(weights)).tobytes()  # each byte widened, not reinterpreted


def index_all(conn: sqlite3.Connection, batch: int = 20_000) -> None:
    """Index every stored paper (for a database whose papers predate the index)."""
    last = 0
    while True:
        papers = conn.execute(
            "SELECT rowid, title, abstract, authors FROM papers WHERE rowid > ?"
            " ORDER BY rowid LIMIT ?",
            [last, batch],
        ).fetchall()
        if not papers:
            return
        index_papers(conn, papers)
        last = papers[-1][0]
