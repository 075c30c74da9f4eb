"""The bottom layer: the SQLite corpus of papers, digests, subscriptions and the post ledger.

Imports nothing of ours. Everything above reads and writes through `Corpus`.
"""

from storage.corpus import Corpus, UpsertCounts, default_database_path, open_corpus
from storage.errors import DatabaseUnavailable, StorageError
from storage.feedstate import FeedBatch, HeldPapers, TopicVerdict
from storage.ids import ArxivId, find_arxiv_ids, parse_arxiv_id
from storage.records import FetchRecord, Paper

__all__ = [
    "ArxivId",
    "Corpus",
    "DatabaseUnavailable",
    "FeedBatch",
    "FetchRecord",
    "HeldPapers",
    "Paper",
    "StorageError",
    "TopicVerdict",
    "UpsertCounts",
    "default_database_path",
    "find_arxiv_ids",
    "open_corpus",
    "parse_arxiv_id",
]
