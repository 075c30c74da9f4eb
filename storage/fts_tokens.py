"""The terms FTS5 indexes for a text, exactly as `papers_fts` (tokenize='porter') sees them.

The ranked search (storage/bm25.py) scores BM25 from its own postings, so its terms must be
FTS5's to the letter: case folding, diacritics, which characters split words, Porter's
stems. Rather than re-implement unicode61 and the stemmer, FTS5 itself is asked, through
an in-memory table with the same tokenizer and its fts5vocab 'instance' view.

Asking per text would be slow, so texts are cut into chunks first and FTS5 is asked once
per distinct chunk (cached). The cut is on ASCII characters other than letters and
digits: unicode61 (default categories L* N* Co) treats every one of those as a separator,
so tokenizing chunk by chunk gives exactly the tokens of the whole text. What a chunk with
other characters becomes ("naïve" -> "naiv", "São" -> "sao", "£5" -> "5") is FTS5's call.
Pure-ASCII texts are lowercased first (unicode61 folds ASCII A-Z to a-z and nothing else),
so "Model" and "model" share a cache entry.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Sequence
from itertools import chain

# Runs of characters that are not ASCII separators (ASCII letters, digits, and non-ASCII).
_CHUNK = re.compile(r"[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")
# ASCII separators -> spaces, for pure-ASCII texts (bytes.translate + split beat the regex).
_SEPARATORS = bytes(c if chr(c).isalnum() else 32 for c in range(256))
_CACHE_LIMIT = 400_000  # chunks remembered; the cache starts again beyond (a long ingest)

Chunk = str | bytes  # bytes: a chunk of a pure-ASCII text


class Tokenizer:
    """FTS5's porter/unicode61 terms for texts, with a cache of chunk -> terms. Terms are
    handed out as numbers into a vocabulary list, cheaper to count than strings."""

    def __init__(self) -> None:
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter')")
        self._conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._chunks: dict[Chunk, tuple[int, ...]] = {}
        self._single: dict[Chunk, int] = {}  # the chunks that are exactly one term
        self._terms: list[str] = []  # a new list: callers keep the one they were given
        self._number: dict[str, int] = {}

    def terms(self, text: str) -> list[str]:
        """The text's terms in order, as FTS5 indexes them."""
        numbers, vocabulary = self.term_numbers([text])
        return [vocabulary[n] for n in numbers[0]]

    def term_numbers(self, texts: Sequence[str]) -> tuple[list[list[int]], list[str]]:
        """The terms of each text as numbers into the returned vocabulary, asking FTS5 once
        for all the chunks not cached yet."""
        found: list[Sequence[Chunk]] = [
            t.lower().encode("ascii").translate(_SEPARATORS).split()
            if t.isascii()
            else _CHUNK.findall(t)
            for t in texts
        ]
        with self._lock:
            numbers = self._map(found)
            if numbers is None:  # chunks not cached yet: learn them all, then map again
                missing = set(chain.from_iterable(found)).difference(self._chunks)
                if len(self._chunks) + len(missing) > _CACHE_LIMIT:
                    self._reset()
                    missing = set(chain.from_iterable(found))
                self._ask_fts5(list(missing))
                numbers = self._map(found)
                assert numbers is not None
            return numbers, self._terms

    def _map(self, found: list[Sequence[Chunk]]) -> list[list[int]] | None:
        """Each text's chunks as term numbers; None when a chunk is not cached."""
        single, every = self._single.__getitem__, self._chunks.__getitem__
        numbers: list[list[int]] = []
        try:
            for chunks in found:
                try:
                    numbers.append(list(map(single, chunks)))
                except KeyError:  # a chunk of several terms or none, or an unknown one
                    numbers.append(list(chain.from_iterable(map(every, chunks))))
        except KeyError:
            return None
        return numbers

    def _ask_fts5(self, chunks: list[Chunk]) -> None:
        """Learn the chunks' terms from FTS5. ASCII chunks (letters and digits only) are one
        term each, so they go in as one text, a term per offset; the others one row each,
        as they may be several terms or none."""
        plain = [c.decode("ascii") if isinstance(c, bytes) else c for c in chunks]
        ascii_at = [i for i, c in enumerate(plain) if c.isascii()]
        other_at = [i for i, c in enumerate(plain) if not c.isascii()]
        conn = self._conn
        if ascii_at:
            text = " ".join(plain[i] for i in ascii_at)
            conn.execute("INSERT INTO t (rowid, x) VALUES (0, ?)", [text])
        conn.executemany(
            "INSERT INTO t (rowid, x) VALUES (?, ?)",
            [(row, plain[i]) for row, i in enumerate(other_at, 1)],
        )
        learned: dict[int, list[int]] = {i: [] for i in other_at}
        for doc, offset, term in conn.execute(
            "SELECT doc, offset, term FROM v ORDER BY doc, offset"
        ):
            number = self._number.get(term)
            if number is None:
                number = self._number[term] = len(self._terms)
                self._terms.append(term)
            if doc == 0:
                chunk = chunks[ascii_at[offset]]
                self._chunks[chunk] = (number,)
                self._single[chunk] = number
            else:
                learned[other_at[doc - 1]].append(number)
        conn.execute("DELETE FROM t")
        conn.commit()
        for i, numbers in learned.items():
            self._chunks[chunks[i]] = tuple(numbers)
            if len(numbers) == 1:
                self._single[chunks[i]] = numbers[0]


_shared: Tokenizer | None = None
_shared_lock = threading.Lock()


def tokenizer() -> Tokenizer:
    """The process's tokenizer (its cache is worth sharing)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Tokenizer()
        return _shared
