"""Resolution: ids in every form, ids fetched from arXiv, names and titles with typos (against
the real titles of a post-training week), the thread's digest first, topics, lists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.feed import read_feed_file
from digest.ingest import ingest_feed_file
from digest.model import Digest
from digest.qa.names import NameEntry, NameIndex, QuestionWords, choose
from digest.qa.resolve import Resolver
from digest.service import DigestService
from digest.topics import POST_TRAIN, TopicCatalog
from digest.windows import Window
from storage import Corpus, Paper, open_corpus
from tests.fakes.arxiv_server import FakeArxiv, FakeEntry
from tests.support.papers import make_paper
from tests.support.paths import SHARED_ARXIV
from tests.support.qa import store_digest

WEEK = "feeds/post-train_2026-05-28_to_06-03.atom.xml"
WEEK_WINDOW = Window(date(2026, 5, 28), date(2026, 6, 3))


@pytest.fixture
def grail(corpus: Corpus) -> Paper:
    paper = make_paper(
        "2606.04889",
        title="GRAIL: Gradient-Reweighted Advantages for Reinforcement Learning",
        abstract="We introduce GRAIL, a token-wise advantage reweighting method for GRPO. "
        "It outperforms GRPO on mathematical reasoning benchmarks.",
    )
    old = make_paper(
        "hep-th/9901001",
        title="Strings on Old Branes",
        abstract="An old-style identifier paper about branes and strings.",
        categories=("hep-th",),
        published=datetime(1999, 1, 4, tzinfo=UTC),
    )
    corpus.upsert_papers([paper, old])
    return paper


@pytest.fixture
def fake() -> Iterator[FakeArxiv]:
    with FakeArxiv() as served:
        yield served


def source_for(fake: FakeArxiv) -> ArxivSource:
    return ArxivSource(
        ArxivSettings(api_url=fake.url, delay_seconds=0, retries=1, backoff_seconds=0.01)
    )


class TestIds:
    @pytest.mark.parametrize(
        "question",
        [
            "2606.04889",
            "2606.04889v2",
            "arXiv:2606.04889",
            "arxiv: 2606.04889v1",
            "https://arxiv.org/abs/2606.04889",
            "http://arxiv.org/abs/2606.04889v3",
            "https://arxiv.org/pdf/2606.04889v2.pdf",
            "arxiv.org/pdf/2606.04889",
            "https://export.arxiv.org/abs/2606.04889",
            "https://arxiv.org/html/2606.04889v1",
            "tell me about 2606.04889 please",
            "@digestbot what is <https://arxiv.org/abs/2606.04889|this one>?",
        ],
    )
    def test_every_common_form_finds_the_paper(
        self, corpus: Corpus, grail: Paper, question: str
    ) -> None:
        resolution = Resolver(corpus).resolve(question)
        assert [(f.paper.id, f.how) for f in resolution.named] == [("2606.04889", "id")]

    @pytest.mark.parametrize(
        "question", ["hep-th/9901001", "arXiv:hep-th/9901001v2", "arxiv.org/abs/hep-th/9901001"]
    )
    def test_old_style_ids(self, corpus: Corpus, grail: Paper, question: str) -> None:
        assert [f.paper.id for f in Resolver(corpus).resolve(question).named] == ["hep-th/9901001"]

    def test_an_id_the_corpus_lacks_is_fetched_from_arxiv_and_stored(
        self, corpus: Corpus, fake: FakeArxiv
    ) -> None:
        fake.add_entries(
            FakeEntry(
                id="2605.26567",
                title="MedGuideX: Guideline-Grounded Clinical Answers",
                summary="We present MedGuideX, which grounds clinical answers in guidelines.",
                authors=["Rosa Vale"],
                categories=["cs.CL"],
                published=datetime(2026, 5, 25, 17, tzinfo=UTC),
            )
        )
        resolution = Resolver(corpus, source=source_for(fake)).resolve("tell me about 2605.26567")
        assert [(f.paper.id, f.how) for f in resolution.named] == [("2605.26567", "fetched")]
        assert corpus.get_paper("2605.26567") is not None
        assert len(fake.requests) == 1
        again = Resolver(corpus, source=source_for(fake)).resolve("2605.26567")
        assert again.named[0].how == "id" and len(fake.requests) == 1

    def test_an_id_arxiv_does_not_know_is_missing_with_near_ids_as_suggestions(
        self, corpus: Corpus, grail: Paper, fake: FakeArxiv
    ) -> None:
        resolution = Resolver(corpus, source=source_for(fake)).resolve("what is 2606.04898?")
        assert resolution.named == () and resolution.missing_ids == ("2606.04898",)
        assert [f.paper.id for f in resolution.suggestions] == ["2606.04889"]  # swapped digits

    def test_arxiv_down_is_one_sentence_not_a_crash(self, corpus: Corpus, grail: Paper) -> None:
        down = ArxivSource(
            ArxivSettings(api_url="http://127.0.0.1:9/api/query", retries=0, delay_seconds=0)
        )
        resolution = Resolver(corpus, source=down).resolve("2606.04888")
        assert resolution.problem.startswith("arXiv could not be reached to look up 2606.04888")
        assert resolution.missing_ids == ()  # unknown, not known to be absent
        assert [f.paper.id for f in resolution.suggestions] == ["2606.04889"]

    def test_without_a_source_a_missing_id_says_so(self, corpus: Corpus) -> None:
        resolution = Resolver(corpus).resolve("2606.11111")
        assert "not in the corpus" in resolution.problem

    def test_ids_and_names_together(self, corpus: Corpus, grail: Paper) -> None:
        other = make_paper("2606.00001", title="Kestrel: Calibrated Judges")
        corpus.upsert_papers([other])
        resolution = Resolver(corpus).resolve("compare 2606.04889 with Kestrel")
        assert [(f.paper.id, f.how) for f in resolution.named] == [
            ("2606.04889", "id"),
            ("2606.00001", "name"),
        ]


class TestNames:
    def test_a_name_from_a_title_prefix_is_found_without_any_digest(
        self, corpus: Corpus, grail: Paper
    ) -> None:
        for question in ("what is GRAIL?", "grail", "Tell me about Grail."):
            assert [f.paper.id for f in Resolver(corpus).resolve(question).named] == [grail.id]

    def test_case_punctuation_and_hyphens_do_not_matter(self, corpus: Corpus) -> None:
        paper = make_paper("2605.29343", title="Draft-OPD: On-Policy Distillation for Drafts")
        corpus.upsert_papers([paper])
        for question in ("what does Draft-OPD do?", "draft opd", "DraftOPD?", "DRAFT_OPD"):
            assert [f.paper.id for f in Resolver(corpus).resolve(question).named] == [paper.id]

    def test_a_short_shouty_name_must_be_written_as_such_in_a_sentence(
        self, corpus: Corpus
    ) -> None:
        paper = make_paper("2606.00172", title="CAST: Clipped Asymmetric Self-Teaching")
        corpus.upsert_papers([paper])
        resolver = Resolver(corpus)
        assert resolver.resolve("what is CAST?").named[0].paper.id == paper.id
        assert resolver.resolve("tell me about cast").named[0].paper.id == paper.id
        assert resolver.resolve("how do we cast the problem as search").named == ()

    def test_a_typo_late_in_a_name_is_forgiven(self, corpus: Corpus) -> None:
        paper = make_paper("2605.29307", title="GrepSeek: Training Search Agents")
        corpus.upsert_papers([paper])
        for question in ("what is GrepSeak?", "GrepSeeek", "grepsek"):
            named = Resolver(corpus).resolve(question).named
            assert [(f.paper.id, f.how) for f in named] == [(paper.id, "name")], question

    def test_a_typo_anywhere_in_a_name_a_digest_showed_is_forgiven(self, corpus: Corpus) -> None:
        paper = make_paper("2605.29307", title="GrepSeek: Training Search Agents")
        corpus.upsert_papers([paper])
        # Without a digest, candidates come from title words sharing the typed start.
        assert Resolver(corpus).resolve("what is GerpSeek").named == ()
        store_digest(corpus, [paper], {paper.id: "GrepSeek"})
        for question in ("what is GerpSeek", "rgepseek?", "GrepSek"):
            named = Resolver(corpus).resolve(question).named
            assert [(f.paper.id, f.how) for f in named] == [(paper.id, "name")], question

    def test_a_name_a_digest_showed_is_found_though_the_title_does_not_start_with_it(
        self, corpus: Corpus
    ) -> None:
        paper = make_paper(
            "2605.30021",
            title="Recovering Diversity Without Losing Alignment: A DPO Recipe for LLMs",
        )
        corpus.upsert_papers([paper])
        assert Resolver(corpus).resolve("what is the DPO Recipe?").named == ()
        store_digest(corpus, [paper], {paper.id: "DPO Recipe"})
        named = Resolver(corpus).resolve("what is the DPO Recipe?").named
        assert [f.paper.id for f in named] == [paper.id]
        assert named[0].naming is not None and named[0].naming.short_name == "DPO Recipe"

    def test_a_title_with_typos_or_typed_only_in_part_is_found(self, corpus: Corpus) -> None:
        paper = make_paper(
            "2605.29712",
            title="Teaching Language Models to Check Grounded Claim Factuality with Human "
            "Test-Taking Strategies",
        )
        corpus.upsert_papers([paper])
        for question in (
            "Teaching Language Models to Check Grounded Claim Factualty with Human Test-Taking "
            "Strategeis",
            "tell me about the paper Teaching Language Models to Check Grounded Claim Factuality",
        ):
            named = Resolver(corpus).resolve(question).named
            assert [(f.paper.id, f.how) for f in named] == [(paper.id, "title")], question

    def test_words_scattered_through_a_long_question_are_not_a_title(self) -> None:
        index = NameIndex([NameEntry("1", "Graph Neural Reward Models", "title")])
        text = "graph " + "x " * 30 + "neural " + "y " * 30 + "reward models"
        assert index.match(QuestionWords(text)) == []

    def test_a_name_two_papers_share_goes_to_the_preferred_one(self) -> None:
        index = NameIndex(
            [
                NameEntry("old", "Citation Grounding", "name", 5),
                NameEntry("new", "Citation Grounding", "name", 0),
            ]
        )
        chosen = choose(index.match(QuestionWords("what is Citation Grounding?")))
        assert [m.paper_id for m in chosen] == ["new"]

    def test_the_disambiguated_name_of_a_digest_is_found_by_its_base(self) -> None:
        index = NameIndex([NameEntry("1", "Citation Grounding (Smith)", "name")])
        assert [m.paper_id for m in index.match(QuestionWords("Citation Grounding?"))] == ["1"]


@pytest.fixture(scope="module")
def week_corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Corpus, Digest]]:
    """A corpus holding the real post-training week and its offline digest, built once for
    the module (the tests using it only read)."""
    if not SHARED_ARXIV.is_dir():
        pytest.skip(f"real arXiv data not present at {SHARED_ARXIV} (only in the dev workspace)")
    with open_corpus(tmp_path_factory.mktemp("week") / "corpus.db") as corpus:
        ingest_feed_file(corpus, SHARED_ARXIV / WEEK, POST_TRAIN)
        service = DigestService(corpus, TopicCatalog.with_builtins())
        yield corpus, service.build("post-train", WEEK_WINDOW, fetch=False)


def _typo(text: str) -> str | None:
    """Swap two letters in the middle of the longest word (None when every word is short)."""
    words = text.split()
    index = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[index]
    if len(word) < 6:
        return None
    middle = len(word) // 2
    words[index] = word[:middle] + word[middle + 1] + word[middle] + word[middle + 2 :]
    return " ".join(words)


def _dropped_letter(text: str) -> str:
    """Drop the third letter of the longest word of a title."""
    words = text.split()
    index = max(range(len(words)), key=lambda i: len(words[i]))
    words[index] = words[index][:2] + words[index][3:]
    return " ".join(words)


class TestRealWeek:
    """Against the 87 real papers and the short names the offline digest gave them."""

    def test_every_paper_is_found_by_its_short_name_in_any_spelling(
        self, week_corpus: tuple[Corpus, Digest]
    ) -> None:
        corpus, week = week_corpus
        resolver = Resolver(corpus)
        failures = []
        for entry in week.papers:
            name = entry.short_name
            questions = [
                f"what is {name}?",
                f"tell me about {name.lower()}",
                f"what does {name.replace('-', ' ')} do",
            ]
            if _typo(name):
                questions.append(f"what is {_typo(name)}?")
            for question in questions:
                named = resolver.resolve(question).named
                if not named or named[0].paper.id != entry.id:
                    failures.append((entry.id, question, [f.paper.id for f in named]))
        assert failures == []

    def test_every_paper_is_found_by_its_title_with_a_typo(
        self, week_corpus: tuple[Corpus, Digest]
    ) -> None:
        corpus, week = week_corpus
        resolver = Resolver(corpus)
        failures = []
        for entry in week.papers:
            question = _dropped_letter(entry.title)
            named = resolver.resolve(question).named
            if not named or named[0].paper.id != entry.id:
                failures.append((entry.id, question, [f.paper.id for f in named]))
        assert failures == []

    def test_the_digest_that_named_a_paper_is_known(
        self, week_corpus: tuple[Corpus, Digest]
    ) -> None:
        corpus, _week = week_corpus
        found = Resolver(corpus).resolve("what is MusaCoder?").named[0]
        assert found.naming is not None
        assert (found.naming.topic, found.naming.since, found.naming.until) == (
            "post-train",
            WEEK_WINDOW.since,
            WEEK_WINDOW.until,
        )

    def test_topic_words_find_the_right_paper_first(
        self, week_corpus: tuple[Corpus, Digest]
    ) -> None:
        corpus, _week = week_corpus
        # Asked on Sunday 2026-05-31: "this week" is 2026-05-25..31, a window on the papers.
        resolver = Resolver(corpus, today=lambda: date(2026, 5, 31))
        for question, expected in (
            ("which papers are about speculative decoding?", "2605.29343"),
            ("papers on GPU kernel generation", "2606.04847"),
            ("legal citation hallucinations", "2606.00898"),
            ("which papers this week are about reward hacking?", "2605.29502"),
        ):
            resolution = resolver.resolve(question)
            assert resolution.named == ()
            assert resolution.related and resolution.related[0].paper.id in {
                expected,
                "2606.04847",  # MusaCoder also names reward hacking as its problem
            }, question
            assert expected in [f.paper.id for f in resolution.related], question

    def test_a_list_question_puts_a_named_paper_in_the_list(
        self, week_corpus: tuple[Corpus, Digest]
    ) -> None:
        corpus, _week = week_corpus
        resolution = Resolver(corpus).resolve("which papers are like GRAIL?")
        assert resolution.wants_list and resolution.named == ()
        assert resolution.related[0].paper.id == "2606.04889"


class TestContext:
    @pytest.fixture
    def two(self, corpus: Corpus) -> tuple[Paper, Paper]:
        older = make_paper(
            "2605.10001",
            title="Citation Grounding for Legal Answers",
            abstract="We ground legal answers in citations with a retrieval step.",
            published=datetime(2026, 5, 12, tzinfo=UTC),
        )
        newer = make_paper(
            "2606.10002",
            title="Citation Grounding in Medical Chat",
            abstract="We ground medical chat answers in citations of guidelines.",
            published=datetime(2026, 6, 2, tzinfo=UTC),
        )
        corpus.upsert_papers([older, newer])
        store_digest(
            corpus,
            [older],
            {older.id: "Citation Grounding"},
            since=date(2026, 5, 11),
            until=date(2026, 5, 17),
        )
        store_digest(corpus, [newer], {newer.id: "Citation Grounding"})
        return older, newer

    def test_a_shared_name_goes_to_the_newest_digest_outside_a_thread(
        self, corpus: Corpus, two: tuple[Paper, Paper]
    ) -> None:
        named = Resolver(corpus).resolve("what is Citation Grounding?").named
        assert [f.paper.id for f in named] == [two[1].id]

    def test_inside_a_thread_its_digest_s_paper_wins(
        self, corpus: Corpus, two: tuple[Paper, Paper]
    ) -> None:
        named = (
            Resolver(corpus).resolve("what is Citation Grounding?", context_ids=[two[0].id]).named
        )
        assert [f.paper.id for f in named] == [two[0].id]

    def test_inside_a_thread_search_ranks_its_digest_s_papers_first(
        self, corpus: Corpus, two: tuple[Paper, Paper]
    ) -> None:
        question = "which papers ground answers in citations?"
        outside = Resolver(corpus).resolve(question).related
        assert outside[0].paper.id == two[0].id  # "answers" is in its title
        inside = Resolver(corpus).resolve(question, context_ids=[two[1].id]).related
        assert [(f.paper.id, f.how) for f in inside][:2] == [
            (two[1].id, "context"),
            (two[0].id, "search"),
        ]

    def test_a_topic_restricts_the_search_and_falls_back_to_closest_matches(
        self, corpus: Corpus, two: tuple[Paper, Paper]
    ) -> None:
        corpus.store_papers([], topic="law", filed=[two[0].id])
        resolver = Resolver(corpus)
        related = resolver.resolve("papers on citations", topic="law").related
        assert [f.paper.id for f in related] == [two[0].id]
        nothing = resolver.resolve("medical chat guidelines", topic="law")
        assert nothing.related == () and nothing.suggestions[0].paper.id == two[1].id


class TestEdges:
    def test_a_long_question_is_cut_not_refused(self, corpus: Corpus, grail: Paper) -> None:
        resolution = Resolver(corpus).resolve("GRAIL " + "word " * 5000)
        assert len(resolution.question) <= 2000
        assert resolution.named[0].paper.id == grail.id

    def test_an_unknown_word_suggests_names_spelled_like_it(self, corpus: Corpus) -> None:
        paper = make_paper("2606.04847", title="MusaCoder: Native GPU Kernel Generation")
        corpus.upsert_papers([paper])
        store_digest(corpus, [paper], {paper.id: "MusaCoder"})
        resolution = Resolver(corpus).resolve("what is MuseCodex")
        assert resolution.named == () and resolution.related == ()
        assert [f.paper.id for f in resolution.suggestions] == [paper.id]


def test_the_week_feed_is_the_one_the_acceptance_names(shared_arxiv: Path) -> None:
    assert len(read_feed_file(shared_arxiv / WEEK).results) == 87
