"""Asking about papers from the edges: `digestbot ask` (text and JSON, the acceptance
questions on the real post-training week) and the router's `/digest ask` and mentions."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.commands import Context, Router
from digest.arxiv_source import ArxivSettings, ArxivSource
from digest.qa import QuestionAnswerer
from digest.service import DigestService
from digest.topics import TopicCatalog
from storage import Corpus, open_corpus
from storage.ledger import LedgerKey, PostLedger
from storage.subscriptions import SubscriptionStore
from tests.fakes.arxiv_fulltext import FakeFullText, PaperText
from tests.fakes.arxiv_server import FakeArxiv, FakeEntry
from tests.support.papers import make_paper
from tests.support.paths import SHARED_ARXIV
from tests.support.qa import store_digest

WEEK = SHARED_ARXIV / "feeds" / "post-train_2026-05-28_to_06-03.atom.xml"
MENTIONS = ("@everyone", "@here", "<!channel>", "<!here", "<@")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def ask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator:
    """Runs `digestbot ...` in-process against a fresh database, no config, no key."""
    monkeypatch.chdir(tmp_path)
    for name in ("DIGESTBOT_CONFIG", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    # Nothing here may reach the real arXiv: a closed loopback port unless a test sets one.
    monkeypatch.setenv("DIGESTBOT_ARXIV_API_URL", "http://127.0.0.1:9/api/query")
    monkeypatch.setenv("DIGESTBOT_DB", str(tmp_path / "corpus.db"))

    def run(*argv: str) -> Run:
        out = io.StringIO()
        code = main(list(argv), out=out)
        return Run(code, out.getvalue(), capsys.readouterr().err)

    yield run


@pytest.fixture
def week(ask) -> None:
    if not WEEK.is_file():
        pytest.skip(f"real arXiv data not present at {WEEK} (only in the dev workspace)")
    assert ask("ingest", "--feed", str(WEEK), "--topic", "post-train").code == 0


class TestAcceptance:
    """With the corpus holding post-train_2026-05-28_to_06-03.atom.xml."""

    def test_by_id(self, ask, week) -> None:
        run = ask("ask", "--no-fulltext", "tell me about arXiv:2606.04889v1")
        assert run.code == 0, run.err
        lines = run.out.splitlines()
        assert lines[0] == "About the paper"
        assert lines[2].startswith("GRAIL · Gradient-Reweighted Advantages for Reinforcement")
        assert run.out.count("https://arxiv.org/abs/2606.04889") == 1

    def test_by_short_name(self, ask, week) -> None:
        run = ask("ask", "--no-fulltext", "--format", "json", "what does MusaCoder do?")
        assert run.code == 0, run.err
        assert run.json()["papers"] == ["2606.04847"]

    def test_by_a_title_with_a_typo(self, ask, week) -> None:
        run = ask(
            "ask",
            "--no-fulltext",
            "--format",
            "json",
            "Recovering Diversty Without Loosing Alignment",
        )
        assert run.json()["papers"] == ["2605.30021"]

    def test_by_topic_words(self, ask, week) -> None:
        run = ask(
            "ask",
            "--no-fulltext",
            "--format",
            "json",
            "which papers are about speculative decoding?",
        )
        data = run.json()
        assert data["papers"][0] == "2605.29343"
        assert data["answer"].startswith("Papers in the corpus about “speculative decoding”")

    def test_names_from_the_stored_digest_work_too(self, ask, week) -> None:
        built = ask(
            "digest", "post-train", "--since", "2026-05-28", "--until", "2026-06-03", "--no-fetch"
        )
        assert built.code == 0, built.err
        run = ask("ask", "--no-fulltext", "--format", "json", "what is the DPO Recipe?")
        assert run.json()["papers"] == ["2605.30021"]
        assert "Named in the post-train digest of 2026-05-28 to 2026-06-03" in run.json()["answer"]

    def test_topic_option_scopes_the_search(self, ask, week) -> None:
        run = ask("ask", "--no-fulltext", "--topic", "post-train", "--format", "json", "GRPO")
        assert run.code == 0 and run.json()["papers"]


class TestCommandLine:
    def test_an_unknown_id_is_fetched_from_arxiv(self, ask, monkeypatch) -> None:
        with FakeArxiv() as fake:
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
            monkeypatch.setenv("DIGESTBOT_ARXIV_API_URL", fake.url)
            run = ask("ask", "--no-fulltext", "--format", "json", "2605.26567")
        assert run.json()["papers"] == ["2605.26567"]
        assert "Fetched from arXiv just now" in run.json()["answer"]
        again = ask("ask", "--no-fulltext", "what does MedGuideX do?")
        # The title says what was asked; the paper's name heads its section, once.
        assert again.out.splitlines()[:3] == [
            "About the paper",
            "===============",
            "MedGuideX · Guideline-Grounded Clinical Answers",
        ]

    def test_an_empty_question_is_a_usage_error(self, ask) -> None:
        run = ask("ask", "  ")
        assert run.code == 2 and run.out == ""
        assert run.err.startswith("digestbot: error: ask what?")

    def test_an_unknown_topic_is_a_usage_error(self, ask) -> None:
        run = ask("ask", "--topic", "nope", "GRPO")
        assert run.code == 2 and "nope" in run.err

    @pytest.mark.parametrize(
        "question",
        ["c++ AND (", '"unbalanced', "NEAR(", "*", "🙂", "@everyone <!channel> hi", "x" * 10_000],
    )
    def test_bad_input_is_answered_not_crashed(self, ask, question: str) -> None:
        run = ask("ask", "--no-fulltext", question)
        assert run.code == 0, run.err
        assert run.out.strip() and not any(m in run.out for m in MENTIONS)

    @pytest.mark.parametrize("html", [True, False])
    def test_full_texts_come_from_the_mirror_the_environment_names(
        self, ask, tmp_path: Path, monkeypatch, html: bool
    ) -> None:
        with open_corpus(tmp_path / "corpus.db") as corpus:
            corpus.upsert_papers([make_paper("2606.09001", title="Lanternfish: Step Rewards")])
        page = PaperText(
            "2606.09001",
            "Lanternfish: Step Rewards",
            [
                # Enough text to read as a paper, not an error page (fulltext._MIN_TEXT).
                ("1 Introduction", "Small reasoners are overconfident in their steps. " * 12),
                ("3 Experiments", "We evaluate on the OrchardMath benchmark of 1,200 problems."),
            ],
            html=html,
        )
        with FakeFullText() as mirror:
            mirror.add(page)
            monkeypatch.setenv("DIGESTBOT_ARXIV_HTML_URL", f"{mirror.url}/html/")
            monkeypatch.setenv("DIGESTBOT_ARXIV_PDF_URL", f"{mirror.url}/pdf/")
            run = ask("ask", "--format", "json", "which benchmark does Lanternfish evaluate on?")
        assert run.code == 0, run.err
        assert "3 Experiments: “We evaluate on the OrchardMath benchmark" in run.json()["answer"]
        expected = ["/html/2606.09001"] if html else ["/html/2606.09001", "/pdf/2606.09001"]
        assert mirror.requests == expected

    def test_words_need_no_quotes(self, ask) -> None:
        run = ask("ask", "--no-fulltext", "--format", "json", "reward", "hacking")
        assert run.code == 0 and {"answer", "papers"} <= set(run.json())


# -- the router ---------------------------------------------------------------------------------


def text_of(reply) -> str:
    return "\n".join(block.plain for message in reply.messages for block in message.blocks)


@pytest.fixture
def router(corpus: Corpus) -> Router:
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
    old_digest = store_digest(
        corpus,
        [older],
        {older.id: "Citation Grounding"},
        since=date(2026, 5, 11),
        until=date(2026, 5, 17),
    )
    store_digest(corpus, [newer], {newer.id: "Citation Grounding"})
    ledger = PostLedger(corpus)
    key = LedgerKey("slack:C1", "post-train", date(2026, 5, 11), date(2026, 5, 17))
    ledger.mark(key, "parent", 0, "sent", message_ref="1715.0001", digest_id=old_digest)
    unreachable = ArxivSource(ArxivSettings(api_url="http://127.0.0.1:9/api/query", retries=0))
    qa = QuestionAnswerer(corpus)
    return Router(
        service=DigestService(corpus, TopicCatalog.with_builtins(), unreachable),
        subscriptions=SubscriptionStore(corpus),
        ledger=ledger,
        answer=qa.reply,
    )


class TestRouter:
    def test_digest_ask_answers_with_the_paper_linked(self, router: Router) -> None:
        reply = router.route("ask what is Citation Grounding?", Context("slack", "U1", "slack:C1"))
        assert reply.messages[0].key == "answer"
        spans = [s for b in reply.messages[0].blocks for s in b.spans if s.url]
        assert {s.url for s in spans} == {"https://arxiv.org/abs/2606.10002"}

    def test_a_mention_in_a_digest_thread_prefers_that_digest_s_paper(self, router: Router) -> None:
        in_thread = Context("slack", "U1", "slack:C1", thread="1715.0001")
        reply = router.mention("<@UBOT> what is Citation Grounding?", in_thread)
        assert "Citation Grounding for Legal Answers" in text_of(reply)
        outside = router.mention(
            "<@UBOT> what is Citation Grounding?", Context("slack", "U1", "slack:C1")
        )
        assert "Citation Grounding in Medical Chat" in text_of(outside)

    @pytest.mark.parametrize(
        "text", ["<@UBOT> @everyone c++ AND (", "<@UBOT> <!channel> 🙂", "<@UBOT> NEAR( *"]
    )
    def test_bad_mentions_get_a_clear_answer_without_mentions(
        self, router: Router, text: str
    ) -> None:
        reply = router.mention(text, Context("slack", "U1", "slack:C1"))
        body = text_of(reply)
        assert body.strip() and not any(m in body for m in MENTIONS)
