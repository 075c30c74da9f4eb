"""Questions asked about a paper: recorded when the bot answers one, listed (escaped) on
the paper's page."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.wiring import question_recorder
from digest.qa import QuestionAnswerer
from storage import Corpus, StorageError
from storage.questions import QuestionLog
from tests.support.web import WINDOW, get, make_app, store_week, week


class TestQuestionLog:
    def test_newest_first_per_paper(self, corpus: Corpus) -> None:
        log = QuestionLog(corpus)
        log.record("first?", ["2606.00001"], asked_at=datetime(2026, 6, 1, tzinfo=UTC))
        log.record(
            "second?", ["2606.00001", "2606.00002"], asked_at=datetime(2026, 6, 2, tzinfo=UTC)
        )
        assert [q.question for q in log.about("2606.00001")] == ["second?", "first?"]
        assert [q.question for q in log.about("2606.00002")] == ["second?"]
        assert log.about("2606.00003") == []

    def test_a_question_about_no_paper_is_not_kept(self, corpus: Corpus) -> None:
        log = QuestionLog(corpus)
        log.record("anything?", [])
        log.record("   ", ["2606.00001"])
        assert log.about("2606.00001") == []


class TestRecordingAnswers:
    def test_a_question_about_a_paper_is_recorded_and_shown(self, corpus: Corpus) -> None:
        store_week(corpus, week(WINDOW), WINDOW)
        qa = QuestionAnswerer(corpus, on_answer=question_recorder(corpus))
        answer = qa.answer("tell me about 2606.01001 <script>alert(1)</script>")
        assert answer.kind == "paper" and "2606.01001" in answer.cited
        text = get(make_app(corpus), "/p/2606.01001").text
        assert "Questions asked about it" in text
        assert (
            "tell me about 2606.01001 &lt;script&gt;" in text or "tell me about 2606.01001" in text
        )
        assert "<script>alert" not in text

    def test_a_list_question_is_not_recorded_against_its_papers(self, corpus: Corpus) -> None:
        store_week(corpus, week(WINDOW), WINDOW)
        qa = QuestionAnswerer(corpus, on_answer=question_recorder(corpus))
        answer = qa.answer("which papers are about instruction tuning data selection?")
        assert answer.kind == "papers"
        assert all(QuestionLog(corpus).about(i) == [] for i in answer.cited)

    def test_a_failing_log_does_not_lose_the_answer(self, corpus: Corpus) -> None:
        store_week(corpus, week(WINDOW), WINDOW)

        def broken(_answer: object) -> None:
            raise StorageError("the database is read-only")

        qa = QuestionAnswerer(corpus, on_answer=broken)
        assert qa.answer("tell me about 2606.01001").kind == "paper"

    def test_a_paper_nobody_asked_about_says_so(self, corpus: Corpus) -> None:
        store_week(corpus, week(WINDOW), WINDOW)
        text = get(make_app(corpus), "/p/2606.01002").text
        assert "Nobody has asked the bot about this paper yet." in text
