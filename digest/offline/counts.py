"""Phrase counts per document as a sparse matrix, the same matrix scikit-learn's
CountVectorizer(analyzer=..., min_df=...).fit_transform gives, built with numpy.

CountVectorizer's counting loop runs in Python once per phrase occurrence and then copies
the matrix three times (sort, prune, re-sort); over a 2,500-paper window that was a second
of the digest. Here Python only maps each phrase to an integer id; counting, pruning and
reordering are array operations. The result is the same array for array (values, column
indices in the same order within a row, row pointers, dtypes), so every figure computed
from it is unchanged.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def phrase_counts(
    documents: Sequence[str], analyze: Callable[[str], list[str]], min_df: int
) -> tuple[Any, np.ndarray]:
    """(documents x phrases counts, phrases in alphabetical order), keeping the phrases of
    at least `min_df` documents; (None, empty) when no phrase is left."""
    from scipy.sparse import csr_matrix

    # Phrase -> id, in order of first use: a new phrase gets the vocabulary's size as its id,
    # inside the C loop of map (no Python frame per phrase occurrence).
    vocabulary: defaultdict[str, int] = defaultdict()
    vocabulary.default_factory = vocabulary.__len__
    ids = array("q")  # machine integers: no int object kept per phrase occurrence
    lengths: list[int] = []
    for document in documents:
        grams = analyze(document)
        ids.extend(map(vocabulary.__getitem__, grams))
        lengths.append(len(grams))
    n, size = len(documents), len(vocabulary)
    if size == 0 or n < min_df:
        return None, np.array([], dtype=object)
    # One key per (document, phrase id); unique keys sorted are the matrix's entries in
    # row order, ids ascending within a row, with their counts.
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    keys, counts = np.unique((rows << 32) | np.frombuffer(ids, dtype=np.int64), return_counts=True)
    entry_rows, entry_ids = keys >> 32, keys & 0xFFFFFFFF
    frequency = np.bincount(entry_ids, minlength=size)  # documents per phrase
    kept = np.flatnonzero(frequency >= min_df)
    if len(kept) == 0:
        return None, np.array([], dtype=object)
    # Columns are the kept phrases in alphabetical order; within a row the entries keep
    # their id order (CountVectorizer renumbers its columns without re-sorting a row).
    phrases = list(vocabulary)
    kept_phrases = [phrases[i] for i in kept]
    order = sorted(range(len(kept)), key=kept_phrases.__getitem__)
    column = np.full(size, -1, dtype=np.int32)
    column[kept[order]] = np.arange(len(kept), dtype=np.int32)
    keep = column[entry_ids] >= 0
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(entry_rows[keep], minlength=n), out=indptr[1:])
    matrix = csr_matrix(
        (counts[keep].astype(np.int64), column[entry_ids[keep]], indptr),
        shape=(n, len(kept)),
    )
    return matrix, np.array([kept_phrases[i] for i in order], dtype=object)
