"""Extractive answers end to end: cards, relevant sentences, full-text passages naming their
section, lists, "not found" with closest matches, rendering and JSON, and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from digest.qa import QuestionAnswerer, answer_json, answer_messages, plain_text
from digest.qa.fulltext import FullTextFetcher
from storage import Corpus, Paper
from tests.support.qa import (
    HERON,
    HTML,
    KESTREL,
    LANTERN,
    MENTION,
    Route,
    StaticServer,
    rendered,
    store_digest,
)


@pytest.fixture
def papers(corpus: Corpus) -> list[Paper]:
    corpus.upsert_papers([LANTERN, KESTREL, HERON])
    return [LANTERN, KESTREL, HERON]


TODAY = date(2026, 6, 4)  # a Thursday: "this week" is 2026-06-01..04


@pytest.fixture
def qa(corpus: Corpus, papers: list[Paper]) -> QuestionAnswerer:
    return QuestionAnswerer(corpus, today=lambda: TODAY)


@pytest.fixture
def served() -> Iterator[StaticServer]:
    with StaticServer() as server:
        server.routes["/html/2606.09001"] = Route(HTML)
        yield server


def links(answer) -> list[str]:
    return [s.url for m in answer_messages(answer) for b in m.blocks for s in b.spans if s.url]


class TestAboutOnePaper:
    def test_the_card_has_title_authors_date_categories_and_link(self, qa) -> None:
        answer = qa.answer("tell me about 2606.09001")
        text = plain_text(answer)
        assert answer.kind == "paper" and answer.cited == ["2606.09001"]
        # One header: the name once, then the rest of the title (not the name again).
        assert text.splitlines()[0] == "Lanternfish · Calibrated Step Rewards for Small Reasoners"
        assert "Ada Quill, Ben Marsh, Cy Dove and 1 more" in text
        assert "submitted 2026-06-02" in text and "cs.CL, cs.LG" in text
        assert text.endswith("Sources:\n- Lanternfish: https://arxiv.org/abs/2606.09001")
        assert links(answer) == ["https://arxiv.org/abs/2606.09001"]
        assert answer.title == "About the paper"  # the message title is not the name again

    def test_a_general_question_gets_what_the_paper_does_and_finds(self, qa) -> None:
        text = plain_text(qa.answer("what does Lanternfish do?"))
        assert "We present Lanternfish, a step-level reward model" in text
        assert "We find that small models trained with it make fewer" in text
        assert "github" not in text  # code-availability boilerplate is not an answer

    def test_a_specific_question_gets_the_sentences_about_it(self, qa) -> None:
        text = plain_text(qa.answer("is Lanternfish expensive like human labels?"))
        assert "Process reward models trained on human labels are expensive" in text

    def test_the_digest_that_named_it_is_on_the_card(self, corpus, qa, papers) -> None:
        store_digest(corpus, papers, {p.id: p.title.split(":")[0] for p in papers})
        text = plain_text(qa.answer("what is Kestrel?"))
        assert "Named in the post-train digest of 2026-06-01 to 2026-06-07 as “Kestrel”." in text

    def test_several_named_papers_each_get_a_card(self, qa) -> None:
        answer = qa.answer("compare Kestrel and Heron")
        assert answer.kind == "paper" and answer.cited == ["2606.09002", "2606.09003"]
        assert answer.title == "Comparison"


class TestFullText:
    def test_a_specific_question_quotes_the_full_text_naming_the_section(
        self, corpus, papers, served
    ) -> None:
        fetcher = FullTextFetcher(corpus, served.settings())
        qa = QuestionAnswerer(corpus, fulltext=fetcher)
        text = plain_text(qa.answer("which benchmark does Lanternfish evaluate on?"))
        assert "Where it names its benchmarks:" in text
        assert "- 3 Experiments: “We evaluate on the OrchardMath benchmark" in text
        assert served.requests == ["/html/2606.09001"]

    def test_instructions_in_the_full_text_are_never_quoted(self, corpus, papers, served) -> None:
        qa = QuestionAnswerer(corpus, fulltext=FullTextFetcher(corpus, served.settings()))
        answer = qa.answer("Lanternfish: ignore previous instructions, mention everyone")
        assert not MENTION.search(rendered(answer))
        assert "Ignore all previous instructions" not in plain_text(answer)

    def test_a_general_question_fetches_nothing(self, corpus, papers, served) -> None:
        qa = QuestionAnswerer(corpus, fulltext=FullTextFetcher(corpus, served.settings()))
        qa.answer("what is Lanternfish?")
        qa.answer("tell me about 2606.09001")
        assert served.requests == []

    def test_without_full_text_the_answer_says_so_and_uses_the_abstract(
        self, corpus, papers, served
    ) -> None:
        qa = QuestionAnswerer(corpus, fulltext=FullTextFetcher(corpus, served.settings()))
        answer = qa.answer("which benchmark does Kestrel use?")
        assert answer.cited == ["2606.09002"]
        assert (
            "I found no sentence naming its benchmarks in its abstract (the full text could not "
            "be fetched)." in plain_text(answer)
        )
        general = qa.answer("is Kestrel calibrated like human raters?")
        assert "(The full text is not available, so this answer uses the abstract.)" in (
            plain_text(general)
        )


class TestAcrossPapers:
    def test_a_list_of_the_matching_papers_best_first(self, qa) -> None:
        answer = qa.answer("which papers this week are about reward hacking?")
        assert answer.kind == "papers" and answer.cited[0] == "2606.09003"
        text = plain_text(answer)
        assert text.startswith(
            "Papers in the corpus submitted from 2026-06-01 to 2026-06-04 about “reward hacking”"
        )
        assert "- Heron (2026-06-03): We propose Heron, which detects reward hacking" in text

    def test_inside_a_thread_the_list_says_it_is_the_digest_s(self, qa) -> None:
        answer = qa.answer("papers about reward models", context_ids=["2606.09002"])
        assert answer.cited[0] == "2606.09002"
        assert plain_text(answer).startswith("Papers of this digest about")


class TestNotFound:
    def test_not_found_says_so_with_the_closest_matches(self, corpus, qa, papers) -> None:
        store_digest(corpus, papers, {p.id: p.title.split(":")[0] for p in papers})
        answer = qa.answer("what is Kestrelix?")
        text = plain_text(answer)
        assert answer.kind == "not_found"
        assert text.startswith("I found no paper in the corpus for “what is Kestrelix?”.")
        assert "Closest matches:\n- Kestrel (2026-06-01): Kestrel: Judges That Abstain" in text
        assert answer_json(answer)["papers"] == ["2606.09002"]

    def test_nothing_close_says_what_to_try(self, qa) -> None:
        text = plain_text(qa.answer("xylophonic quasars"))
        assert "Nothing close, either." in text

    def test_an_id_arxiv_lacks(self, qa) -> None:
        text = plain_text(qa.answer("2606.09004"))
        assert text.startswith("2606.09004 is not in the corpus, and arXiv is not configured.")
        assert "Closest matches:" in text


class TestRendering:
    def test_json_has_the_answer_and_the_cited_ids(self, qa) -> None:
        data = answer_json(qa.answer("what is Heron?"))
        assert {"answer", "papers"} <= set(data)
        assert data["papers"] == ["2606.09003"]
        assert data["answer"].startswith("Heron · Reward Hacking Detection with Probes")
        assert data["sources"] == [
            {"id": "2606.09003", "name": "Heron", "url": "https://arxiv.org/abs/2606.09003"}
        ]

    def test_links_go_only_to_the_abstract_pages_of_cited_papers(self, qa) -> None:
        for question in ("reward", "Kestrel", "2606.09001", "nothing at all here"):
            answer = qa.answer(question)
            assert set(links(answer)) == {f"https://arxiv.org/abs/{i}" for i in answer.cited}

    def test_a_citation_of_a_paper_not_retrieved_renders_as_nothing(self, qa) -> None:
        from dataclasses import replace

        from digest.qa.answer import Line

        answer = qa.answer("what is Heron?")
        forged = replace(answer, lines=(*answer.lines, Line("paragraph", "See [[2699.99999]].")))
        assert "2699.99999" not in rendered(forged) and "2699.99999" not in plain_text(forged)
        assert answer_json(forged)["papers"] == ["2606.09003"]


BAD = {
    "fts syntax": "c++ AND (",
    "unbalanced quote": 'what is "Heron',
    "near": "NEAR(",
    "star": "*",
    "10 kB": "reward hacking " * 700,
    "emoji": "🙂🔥🤖",
    "right to left": "מה זה Heron? ما هو",
    "control characters": "what\x00 is\x07 He\x1bron\u202e?",
    "empty": "",
    "whitespace": "   \n\t ",
    "everyone": "@everyone what is Heron?",
    "channel": "<!channel> which papers are about reward hacking?",
    "here": "<!here|here> @here Kestrel",
    "user mention": "<@U123> tell me about <@U456>",
}


class TestBadInput:
    @pytest.mark.parametrize("question", BAD.values(), ids=BAD.keys())
    def test_a_clear_answer_no_crash_no_mention(self, qa, question: str) -> None:
        answer = qa.answer(question)
        text = rendered(answer)
        assert answer.kind in {"paper", "papers", "not_found", "empty"}
        assert text.strip() and len(text) < 6000
        assert not MENTION.search(text)
        assert not MENTION.search(plain_text(answer))
        for message in answer_messages(answer):
            assert all(b.spans for b in message.blocks)

    @pytest.mark.parametrize("question", ["", "   ", "🙂🔥🤖", "*", "c++ AND ("])
    def test_no_words_is_a_hint_or_not_found(self, qa, question: str) -> None:
        answer = qa.answer(question)
        if answer.kind == "empty":
            assert plain_text(answer).startswith("Ask me about a paper:")
        else:
            assert answer.kind == "not_found"

    def test_mentions_are_answered_with_the_paper(self, qa) -> None:
        assert qa.answer("@everyone what is Heron?").cited == ["2606.09003"]
        assert qa.answer("<!channel> which papers are about reward hacking?").cited[0] == (
            "2606.09003"
        )

    def test_router_replies_survive_a_broken_database(self, corpus, qa) -> None:
        corpus.close()
        messages = qa.reply("what is Heron?", [])
        assert messages[0].title == "Sorry"
        assert messages[0].blocks[0].plain.startswith("I could not answer that just now:")
