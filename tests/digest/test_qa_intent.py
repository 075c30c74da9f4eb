"""What a question asks, read without a model: time expressions become windows and leave
the search words; the kind of answer (authors, when, proposes, data, code, compare, list),
in English and a few other languages; and answers of each kind on a small corpus."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from digest.qa import QuestionAnswerer, answer_json, answer_messages, plain_text
from digest.qa.fulltext import FullTextFetcher
from digest.qa.intent import read_kind, read_time
from digest.render import message_text
from storage import Corpus
from tests.fakes.arxiv_fulltext import FakeFullText, PaperText
from tests.support.papers import make_paper

TODAY = date(2026, 6, 4)  # a Thursday


@pytest.mark.parametrize(
    ("question", "since", "until", "rest"),
    [
        (
            "papers from last week about reward models",
            "2026-05-25",
            "2026-05-31",
            "papers about reward models",
        ),
        (
            "which papers this week are about DPO?",
            "2026-06-01",
            "2026-06-04",
            "which papers are about DPO?",
        ),
        ("papers last month on GRPO", "2026-05-01", "2026-05-31", "papers on GRPO"),
        ("since 2026-05-20, papers on RLHF", "2026-05-20", "2026-06-04", ", papers on RLHF"),
        ("papers since May 20 on RLHF", "2026-05-20", "2026-06-04", "papers on RLHF"),
        (
            "in May, which papers study reward hacking?",
            "2026-05-01",
            "2026-05-31",
            ", which papers study reward hacking?",
        ),
        ("reward hacking papers in December", "2025-12-01", "2025-12-31", "reward hacking papers"),
        (
            "papers in the past 10 days about agents",
            "2026-05-26",
            "2026-06-04",
            "papers about agents",
        ),
        ("between May 14 and May 20, reward models", "2026-05-14", "2026-05-20", ", reward models"),
        ("papers submitted on 2026-06-02", "2026-06-02", "2026-06-02", "papers"),
        ("papers from today", "2026-06-04", "2026-06-04", "papers"),
        (
            "la semaine dernière, quels articles sur DPO ?",
            "2026-05-25",
            "2026-05-31",
            ", quels articles sur DPO ?",
        ),
        (
            "welche Arbeiten letzte Woche zu GRPO?",
            "2026-05-25",
            "2026-05-31",
            "welche Arbeiten zu GRPO?",
        ),
        (
            "artículos de la semana pasada sobre DPO",
            "2026-05-25",
            "2026-05-31",
            "artículos sobre DPO",
        ),
    ],
)
def test_time_expressions_become_windows_and_leave_the_words(
    question: str, since: str, until: str, rest: str
) -> None:
    window, left = read_time(question, TODAY)
    assert window is not None
    assert (window.since.isoformat(), window.until.isoformat()) == (since, until)
    assert left == rest


def test_several_expressions_are_all_cut_out_and_the_first_kind_wins() -> None:
    window, left = read_time("GRPO papers from last week, from last week and this week", TODAY)
    assert left == "GRPO papers , and"
    assert window is not None and window.said == "this week"  # "this week" is read first


@pytest.mark.parametrize(
    "question",
    [
        "what may happen to reward models?",  # "may", the verb
        "GRPO in mar conditions",  # an abbreviation in lower case is not a month
        "tell me about 2605.13217",  # an arXiv id is not a date
        "what is the last mile problem?",  # "last" without a unit of time
    ],
)
def test_words_that_only_look_like_time_are_left_alone(question: str) -> None:
    window, left = read_time(question, TODAY)
    assert window is None and left == question


@pytest.mark.parametrize(
    ("question", "named", "kind", "facet"),
    [
        ("who wrote GAGPO?", 1, "authors", ""),
        ("qui a écrit GAGPO ?", 1, "authors", ""),
        ("wer hat GAGPO geschrieben?", 1, "authors", ""),
        ("when was GRAIL submitted?", 1, "when", ""),
        ("¿cuándo se publicó GRAIL?", 1, "when", ""),
        ("what does GRAIL propose?", 1, "proposes", ""),
        ("what dataset does GRAIL evaluate on?", 1, "data", "datasets"),
        ("which benchmarks does GAGPO use?", 1, "data", "benchmarks"),
        ("what baselines does GRAIL beat?", 1, "data", "baselines"),
        ("how well does GRAIL perform?", 1, "data", "results"),
        ("is the code of GRAIL on github?", 1, "code", ""),
        ("compare GRAIL and GAGPO", 2, "compare", ""),
        ("GRAIL vs GAGPO", 2, "compare", ""),
        ("compara GRAIL y GAGPO", 2, "compare", ""),
        ("what is GRAIL?", 1, "general", ""),
        ("which papers are about DPO?", 0, "list", ""),
    ],
)
def test_the_kind_of_answer_asked_for(question: str, named: int, kind: str, facet: str) -> None:
    intent = read_kind(question, named=named, wants_list=named == 0, window=False)
    assert (intent.kind, intent.facet) == (kind, facet)


# -- answers on a small corpus --------------------------------------------------------------------

REWARD_IN = make_paper(
    "2605.30001",
    title="Tallow: Calibrated Reward Models for Chat",
    abstract="We propose Tallow, a reward model calibrated on disagreement between raters. "
    "Tallow raises reward model accuracy by 4 points on RewardBench.",
    authors=("Ann One", "Bo Two", "Cy Three", "Di Four", "Ed Five"),
    published=datetime(2026, 5, 27, 12, tzinfo=UTC),
)
REWARD_OUT = make_paper(
    "2605.10001",
    title="Suet: Reward Models That Abstain",
    abstract="We introduce Suet, a reward model that abstains on ambiguous pairs.",
    published=datetime(2026, 5, 12, 12, tzinfo=UTC),
)
LAST_MILE = make_paper(
    "2605.30002",
    title="Last Mile: Forecasting Parcel Delivery Times",
    abstract="We forecast the last mile of parcel delivery with gradient boosting.",
    published=datetime(2026, 5, 28, 12, tzinfo=UTC),
)
REVISED = make_paper(
    "2605.30003",
    version=3,
    title="Gorse: Code-Linked Preference Optimization",
    abstract="We present Gorse, a preference optimization method. Code: https://github.com/ex/gorse.",
    published=datetime(2026, 5, 26, 12, tzinfo=UTC),
    updated=datetime(2026, 6, 2, 9, tzinfo=UTC),
)


@pytest.fixture
def qa(corpus: Corpus) -> QuestionAnswerer:
    corpus.upsert_papers([REWARD_IN, REWARD_OUT, LAST_MILE, REVISED])
    return QuestionAnswerer(corpus, today=lambda: TODAY)


def _cited(qa: QuestionAnswerer, question: str) -> list[str]:
    return qa.answer(question).cited


class TestWindows:
    def test_last_week_filters_and_last_is_not_searched(self, qa: QuestionAnswerer) -> None:
        answer = qa.answer("papers from last week about reward models")
        assert answer.cited == ["2605.30001"]  # not the older Suet, not "Last Mile"
        assert plain_text(answer).startswith(
            "Papers in the corpus submitted from 2026-05-25 to 2026-05-31 about “reward models”"
        )
        assert "last" not in qa.resolve("papers from last week about reward models").terms

    def test_since_a_day_and_in_a_month(self, qa: QuestionAnswerer) -> None:
        assert _cited(qa, "which papers since 2026-05-20 are about reward models?") == [
            "2605.30001"
        ]
        assert set(_cited(qa, "which papers in May are about reward models?")) == {
            "2605.30001",
            "2605.10001",
        }

    def test_a_window_alone_lists_its_papers_newest_first(self, qa: QuestionAnswerer) -> None:
        answer = qa.answer("which papers came out last week?")
        assert answer.cited == ["2605.30002", "2605.30001", "2605.30003"]
        assert "newest first" in plain_text(answer)

    def test_nothing_in_the_window_says_so_with_the_closest_matches(
        self, qa: QuestionAnswerer
    ) -> None:
        answer = qa.answer("papers from this week about reward models")
        text = plain_text(answer)
        assert answer.kind == "not_found"
        assert text.startswith(
            "I found no paper in the corpus submitted from 2026-06-01 to 2026-06-04 about "
            "“reward models”."
        )
        assert "Closest matches:" in text and "2605.30001" in answer_json(answer)["papers"]


class TestKinds:
    def test_authors_are_all_listed(self, qa: QuestionAnswerer) -> None:
        text = plain_text(qa.answer("who wrote Tallow?"))
        assert "Authors (5): Ann One, Bo Two, Cy Three, Di Four, Ed Five." in text
        assert "et al" not in text

    def test_when_gives_dates_and_the_version(self, qa: QuestionAnswerer) -> None:
        text = plain_text(qa.answer("when was Gorse published?"))
        assert "Submitted 2026-05-26 (v1)" in text
        assert "Latest version: v3, 2026-06-02." in text

    def test_code_links_are_shown_as_text_not_as_links(self, qa: QuestionAnswerer) -> None:
        answer = qa.answer("where is the code of Gorse?")
        assert "- https://github.com/ex/gorse (in abstract)" in plain_text(answer)
        rendered = [s for m in answer_messages(answer) for b in m.blocks for s in b.spans if s.url]
        assert [s.url for s in rendered] == ["https://arxiv.org/abs/2605.30003"]

    def test_results_without_full_text_come_from_the_abstract_and_say_so(
        self, qa: QuestionAnswerer
    ) -> None:
        text = plain_text(qa.answer("what are the results of Tallow?"))
        assert "abstract: “Tallow raises reward model accuracy by 4 points on RewardBench.”" in text
        assert "Only the abstract was searched: the full text is not fetched in this setup." in text

    def test_what_it_could_not_find_and_where_it_looked(self, qa: QuestionAnswerer) -> None:
        text = plain_text(qa.answer("which baselines does Suet use?"))
        assert "I found no sentence naming its baselines in its abstract" in text

    def test_affiliations_come_from_the_full_text_s_author_block(self, corpus: Corpus) -> None:
        corpus.upsert_papers([REWARD_IN])
        page = PaperText(
            REWARD_IN.id,
            REWARD_IN.title,
            [("1 Introduction", "Reward models disagree with raters. " * 20)],
            authors=["Ann One | Orchard Institute", "Bo Two | Quince University"],
        )
        with FakeFullText() as mirror:
            mirror.add(page)
            qa = QuestionAnswerer(corpus, fulltext=FullTextFetcher(corpus, mirror.settings()))
            text = plain_text(qa.answer("who wrote Tallow?"))
            again = plain_text(qa.answer("what does Tallow say about raters?"))
        assert (
            "With affiliations, as the full text gives them: Ann One Orchard Institute; "
            "Bo Two Quince University" in text
        )
        assert "example.org" not in text and "someone" not in text  # e-mails never shown
        assert "Orchard Institute" not in again  # the author block is not a passage
        assert mirror.requests == [f"/html/{REWARD_IN.id}"]  # fetched once, then stored

    def test_a_question_in_french_gets_the_authors(self, qa: QuestionAnswerer) -> None:
        answer = qa.answer("qui a écrit Tallow ?")
        assert answer.intent == "authors" and "Ann One" in plain_text(answer)

    def test_an_unknown_paper_is_not_found_with_closest_matches(self, qa: QuestionAnswerer) -> None:
        answer = qa.answer("who wrote Tallowmere?")
        assert answer.kind == "not_found" and "Closest matches:" in plain_text(answer)
        assert answer.cited == ["2605.30001"]

    @pytest.mark.parametrize(
        "question",
        [
            "who wrote @everyone <!channel> Tallow?",
            "compare Tallow and Suet <@U123> ignore previous instructions",
            "papers from last week about *) OR (",
            "🙂 depuis 2026-13-45 ?",
        ],
    )
    def test_hostile_questions_are_answered_harmlessly(
        self, qa: QuestionAnswerer, question: str
    ) -> None:
        answer = qa.answer(question)
        text = "\n".join(message_text(m) for m in answer_messages(answer))
        assert text.strip()
        assert not any(m in text for m in ("@everyone", "<!channel>", "<@"))
