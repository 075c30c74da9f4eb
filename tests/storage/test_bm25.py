"""Ranked search from our own postings (storage/bm25.py) returns FTS5's bm25() ranking and
scores exactly: on the real listings, after updates, across segment merges, and falls back
to FTS5 where the postings cannot answer."""

from __future__ import annotations

import json
import random
import re
from array import array
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import Corpus, Paper, bm25_index, open_corpus
from storage import corpus as corpus_module
from storage.corpus import fts_query
from tests.support.papers import make_paper
from tests.support.paths import SHARED_ARXIV


def fts5_top(
    corpus: Corpus, text: str, limit: int, *, any_term: bool = False, ids: list[str] | None = None
) -> list[tuple[str, float]]:
    """The reference: FTS5 scores every match with bm25() and sorts (ties by rowid)."""
    match = fts_query(text, any_term=any_term)
    assert match is not None
    with corpus.reading() as db:
        rowids = None if ids is None else Corpus._rowids(db.conn, ids)
        ranked = Corpus._ranked_by_fts(db.conn, match, limit, rowids)
        names = dict(db.execute("SELECT rowid, id FROM papers").fetchall())
    return [(names[rowid], score) for rowid, score in ranked]


def found(
    corpus: Corpus, text: str, limit: int, *, any_term: bool = False, ids: list[str] | None = None
) -> list[tuple[str, float]]:
    return [
        (h.paper.id, h.score) for h in corpus.search(text, limit=limit, any_term=any_term, ids=ids)
    ]


def used_postings(corpus: Corpus) -> bool:
    """Whether the last search could rank from the postings (they cover FTS5's rows)."""
    assert corpus._ranker is not None
    with corpus.reading() as db:
        return corpus._ranker.usable(db.conn)


@pytest.fixture(autouse=True)
def postings_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests compare the postings with FTS5: never let FTS5 rank because the corpus
    is small or the words rare (TestWhoRanks tests that choice)."""
    monkeypatch.setattr(corpus_module, "FTS5_ROWS", 0)
    monkeypatch.setattr(corpus_module, "FTS5_POSTINGS", 0)


def real_papers(root: Path, limit: int | None = None) -> list[Paper]:
    papers: dict[str, Paper] = {}
    for path in sorted((root / "listings").glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            item = json.loads(line)
            if item["id"] in papers or not item.get("categories"):
                continue
            papers[item["id"]] = make_paper(
                item["id"],
                title=item["title"] or "",
                abstract=item["summary"] or "",
                authors=tuple(item["authors"] or ()),
                categories=tuple(item["categories"]),
            )
    return list(papers.values())[:limit]


def queries(papers: list[Paper], count: int, seed: int) -> list[str]:
    """1-4 word runs of real titles, plus very common and absent words."""
    rng = random.Random(seed)
    made = [
        "the",
        "of model",
        "large language models",
        "learning",
        "qwertyuiop",
        "model qwertyuiop",
    ]
    while len(made) < count:
        words = re.findall(r"[\w-]+", rng.choice(papers).title.lower())
        size = rng.randint(1, 4)
        if len(words) >= size:
            start = rng.randrange(len(words) - size + 1)
            made.append(" ".join(words[start : start + size]))
    return made


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    if not SHARED_ARXIV.is_dir():
        pytest.skip(f"real arXiv data not present at {SHARED_ARXIV}")
    with open_corpus(tmp_path_factory.mktemp("bm25") / "real.db") as corpus:
        papers = real_papers(SHARED_ARXIV)
        for start in range(0, len(papers), 700):  # several segments
            corpus.upsert_papers(papers[start : start + 700])
        yield corpus


class TestExactOnRealPapers:
    def test_postings_are_fts5s_terms_and_weighted_frequencies(self, real_corpus) -> None:
        weights = dict(
            zip(("title", "abstract", "authors"), bm25_index.COLUMN_WEIGHTS, strict=True)
        )
        with real_corpus.reading() as db:
            conn = db.conn
            conn.execute(
                "CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, papers_fts, 'instance')"
            )
            expected: dict[str, dict[int, int]] = {}
            for term, doc, col, count in conn.execute(
                "SELECT term, doc, col, count(*) FROM temp.vocab GROUP BY term, doc, col"
            ):
                per_doc = expected.setdefault(term, {})
                per_doc[doc] = per_doc.get(doc, 0) + weights[col] * count
            rowids, _ = bm25_index.load_docs(conn)
            actual: dict[str, dict[int, int]] = {}
            for term, raw_docs, raw_weights in conn.execute(
                "SELECT term, docs, weights FROM bm25_postings"
            ):
                doc_numbers = array("I", raw_docs)  # bytes: read as the array's type
                wide = len(raw_weights) == 2 * len(doc_numbers)  # else one byte each
                frequencies = array("H" if wide else "B", raw_weights)
                per_doc = actual.setdefault(term, {})
                for doc, weight in zip(doc_numbers, frequencies, strict=True):
                    per_doc[rowids[doc]] = weight
        assert len(expected) > 20_000  # the real vocabulary, not a toy one
        assert actual == expected

    @pytest.mark.parametrize("any_term", [False, True])
    def test_top_k_and_scores_equal_fts5(self, real_corpus, shared_arxiv, any_term) -> None:
        papers = real_papers(shared_arxiv)
        for text in queries(papers, 150, seed=7 + any_term):
            expected = fts5_top(real_corpus, text, 10, any_term=any_term)
            assert found(real_corpus, text, 10, any_term=any_term) == expected, text
        assert used_postings(real_corpus)

    def test_restricted_to_ids_equals_fts5(self, real_corpus, shared_arxiv) -> None:
        papers = real_papers(shared_arxiv)
        ids = [p.id for p in random.Random(3).sample(papers, 300)]
        for any_term in (False, True):
            for text in queries(papers, 60, seed=11):
                expected = fts5_top(real_corpus, text, 10, any_term=any_term, ids=ids)
                assert found(real_corpus, text, 10, any_term=any_term, ids=ids) == expected, text


def mixed_papers(count: int, seed: int, prefix: str = "2601") -> list[Paper]:
    """Papers over a small skewed vocabulary, so words are shared and scores differ."""
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(60)]
    weights = [1 / (rank + 2) for rank in range(len(vocabulary))]
    return [
        make_paper(
            f"{prefix}.{n:05d}",
            title=" ".join(rng.choices(vocabulary, weights, k=rng.randint(2, 6))),
            abstract=" ".join(rng.choices(vocabulary, weights, k=rng.randint(5, 30))),
            authors=(f"Author {rng.randint(1, 20)}",),
        )
        for n in range(count)
    ]


MIXED_QUERIES = ["w0", "w1 w2", "w0 w1 w2 w3", "w7 w0", "w30 w31", "w5 w5", "author 3", "w59 w1"]


def assert_like_fts5(corpus: Corpus, limit: int = 15) -> None:
    for any_term in (False, True):
        for text in MIXED_QUERIES:
            expected = fts5_top(corpus, text, limit, any_term=any_term)
            assert found(corpus, text, limit, any_term=any_term) == expected, (text, any_term)
    assert used_postings(corpus)


class TestUpdates:
    def test_new_versions_replace_their_postings(self, corpus) -> None:
        papers = mixed_papers(200, seed=1)
        corpus.upsert_papers(papers)
        assert_like_fts5(corpus)
        revised = [
            make_paper(p.id, version=2, title="zebra " + p.title, abstract="w0 w0 w0")
            for p in papers[::3]
        ]
        corpus.upsert_papers(revised)
        assert_like_fts5(corpus)
        assert {h.paper.id for h in corpus.search("zebra", limit=500)} == {p.id for p in revised}
        assert corpus.search("zebra")[0].paper.version == 2

    def test_another_connection_sees_the_writes(self, tmp_path) -> None:
        with open_corpus(tmp_path / "c.db") as writer, open_corpus(tmp_path / "c.db") as reader:
            writer.upsert_papers(mixed_papers(100, seed=2))
            assert_like_fts5(reader)  # reader's cache now holds these words
            writer.upsert_papers(mixed_papers(100, seed=3, prefix="2602"))
            writer.upsert_papers([make_paper("2601.00001", version=2, title="w1 w1 w1 quagga")])
            assert_like_fts5(reader)
            assert [h.paper.id for h in reader.search("quagga")] == ["2601.00001"]

    def test_unchanged_papers_write_no_postings(self, corpus) -> None:
        papers = mixed_papers(50, seed=4)
        corpus.upsert_papers(papers)
        with corpus.reading() as db:
            before = bm25_index.read_meta(db.conn)
        corpus.upsert_papers(papers)
        with corpus.reading() as db:
            assert bm25_index.read_meta(db.conn) == before

    def test_segments_merge_and_rank_the_same(self, corpus, monkeypatch) -> None:
        monkeypatch.setattr(bm25_index, "MAX_SEGMENTS", 3)
        monkeypatch.setattr(bm25_index, "MERGE_WIDTH", 2)
        for batch in range(12):
            corpus.upsert_papers(mixed_papers(30, seed=10 + batch, prefix=f"{2601 + batch}"))
            if batch == 5:  # a revision whose old postings sit in a segment about to merge
                corpus.upsert_papers([make_paper("2601.00003", version=2, title="w2 w2")])
            if batch == 7:  # a weighted frequency over 255 (uint16 row) meets uint8 rows
                corpus.upsert_papers([make_paper("2601.00004", version=2, title="w1 " * 60)])
        with corpus.reading() as db:
            segments = db.execute("SELECT first_doc, end_doc FROM bm25_segments ORDER BY 1")
            ranges = segments.fetchall()
        assert len(ranges) <= 3
        assert [r[0] for r in ranges[1:]] == [r[1] for r in ranges[:-1]]  # adjacent, no gap
        assert_like_fts5(corpus)


class TestFallbacksAndEdges:
    def test_papers_written_behind_its_back_are_ranked_by_fts5(self, corpus) -> None:
        corpus.upsert_papers(mixed_papers(50, seed=5))
        with corpus.writing() as db:  # an older digestbot, or a hand-made row
            db.execute(
                "INSERT INTO papers SELECT '9999.00001', version, 'w0 w0 w0 w0 okapi', abstract,"
                " authors, categories, primary_category, published, updated, comment,"
                " journal_ref, doi, first_seen, last_changed FROM papers LIMIT 1"
            )
        assert [h.paper.id for h in corpus.search("okapi")] == ["9999.00001"]
        assert not used_postings(corpus)
        assert found(corpus, "w0", 10) == fts5_top(corpus, "w0", 10)

    def test_the_migration_indexes_papers_stored_before_it(self, tmp_path) -> None:
        path = tmp_path / "old.db"
        with open_corpus(path) as corpus:
            corpus.upsert_papers(mixed_papers(120, seed=6))
            with corpus.writing() as db:  # as the database was before 0009
                for table in ("bm25_meta", "bm25_segments", "bm25_postings", "bm25_docs"):
                    db.execute(f"DROP TABLE {table}")
                db.execute("DROP TABLE bm25_dead")
                db.execute("DELETE FROM _migrations WHERE name = '0009_bm25_index'")
        with open_corpus(path) as corpus:
            assert_like_fts5(corpus)

    @pytest.mark.parametrize("text", ["qwertyuiop", "w0 qwertyuiop", "", "  ", "!!", "_"])
    def test_unknown_and_empty_words(self, corpus, text) -> None:
        corpus.upsert_papers(mixed_papers(30, seed=7))
        assert corpus.search(text) == []

    def test_unknown_words_still_match_any_term(self, corpus) -> None:
        corpus.upsert_papers(mixed_papers(30, seed=8))
        assert found(corpus, "qwertyuiop w1", 10, any_term=True) == fts5_top(
            corpus, "qwertyuiop w1", 10, any_term=True
        )

    def test_a_word_fts5_reads_as_a_phrase_is_ranked_by_fts5(self, corpus) -> None:
        corpus.upsert_papers(
            [
                make_paper("2601.00001", title="snake_case names"),
                make_paper("2601.00002", title="case of the snake"),
                make_paper("2601.00003", title="snake case"),
            ]
        )
        # "snake_case" is one word to the query parser, the phrase "snake case" to FTS5.
        assert found(corpus, "snake_case", 10) == fts5_top(corpus, "snake_case", 10)
        assert {i for i, _ in found(corpus, "snake_case", 10)} == {"2601.00001", "2601.00003"}

    def test_accents_case_and_stems_as_fts5(self, corpus) -> None:
        corpus.upsert_papers(
            [
                make_paper("2601.00001", title="Naïve São Paulo MODELS", authors=("José Ramírez",)),
                make_paper("2601.00002", title="naive modelling", authors=("Jose Ramirez",)),
            ]
        )
        for text in ("naive", "NAÏVE models", "ramirez", "são", "modeling"):
            assert found(corpus, text, 10) == fts5_top(corpus, text, 10), text
            assert found(corpus, text, 10), text


class TestWhoRanks:
    """FTS5's bm25() ranks when its matches are few (a small corpus, rare words), so a
    one-question command need not load numpy; the postings rank the rest. Same scores."""

    def test_a_small_corpus_is_ranked_by_fts5_alone(self, corpus, monkeypatch) -> None:
        monkeypatch.setattr(corpus_module, "FTS5_ROWS", 1000)
        corpus.upsert_papers(mixed_papers(200, seed=12))
        for text in MIXED_QUERIES:
            assert found(corpus, text, 10, any_term=True) == fts5_top(
                corpus, text, 10, any_term=True
            )
        assert corpus._ranker is None

    def test_on_a_large_corpus_rare_words_go_to_fts5_common_ones_to_the_postings(
        self, corpus, monkeypatch
    ) -> None:
        monkeypatch.setattr(corpus_module, "FTS5_POSTINGS", 5)
        corpus.upsert_papers(
            [
                *mixed_papers(100, seed=13),
                make_paper("2609.00001", title="w1 quagga okapi"),
                make_paper("2609.00002", title="okapi"),
            ]
        )
        for text in ("quagga", "quagga okapi"):  # 1 and 3 postings
            assert found(corpus, text, 10, any_term=True) == fts5_top(
                corpus, text, 10, any_term=True
            )
        assert corpus._ranker is None
        # One common word is enough for the postings, for all or any of the words.
        for any_term in (False, True):
            assert found(corpus, "quagga w1", 10, any_term=any_term) == fts5_top(
                corpus, "quagga w1", 10, any_term=any_term
            )
        assert used_postings(corpus)

    @pytest.mark.parametrize("cap", [0, 10_000])
    def test_a_topic_restricts_the_search_on_either_path(self, corpus, monkeypatch, cap) -> None:
        monkeypatch.setattr(corpus_module, "FTS5_POSTINGS", cap)
        papers = mixed_papers(120, seed=14)
        corpus.upsert_papers(papers)
        filed = [p.id for p in papers[::4]]
        corpus.store_papers([], topic="fish", filed=filed)
        for text in MIXED_QUERIES:
            hits = corpus.search(text, limit=10, any_term=True, topic="fish")
            assert [(h.paper.id, h.score) for h in hits] == fts5_top(
                corpus, text, 10, any_term=True, ids=filed
            ), text
            assert {h.paper.id for h in hits} <= set(filed)
        assert corpus.search("w0", topic="no such topic") == []
        assert (corpus._ranker is not None) is (cap == 0)

    @pytest.mark.parametrize("cap", [0, 10_000])
    def test_a_read_only_corpus_is_searched_on_either_path(
        self, tmp_path, monkeypatch, cap
    ) -> None:
        monkeypatch.setattr(corpus_module, "FTS5_POSTINGS", cap)
        with open_corpus(tmp_path / "c.db") as writer:
            writer.upsert_papers(mixed_papers(80, seed=15))
        with open_corpus(tmp_path / "c.db", read_only=True) as reader:
            assert reader.read_only
            for text in MIXED_QUERIES:
                assert found(reader, text, 10, any_term=True) == fts5_top(
                    reader, text, 10, any_term=True
                ), text
            assert (reader._ranker is not None) is (cap == 0)
