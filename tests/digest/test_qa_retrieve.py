"""Full-text retrieval for questions: stop words dropped, words OR-ed, the corpus's best
papers by BM25 re-ranked (rare words first, titles, phrases, recent papers up)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from digest.qa.retrieve import Retriever
from digest.qa.text import asks_for_a_list, content_words, stem, within_typos
from storage import Corpus
from storage import corpus as corpus_module
from storage.paper_search import PaperSearch, all_of, any_of
from tests.support.papers import make_paper

DAY = datetime(2026, 6, 3, 12, tzinfo=UTC)


def ids(ranked) -> list[str]:
    return [r.paper.id for r in ranked]


class TestWords:
    def test_stop_words_and_question_phrasing_are_dropped(self) -> None:
        assert content_words("Which papers this week are about reward hacking?") == [
            "reward",
            "hacking",
        ]
        assert content_words("@digestbot tell me about the GRPO paper, please!") == ["grpo"]

    def test_fts_syntax_is_just_words(self) -> None:
        assert content_words('c++ AND ( "NEAR( *') == ["near"]
        assert content_words("🙂🙂 \u202e\u0007") == []

    def test_list_questions_are_told_from_questions_about_one_paper(self) -> None:
        assert asks_for_a_list("which papers this week are about reward hacking?")
        assert asks_for_a_list("any papers on GRPO")
        assert asks_for_a_list("papers using DPO")
        assert not asks_for_a_list("what does MusaCoder do?")
        assert not asks_for_a_list("tell me about 2605.26567")

    def test_the_stemmer_meets_inflections(self) -> None:
        assert stem("rewards") == stem("rewarded") == stem("rewarding") == "reward"
        assert stem("hacking") == stem("hacks") == "hack"

    @pytest.mark.parametrize(
        ("a", "b", "limit", "near"),
        [
            ("grepseek", "grepseak", 1, True),
            ("grepseek", "gerpseek", 1, True),  # two neighbours swapped: one edit
            ("grepseek", "grepsek", 1, True),
            ("grepseek", "grapsaek", 1, False),
            ("grepseek", "grapsaek", 2, True),
            ("abc", "abcdef", 2, False),
        ],
    )
    def test_typo_distance(self, a: str, b: str, limit: int, near: bool) -> None:
        assert within_typos(a, b, limit) is near


class TestRetriever:
    def test_any_word_may_match_and_more_words_rank_higher(self, corpus: Corpus) -> None:
        corpus.upsert_papers(
            [
                make_paper(
                    "2606.00001", title="Reward hacking in RLHF", abstract="Reward hacking."
                ),
                make_paper("2606.00002", title="Hacking compilers", abstract="Compilers."),
                make_paper("2606.00003", title="Reward models", abstract="Reward models."),
                make_paper("2606.00004", title="Unrelated optics", abstract="Lenses."),
            ]
        )
        found = ids(Retriever(corpus).search(["reward", "hacking"]))
        assert found[0] == "2606.00001"
        assert set(found) == {"2606.00001", "2606.00002", "2606.00003"}

    def test_rare_words_weigh_more_than_common_ones(self, corpus: Corpus) -> None:
        common = [
            make_paper(f"2606.001{i:02d}", title=f"Language model study {i}", abstract="A model.")
            for i in range(30)
        ]
        rare = make_paper("2606.00200", title="Zebrafish tracking", abstract="A zebrafish model.")
        corpus.upsert_papers([*common, rare])
        assert ids(Retriever(corpus).search(["model", "zebrafish"]))[0] == rare.id

    def test_recent_papers_are_ranked_up(self, corpus: Corpus) -> None:
        text = {"title": "Speculative decoding drafts", "abstract": "Speculative decoding."}
        corpus.upsert_papers(
            [
                make_paper("2605.00001", published=DAY - timedelta(days=60), **text),
                make_paper("2606.00001", published=DAY, **text),
            ]
        )
        assert ids(Retriever(corpus).search(["speculative", "decoding"])) == [
            "2606.00001",
            "2605.00001",
        ]

    def test_a_phrase_of_the_question_ranks_above_its_words_apart(self, corpus: Corpus) -> None:
        corpus.upsert_papers(
            [
                make_paper("2606.00001", title="Hacking the reward", abstract="A reward, hacked."),
                make_paper("2606.00002", title="On reward hacking", abstract="Reward hacking."),
            ]
        )
        assert ids(Retriever(corpus).search(["reward", "hacking"]))[0] == "2606.00002"

    def test_words_in_no_paper_find_nothing_and_cost_nothing(self, corpus: Corpus) -> None:
        corpus.upsert_papers([make_paper()])
        assert Retriever(corpus).search(["qwertyuiop"]) == []
        assert Retriever(corpus).search([]) == []

    @pytest.mark.parametrize("postings", [False, True])
    def test_common_words_are_ranked_by_bm25_over_every_match(
        self, corpus: Corpus, monkeypatch: pytest.MonkeyPatch, postings: bool
    ) -> None:
        """The paper holding every word is found among many older and newer papers holding
        some of them, however the BM25 is computed (FTS5's bm25() or the postings)."""
        if postings:  # as on a large corpus
            monkeypatch.setattr(corpus_module, "FTS5_ROWS", 0)
            monkeypatch.setattr(corpus_module, "FTS5_POSTINGS", 3)
        both = make_paper(
            "2605.00300", title="Zebrafish reward model", abstract="A zebrafish reward model."
        )
        filler = [
            make_paper(f"2606.001{i:02d}", title=f"Reward model {i}", abstract="A reward model.")
            for i in range(40)
        ]
        only = make_paper("2606.00301", title="Zebrafish swimming", abstract="Zebrafish swim.")
        corpus.upsert_papers([both, *filler, only])
        retriever = Retriever(corpus, count_cap=3)
        counts, _ = retriever.frequencies(["zebrafish", "reward", "model"])
        assert counts == {"zebrafish": 2, "reward": 3, "model": 3}  # capped at 3
        found = ids(retriever.search(["zebrafish", "reward", "model"], limit=5))
        assert found[:2] == ["2605.00300", "2606.00301"]
        assert (corpus._ranker is not None) is postings

    def test_with_only_common_words_papers_holding_most_of_them_come_first(
        self, corpus: Corpus
    ) -> None:
        filler = [
            make_paper(f"2606.001{i:02d}", title=f"Vision paper {i}", abstract="Vision.")
            for i in range(30)
        ] + [
            make_paper(f"2606.002{i:02d}", title=f"Robot paper {i}", abstract="Robot.")
            for i in range(30)
        ]
        both = make_paper("2605.00001", title="Robot vision", abstract="Robot vision.")
        corpus.upsert_papers([both, *filler])
        retriever = Retriever(corpus, count_cap=3)
        assert ids(retriever.search(["robot", "vision"], limit=3))[0] == both.id

    def test_a_search_ranks_as_many_papers_as_asked(self, corpus: Corpus) -> None:
        corpus.upsert_papers(
            [make_paper(f"2606.{i:05d}", title=f"Robot study {i}") for i in range(60)]
        )
        assert len(Retriever(corpus).search(["robot"], limit=50)) == 50
        assert len(Retriever(corpus).search(["robot"])) == 10

    def test_a_topic_s_search_keeps_to_its_papers(self, corpus: Corpus) -> None:
        a = make_paper("2606.00001", title="Zebrafish alpha")
        b = make_paper("2606.00002", title="Zebrafish beta")
        corpus.upsert_papers([a, b])
        corpus.store_papers([], topic="fish", filed=[a.id])
        assert ids(Retriever(corpus).search(["zebrafish"], topic="fish")) == [a.id]
        assert set(ids(Retriever(corpus).search(["zebrafish"]))) == {a.id, b.id}

    def test_among_a_digest_s_papers_words_are_weighed_among_them(self, corpus: Corpus) -> None:
        papers = [
            make_paper("2606.00001", title="GRPO for math", abstract="We use GRPO on math."),
            make_paper("2606.00002", title="DPO for chat", abstract="We use DPO on chat."),
        ]
        ranked = Retriever(corpus).rank_among(["grpo"], papers)
        assert [(r.paper.id, r.via) for r in ranked] == [("2606.00001", "context")]

    def test_counts_are_cached_until_papers_are_added(self, corpus: Corpus) -> None:
        corpus.upsert_papers([make_paper("2606.00001", title="Zebrafish one")])
        retriever = Retriever(corpus)
        assert retriever.frequencies(["zebrafish"])[0] == {"zebrafish": 1}
        corpus.upsert_papers([make_paper("2606.00002", title="Zebrafish two")])
        clock = [0.0]
        later = Retriever(corpus, monotonic=lambda: clock[0])
        assert later.frequencies(["zebrafish"])[0] == {"zebrafish": 2}
        corpus.upsert_papers([make_paper("2606.00003", title="Zebrafish three")])
        assert later.frequencies(["zebrafish"])[0] == {"zebrafish": 2}  # within a second
        clock[0] = 2.0
        assert later.frequencies(["zebrafish"])[0] == {"zebrafish": 3}


class TestPaperSearch:
    def test_queries_are_built_from_quoted_words(self) -> None:
        assert any_of(["c++", 'say "hi"']) == '"c++" OR "say ""hi"""'
        assert all_of(["a", "b"]) == '"a" "b"'

    def test_title_prefixes_find_the_newest_titles(self, corpus: Corpus) -> None:
        a = make_paper("2606.00001", title="Zebrafish alpha")
        b = make_paper("2606.00002", title="Zebrafish beta", abstract="No other title word.")
        c = make_paper("2606.00003", title="Other", abstract="Zebrafish in the abstract only.")
        corpus.upsert_papers([a, b, c])
        search = PaperSearch(corpus)
        assert search.title_prefix("zeb", limit=5) == [b.id, a.id]
        assert search.title_prefix("zeb", limit=1) == [b.id]
        assert search.title_prefix("ze", limit=5) == []
