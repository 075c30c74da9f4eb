"""Exact BM25 top k over the postings of storage/bm25_index.py, scored with numpy.

The score is FTS5's bm25() to the bit, computed the way its C code does (fts5_aux.c): per
query phrase i, over the rows matching it,

    idf_i = log((N - n_i + 0.5) / (n_i + 0.5)), or 1e-6 when that is <= 0
    f_i   = the phrase's hits in the row, each weighted by its column (5, 1, 2)
    score = -sum_i idf_i * (f_i * (k1 + 1)) / (f_i + k1 * (1 - b + b * D / avgdl))

with k1 = 1.2, b = 0.75, N and avgdl from FTS5's own totals (its "averages" record), n_i
the rows holding the phrase and D the row's tokens in all columns. The operations run in
the same order in float64, so the scores equal SQLite's and so does the ranking.

A word's postings are read from every segment once and cached in the process (bounded by
CACHE_BYTES); after a write only the segments past what an entry covers are read.
"""

from __future__ import annotations

import math
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from storage.bm25_index import Meta, load_docs, read_meta

K1 = 1.2
B = 0.75
CACHE_BYTES = 256 * 1024 * 1024  # postings kept in memory, least recently used dropped
DENSE_SHARE = 64  # intersect in a doc-sized array when the shortest list holds > 1/64 of docs


def fts_totals(conn: sqlite3.Connection, table: str = "papers_fts") -> tuple[int, int]:
    """FTS5's row count and total tokens (all columns): its "averages" record, id 1 of the
    %_data table, SQLite varints (a row count, then each column's token total)."""
    row = conn.execute(f"SELECT block FROM {table}_data WHERE id = 1").fetchone()
    if row is None or not row[0]:
        return 0, 0
    block: bytes = row[0]
    values: list[int] = []
    at = 0
    while at < len(block):
        value = 0
        for step in range(9):
            byte = block[at]
            at += 1
            if step == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        values.append(value)
    return values[0], sum(values[1:])


@dataclass(slots=True)
class _Postings:
    # intp (not the stored uint32): numpy converts an index array to intp at every use,
    # which cost as much as the scatter of the scores itself.
    docs: np.ndarray  # intp, ascending, live docs only
    weights: np.ndarray  # uint8 or uint16
    covered: int  # docs below this number are included
    # Each doc's share of the score for this term, valid while FTS5's totals are these.
    scores: np.ndarray | None = None
    scored_for: tuple[int, int] = (-1, -1)

    @property
    def nbytes(self) -> int:
        extra = 0 if self.scores is None else self.scores.nbytes
        return int(self.docs.nbytes + self.weights.nbytes + extra)


class Ranker:
    """BM25 top k for one database; call under the corpus lock (it is not thread-safe)."""

    def __init__(self) -> None:
        self._version = -1
        self._next_doc = 0
        self._rowids = np.zeros(0, dtype=np.int64)
        self._lengths = np.zeros(0, dtype=np.float64)
        self._live = np.zeros(0, dtype=bool)
        self._dead: set[int] = set()
        self._norm = np.zeros(0, dtype=np.float64)  # k1 * (1 - b + b * D / avgdl) per doc
        self._totals = (-1, -1)
        self._segments: list[tuple[int, int, int]] = []
        self._doc_of_rowid: np.ndarray | None = None
        self._cache: OrderedDict[str, _Postings] = OrderedDict()
        self._cached_bytes = 0

    # -- state ----------------------------------------------------------------------------

    def usable(self, conn: sqlite3.Connection) -> bool:
        """Bring the in-memory state up to the database's; False when the postings do not
        cover exactly FTS5's rows (then the caller must ask FTS5)."""
        meta = read_meta(conn)
        totals = fts_totals(conn)
        if (meta.rows, meta.tokens) != totals:
            return False
        if meta.version != self._version:
            self._refresh(conn, meta)
        if totals != self._totals:
            self._totals = totals
            rows, tokens = totals
            avgdl = tokens / rows if rows else 1.0
            self._norm = K1 * ((1 - B) + (B * self._lengths) / avgdl)
        return True

    def _refresh(self, conn: sqlite3.Connection, meta: Meta) -> None:
        if meta.next_doc < self._next_doc:  # the index was rebuilt: start again
            self.__init__()  # type: ignore[misc]
        if meta.next_doc > self._next_doc:
            rowids, lengths = load_docs(conn, self._next_doc)
            self._rowids = np.concatenate([self._rowids, np.frombuffer(rowids, dtype=np.int64)])
            self._lengths = np.concatenate(
                [self._lengths, np.frombuffer(lengths, dtype=np.uint32).astype(np.float64)]
            )
            self._live = np.concatenate([self._live, np.ones(len(rowids), dtype=bool)])
            self._next_doc = meta.next_doc
        dead = {row[0] for row in conn.execute("SELECT doc FROM bm25_dead")}
        newly = dead - self._dead
        if newly:
            gone = np.fromiter(newly, dtype=np.int64)
            self._live[gone[gone < len(self._live)]] = False
            for key, entry in list(self._cache.items()):
                keep = ~np.isin(entry.docs, gone)
                if not keep.all():
                    kept = _Postings(entry.docs[keep], entry.weights[keep], entry.covered)
                    self._cached_bytes += kept.nbytes - entry.nbytes
                    self._cache[key] = kept
            self._dead = dead
        self._segments = conn.execute(
            "SELECT seg, first_doc, end_doc FROM bm25_segments ORDER BY first_doc"
        ).fetchall()
        self._doc_of_rowid = None
        self._totals = (-1, -1)  # recompute the norms: lengths or liveness changed
        self._version = meta.version

    def _postings(self, conn: sqlite3.Connection, term: str) -> _Postings:
        entry = self._cache.get(term)
        if entry is not None and entry.covered >= self._next_doc:
            self._cache.move_to_end(term)
            return entry
        covered = entry.covered if entry is not None else 0
        segs = [seg for seg, _, end in self._segments if end > covered]
        docs: list[np.ndarray] = [] if entry is None else [entry.docs]
        weights: list[np.ndarray] = [] if entry is None else [entry.weights]
        if segs:
            marks = ",".join("?" * len(segs))
            rows = conn.execute(
                "SELECT p.docs, p.weights FROM bm25_postings p"
                " JOIN bm25_segments s ON s.seg = p.seg"
                f" WHERE p.seg IN ({marks}) AND p.term = ? ORDER BY s.first_doc",
                [*segs, term],
            )
            for raw_docs, raw_weights in rows:
                part = np.frombuffer(raw_docs, dtype=np.uint32)
                width = np.uint8 if len(raw_weights) == len(part) else np.uint16
                part_weights = np.frombuffer(raw_weights, dtype=width)
                keep = part >= covered
                keep &= self._live[part]
                docs.append(part[keep])
                weights.append(part_weights[keep])
        fresh = _Postings(
            np.concatenate(docs).astype(np.intp) if docs else np.zeros(0, dtype=np.intp),
            np.concatenate(weights) if weights else np.zeros(0, dtype=np.uint16),
            self._next_doc,
        )
        if entry is not None:
            self._cached_bytes -= entry.nbytes
        self._cache[term] = fresh
        self._cache.move_to_end(term)
        self._cached_bytes += fresh.nbytes
        while self._cached_bytes > CACHE_BYTES and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= dropped.nbytes
        return fresh

    def _docs_of(self, rowids: Sequence[int]) -> np.ndarray:
        """The live docs of these paper rowids, ascending."""
        if self._doc_of_rowid is None:
            live = np.flatnonzero(self._live)
            top = int(self._rowids.max()) + 1 if len(self._rowids) else 1
            self._doc_of_rowid = np.full(top, -1, dtype=np.int64)
            self._doc_of_rowid[self._rowids[live]] = live
        wanted = np.asarray(rowids, dtype=np.int64)
        wanted = wanted[(wanted >= 0) & (wanted < len(self._doc_of_rowid))]
        docs = self._doc_of_rowid[wanted]
        return np.unique(docs[docs >= 0]).astype(np.intp)

    # -- ranking --------------------------------------------------------------------------

    def top(
        self,
        conn: sqlite3.Connection,
        phrases: Sequence[str],
        limit: int,
        *,
        any_term: bool = False,
        rowids: Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        """The best `limit` (rowid, FTS5 bm25 score) for the phrases (one term each), best
        first; ties by rowid. Call `usable` first."""
        if limit <= 0 or not phrases:
            return []
        lists = {term: self._postings(conn, term) for term in dict.fromkeys(phrases)}
        shares = {term: self._shares(postings) for term, postings in lists.items()}
        allowed = None if rowids is None else self._docs_of(rowids)
        if any_term:
            docs, scores = self._score_any(lists, shares, phrases, allowed, limit)
        else:
            docs, scores = self._score_all(lists, shares, phrases, allowed)
        return self._best(docs, -scores, limit)

    def _shares(self, postings: _Postings) -> np.ndarray:
        """Each doc's share of the score for the term, idf * (f * (k1 + 1)) / (f + norm),
        kept with the postings until FTS5's totals change (any write)."""
        if postings.scores is not None and postings.scored_for == self._totals:
            return postings.scores
        rows, hits = self._totals[0], len(postings.docs)
        idf = math.log((rows - hits + 0.5) / (hits + 0.5))
        if idf <= 0.0:
            idf = 1e-6
        freq = postings.weights.astype(np.float64)
        scores = idf * ((freq * (K1 + 1.0)) / (freq + self._norm[postings.docs]))
        self._cached_bytes += scores.nbytes - (
            0 if postings.scores is None else postings.scores.nbytes
        )
        postings.scores, postings.scored_for = scores, self._totals
        return scores

    def _score_all(
        self,
        lists: dict[str, _Postings],
        shares: dict[str, np.ndarray],
        phrases: Sequence[str],
        allowed: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Docs holding every term, and their scores (positive, higher is better), summed
        in the query's phrase order as FTS5 does."""
        order = sorted(lists, key=lambda t: len(lists[t].docs))
        if allowed is None and len(lists[order[0]].docs) * DENSE_SHARE > self._next_doc:
            # Every list is long: count each doc's terms in one array, no searching.
            count = np.zeros(self._next_doc, dtype=np.uint8)
            for term in order:
                count[lists[term].docs] += 1
            at = {t: np.flatnonzero(count[lists[t].docs] == len(order)) for t in order}
            candidates = lists[order[0]].docs[at[order[0]]]
        else:
            if allowed is None:
                candidates = lists[order[0]].docs
                at = {order[0]: np.arange(len(candidates))}
                rest = order[1:]
            else:
                candidates, at, rest = allowed, {}, order
            for term in rest:
                docs = lists[term].docs
                if not len(docs) or not len(candidates):
                    return np.zeros(0, dtype=np.intp), np.zeros(0)
                index = np.searchsorted(docs, candidates)
                index[index == len(docs)] = 0
                found = docs[index] == candidates
                candidates = candidates[found]
                at = {t: positions[found] for t, positions in at.items()}
                at[term] = index[found]
        scores = np.zeros(len(candidates))
        for term in phrases:
            scores += shares[term][at[term]]
        return candidates, scores

    def _score_any(
        self,
        lists: dict[str, _Postings],
        shares: dict[str, np.ndarray],
        phrases: Sequence[str],
        allowed: np.ndarray | None,
        limit: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Docs holding any term, and their scores (a term a doc lacks adds exactly 0.0,
        as in FTS5); unrestricted, only the docs scoring at least the `limit`-th best."""
        if allowed is not None:
            scores = np.zeros(len(allowed))
            matched = np.zeros(len(allowed), dtype=bool)
            for term in phrases:
                docs = lists[term].docs
                if not len(docs):
                    continue
                index = np.searchsorted(docs, allowed)
                index[index == len(docs)] = 0
                found = docs[index] == allowed
                scores += np.where(found, shares[term][index], 0.0)
                matched |= found
            return allowed[matched], scores[matched]
        scores = np.zeros(self._next_doc)
        for term in phrases:
            scores[lists[term].docs] += shares[term]
        # When most docs match, the limit-th best score taken from the whole array is
        # cheaper than listing every match first (not when most scores are 0.0: partition
        # slows down 10-fold on that many equal values). Every doc scoring that much is
        # kept, so `_best` breaks the ties.
        kth = 0.0
        longest = max(len(lists[term].docs) for term in phrases)
        if 0 < limit < len(scores) and 2 * longest >= len(scores):
            kth = float(np.partition(scores, len(scores) - limit)[len(scores) - limit])
        docs = np.flatnonzero(scores >= kth if kth > 0.0 else scores)
        return docs, scores[docs]

    def _best(self, docs: np.ndarray, scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """The `limit` lowest scores (FTS5's sign), ties by rowid."""
        if len(docs) > limit:
            kth = np.partition(scores, limit - 1)[limit - 1]
            keep = scores <= kth
            docs, scores = docs[keep], scores[keep]
        rowids = self._rowids[docs]
        order = np.lexsort((rowids, scores))[:limit]
        return [(int(rowids[i]), float(scores[i])) for i in order]
