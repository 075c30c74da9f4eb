"""The language-model engine over an OpenAI-compatible API: the real `openai` SDK against
the loopback Chat Completions stand-in (tests/fakes/openai_server.py).

Covers a good digest, invented and single-bracket ids (for both engines: the Claude
transport too), servers without strict-schema support or JSON mode, invalid JSON then one
repair, 429 with Retry-After, 500 forever -> the offline engine, a local server without an
API key, `language = "de"` reaching the prompts, and `ask` through the same engine choice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from bot.config import parse_config
from bot.errors import ConfigError
from bot.wiring import answer_writer, choose_synthesizer, digest_service
from digest.claude.client import LLMClient, LLMSettings
from digest.errors import SynthesisFailed
from digest.llm.cost import Price
from digest.llm.engine import EngineSettings, LLMEngine
from digest.model import Digest
from digest.openai.client import OpenAIClient, OpenAISettings
from digest.qa import QuestionAnswerer, answer_json
from digest.qa.fulltext import FullTextFetcher
from digest.render import messages, to_markdown
from digest.service import DigestService
from digest.topics import TopicCatalog
from digest.windows import Window
from storage import Corpus
from tests.fakes.anthropic_server import FakeAnthropic, Seen, plausible_answer
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.support.claude import (
    GENERATED_AT,
    PAPERS_A,
    WINDOW_A,
    Sleeps,
    generated_week,
    metadata,
    week_request,
)
from tests.support.qa import HERON, HTML, KESTREL, LANTERN, Route, StaticServer
from tests.support.weeks import read_shared_week

IDS_A = {p.id for p in PAPERS_A}
KEY = "sk-openai-test"
MODEL = "gpt-test"
OUTSIDE = "2605.99999"  # not a paper of any test window
OUTSIDE_2 = "2605.12345"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY) as served:
        yield served


def client_for(
    fake: FakeOpenAI, sleeps: Callable[[float], None] | None = None, **kw: Any
) -> OpenAIClient:
    settings = OpenAISettings(
        api_key=kw.pop("api_key", KEY), base_url=fake.base_url, max_retries=2, **kw
    )
    return OpenAIClient(settings, sleep=sleeps if sleeps is not None else Sleeps())


def engine_for(
    fake: FakeOpenAI, sleeps: Callable[[float], None] | None = None, **settings: Any
) -> LLMEngine:
    return LLMEngine(
        client_for(fake, sleeps), EngineSettings(model=MODEL, map_model="gpt-map", **settings)
    )


def everything(digest: Digest) -> str:
    """Every output of a digest: its JSON and the messages posted to a chat."""
    return "\n".join((json.dumps(digest.to_json()), repr(messages(digest)), to_markdown(digest)))


# -- a good digest --------------------------------------------------------------------------------


class TestGoodDigest:
    def test_one_request_with_a_strict_schema_citing_only_the_window(
        self, fake: FakeOpenAI
    ) -> None:
        digest = engine_for(fake).synthesize(week_request())

        (request,) = fake.requests
        assert request.path == "/v1/chat/completions" and request.status == 200
        assert request.response_format == "json_schema"
        schema = request.body["response_format"]["json_schema"]
        assert schema["strict"] is True and schema["name"] == "DigestDraft"
        assert schema["schema"]["additionalProperties"] is False
        assert [m["role"] for m in request.body["messages"]] == ["system", "user"]
        assert set(request.ids) == IDS_A  # every paper of the window went as data
        assert digest.synthesizer == MODEL
        assert digest.all_citations() and set(digest.all_citations()) <= IDS_A
        for key in ("themes", "methods", "notable", "new", "challenges", "overview"):
            section = digest.section(key)
            assert section is not None and section.items, key

    def test_run_metadata_names_the_server_and_an_unknown_price_with_tokens(
        self, fake: FakeOpenAI
    ) -> None:
        digest = engine_for(fake).synthesize(week_request())

        meta = metadata(digest)
        seen = fake.requests[0]
        assert f"OpenAI-compatible API at {fake.base_url}" in meta["Synthesizer"]
        assert meta["Requests"] == "1"
        assert meta["Estimated cost"] == (
            f"unknown price: no price for {MODEL} is configured "
            f"({seen.input_tokens:,} prompt and {seen.output_tokens:,} output tokens)"
        )

    def test_a_configured_price_gives_the_cost(self, fake: FakeOpenAI) -> None:
        engine = engine_for(fake, prices={MODEL: Price(1.0, 4.0, cache_read=0.5)})

        digest = engine.synthesize(week_request())

        seen = fake.requests[0]
        expected = (seen.input_tokens * 1.0 + seen.output_tokens * 4.0) / 1e6
        assert metadata(digest)["Estimated cost"].startswith(f"${expected:.4f} at list prices")

    def test_the_key_is_sent_as_a_bearer_token_and_recorded_nowhere(
        self, fake: FakeOpenAI
    ) -> None:
        digest = engine_for(fake).synthesize(week_request())

        assert fake.requests[0].headers["has-authorization"] == "true"
        assert KEY not in repr(fake.requests[0].headers)
        assert KEY not in everything(digest)


# -- ids that cannot slip through -----------------------------------------------------------------


def planting(seen: Seen) -> dict[str, Any]:
    """A plausible digest with ids planted the ways a model writes them: a single-bracket
    and an `arXiv:` id of no window paper in the gist, a heading and an item; a window
    paper written as a bare id, in single brackets and as a versioned abs URL."""
    answer = plausible_answer(seen)
    a, b, c = seen.ids[:3]
    answer["gist"] += (
        f" The strongest result is [{OUTSIDE}], which beats arXiv:{OUTSIDE_2} by far."
        f" Also read [{a}] and arXiv:{b}v2."
    )
    theme = answer["sections"]["themes"][0]
    theme["heading"] += f" [{OUTSIDE}]"
    theme["text"] += f" See https://arxiv.org/abs/{c}v3 and [arXiv:{OUTSIDE_2}; {OUTSIDE}]."
    answer["sections"]["challenges"].append(
        {"heading": "Open", "text": f"Scaling is open (arXiv {OUTSIDE}).", "papers": []}
    )
    return answer


def anthropic_engine(fake: FakeAnthropic) -> LLMEngine:
    client = LLMClient(LLMSettings(api_key="k", base_url=fake.base_url), sleep=Sleeps())
    return LLMEngine(client, EngineSettings())


class TestIdsCannotSlipThrough:
    @pytest.mark.parametrize("vendor", ["openai", "anthropic"])
    def test_single_bracket_and_arxiv_ids_in_the_gist_never_reach_any_output(
        self, vendor: str
    ) -> None:
        """The bug of issue 13: `[2605.99999]` and `arXiv:2605.12345` reached the posted
        gist. Now both are removed with their sentence, for both transports, and reported
        in Run Metadata by count (the ids themselves appear nowhere)."""
        if vendor == "openai":
            with FakeOpenAI(api_key=KEY) as fake:
                fake.queue(Reply.answer(planting))
                digest = engine_for(fake).synthesize(week_request())
        else:
            with FakeAnthropic() as anthropic_fake:
                anthropic_fake.queue(Reply.answer(planting))
                digest = anthropic_engine(anthropic_fake).synthesize(week_request())

        out = everything(digest)
        assert OUTSIDE not in out and OUTSIDE_2 not in out
        assert "strongest result" not in digest.gist
        assert set(digest.all_citations()) <= IDS_A
        check = metadata(digest)["Citation check"]
        assert "cited id" in check and "not in the window removed" in check

    def test_window_papers_in_any_form_become_citations(self, fake: FakeOpenAI) -> None:
        fake.queue(Reply.answer(planting))

        digest = engine_for(fake).synthesize(week_request())

        a, b, c = fake.requests[0].ids[:3]
        assert f"Also read [[{a}]] and [[{b}]]." in digest.gist
        themes = digest.section("themes")
        assert themes is not None
        theme = themes.items[0]
        assert f"[[{c}]]" in theme.text and "arxiv.org" not in theme.text
        assert OUTSIDE not in theme.heading
        assert "turned into citation markers" in metadata(digest)["Citation check"]


# -- structured output on servers that differ -----------------------------------------------------


class TestStructuredOutput:
    def test_json_mode_when_the_server_lacks_schema_support(self) -> None:
        """A 400 to `json_schema`: asked again in JSON mode with the schema in the prompt,
        and later requests start there."""
        with FakeOpenAI(api_key=KEY, schema_support=False) as fake:
            client = client_for(fake)
            engine = LLMEngine(client, EngineSettings(model=MODEL))
            digest = engine.synthesize(week_request())
            engine.synthesize(week_request())

        first, second, third = fake.requests
        assert (first.status, first.response_format) == (400, "json_schema")
        assert (second.status, second.response_format) == (200, "json_object")
        assert '"DraftSections"' in second.user_text  # the schema, for the model to read
        assert third.response_format == "json_object"  # remembered
        assert set(digest.all_citations()) <= IDS_A and digest.synthesizer == MODEL
        assert metadata(digest)["Requests"] == "2"

    def test_prompt_only_when_the_server_lacks_json_mode_too(self) -> None:
        with FakeOpenAI(api_key=KEY, schema_support=False, json_mode=False) as fake:
            digest = engine_for(fake).synthesize(week_request())

        assert [r.response_format for r in fake.requests] == ["json_schema", "json_object", ""]
        assert [r.status for r in fake.requests] == [400, 400, 200]
        themes = digest.section("themes")
        assert set(digest.all_citations()) <= IDS_A and themes is not None and themes.items

    def test_invalid_json_then_one_repair(self, fake: FakeOpenAI) -> None:
        fake.queue(Reply.text('{"gist": "cut'), Reply.default())

        digest = engine_for(fake).synthesize(week_request())

        assert len(fake.requests) == 2
        assert "previous answer could not be used" in fake.requests[1].user_text
        assert metadata(digest)["Requests"] == "2 (repairs: invalid JSON)"
        assert digest.synthesizer == MODEL

    def test_a_code_fence_around_the_json_is_accepted(self, fake: FakeOpenAI) -> None:
        """Local models in JSON mode often wrap the object in a Markdown fence."""
        fake.queue(
            Reply("text", lambda seen: f"```json\n{json.dumps(plausible_answer(seen))}\n```")
        )

        digest = engine_for(fake).synthesize(week_request())

        assert len(fake.requests) == 1  # no repair was needed
        assert set(digest.all_citations()) <= IDS_A and digest.synthesizer == MODEL

    def test_max_completion_tokens_for_models_that_refuse_max_tokens(self) -> None:
        with FakeOpenAI(api_key=KEY, new_token_param=True) as fake:
            digest = engine_for(fake).synthesize(week_request())

        assert [r.status for r in fake.requests] == [400, 200]
        assert "max_completion_tokens" in fake.requests[1].body
        assert fake.requests[1].response_format == "json_schema"
        assert digest.synthesizer == MODEL


# -- faults ---------------------------------------------------------------------------------------


class TestFaults:
    def test_429_with_retry_after_is_waited_out(self, fake: FakeOpenAI) -> None:
        sleeps = Sleeps()
        fake.queue(Reply.error(429, retry_after=3))

        digest = engine_for(fake, sleeps).synthesize(week_request())

        assert sleeps == [3.0]
        assert [r.status for r in fake.requests] == [429, 200]
        assert metadata(digest)["Requests"] == "2 (1 repeated after a transient API error)"

    def test_500_forever_falls_back_to_the_offline_engine(
        self, fake: FakeOpenAI, corpus: Corpus
    ) -> None:
        sleeps = Sleeps()
        fake.always(Reply.error(500))
        corpus.store_papers(PAPERS_A, "post-train", [p.id for p in PAPERS_A])
        service = DigestService(
            corpus,
            TopicCatalog.with_builtins(),
            synthesizer=engine_for(fake, sleeps),
            clock=lambda: GENERATED_AT,
        )

        digest, digest_id = service.build_stored("post-train", WINDOW_A, fetch=False)

        assert len(fake.requests) == 3 and len(sleeps) == 2  # max_retries = 2
        assert digest.synthesizer != MODEL
        fallback = metadata(digest)["Fallback"]
        assert "kept failing: HTTP 500" in fallback and "3 attempts" in fallback
        stored = corpus.get_digest(digest_id)
        assert stored is not None and Digest.from_json(stored.body) == digest

    def test_a_stalled_server_times_out_and_is_retried(self, fake: FakeOpenAI) -> None:
        sleeps = Sleeps()
        fake.always(Reply.stall(5))
        engine = LLMEngine(
            client_for(fake, sleeps, timeout_seconds=0.3), EngineSettings(model=MODEL)
        )

        with pytest.raises(SynthesisFailed, match=r"no answer within the 0\.3 s timeout"):
            engine.synthesize(week_request())
        assert len(fake.requests) == 3 and len(sleeps) == 2

    def test_a_server_that_is_down_fails_the_engine(self) -> None:
        with FakeOpenAI(api_key=None) as gone:
            url = gone.base_url
        client = OpenAIClient(OpenAISettings(base_url=url, max_retries=1), sleep=Sleeps())

        with pytest.raises(SynthesisFailed, match="could not be reached"):
            LLMEngine(client, EngineSettings(model=MODEL)).synthesize(week_request())

    def test_a_rejected_key_is_not_retried(self, fake: FakeOpenAI) -> None:
        engine = LLMEngine(client_for(fake, api_key="sk-wrong"), EngineSettings(model=MODEL))
        with pytest.raises(SynthesisFailed, match="refused the API key") as failed:
            engine.synthesize(week_request())
        assert len(fake.requests) == 1 and "sk-wrong" not in str(failed.value)


# -- wiring: config to engine ---------------------------------------------------------------------


def config_for(base_url: str, **digest: Any) -> Any:
    raw = {"digest": {"engine": "openai", **digest}, "openai": {"base_url": base_url}}
    return parse_config(raw, env={"OPENAI_API_KEY": KEY})


class TestWiring:
    def test_a_local_server_without_an_api_key(self, corpus: Corpus) -> None:
        """Ollama-like: no key configured, none checked; the digest is the model's."""
        with FakeOpenAI(api_key=None) as fake:
            config = parse_config(
                {
                    "digest": {"engine": "openai"},
                    "openai": {"base_url": fake.base_url, "model": "llama3.3"},
                },
                env={},
            )
            engine = choose_synthesizer(config)
            assert isinstance(engine, LLMEngine)
            digest = engine.synthesize(week_request())

        assert digest.synthesizer == "llama3.3"
        assert fake.requests[0].body["model"] == "llama3.3"
        assert set(digest.all_citations()) <= IDS_A

    def test_openai_without_a_key_or_a_base_url_is_a_config_error(self) -> None:
        config = parse_config({"digest": {"engine": "openai"}}, env={})
        with pytest.raises(ConfigError, match=r"\$OPENAI_API_KEY is not set"):
            choose_synthesizer(config)

    def test_a_key_from_the_environment_reaches_the_server(self) -> None:
        with FakeOpenAI(api_key="sk-from-env") as fake:
            config = parse_config(
                {"digest": {"engine": "openai"}, "openai": {"base_url": fake.base_url}},
                env={"OPENAI_API_KEY": "sk-from-env"},
            )
            choose_synthesizer(config).synthesize(week_request())
        assert [r.status for r in fake.requests] == [200]

    def test_language_de_reaches_the_digest_prompt(self, fake: FakeOpenAI) -> None:
        config = config_for(fake.base_url, language="de")

        choose_synthesizer(config).synthesize(week_request())

        system = fake.requests[0].system_texts[0]
        assert "Write every text, heading and the gist in German." in system
        assert "Keep arXiv ids, [[arXiv id]] markers" in system

    def test_language_de_reaches_the_answer_prompt_and_ask_uses_the_engine(
        self, fake: FakeOpenAI, corpus: Corpus
    ) -> None:
        config = config_for(fake.base_url, language="de")
        corpus.upsert_papers([LANTERN, KESTREL, HERON])
        writer = answer_writer(config)
        assert writer is not None

        answer = QuestionAnswerer(corpus, writer=writer).answer("what is Kestrel?")

        assert answer.engine == config.openai.model
        system = fake.requests[-1].system_texts[0]
        assert "in German" in system
        assert set(answer_json(answer)["papers"]) <= {LANTERN.id, KESTREL.id, HERON.id}

    def test_ids_in_any_form_never_reach_an_answer(
        self, fake: FakeOpenAI, corpus: Corpus
    ) -> None:
        corpus.upsert_papers([LANTERN, KESTREL, HERON])
        fake.queue(
            Reply.answer(
                {
                    "answer": f"[{HERON.id}] detects reward hacking with probes. It beats "
                    f"[{OUTSIDE}] and arXiv:{OUTSIDE_2} by far.\n\n"
                    f"- See also https://arxiv.org/abs/{OUTSIDE}v2 for details.",
                    "papers": [HERON.id, f"arXiv:{OUTSIDE}"],
                }
            )
        )
        writer = answer_writer(config_for(fake.base_url))
        assert writer is not None

        qa = QuestionAnswerer(corpus, writer=writer)
        answer = qa.answer("which papers are about reward hacking?")

        data = answer_json(answer)
        assert answer.engine == "gpt-5-mini"
        assert OUTSIDE not in json.dumps(data) and OUTSIDE_2 not in json.dumps(data)
        assert data["papers"] == [HERON.id]
        assert "detects reward hacking with probes" in data["answer"]

    def test_the_production_answerer_gets_the_full_text_passages(
        self, fake: FakeOpenAI, corpus: Corpus
    ) -> None:
        """Issue 13 item 4: built the production way (`answer_writer(config, fulltext)`),
        a question about one paper sends passages of its full text."""
        corpus.upsert_papers([LANTERN])
        with StaticServer() as server:
            server.routes["/html/2606.09001"] = Route(HTML)
            fetcher = FullTextFetcher(corpus, server.settings())
            writer = answer_writer(config_for(fake.base_url), fetcher)
            QuestionAnswerer(corpus, fulltext=fetcher, writer=writer).answer(
                "which benchmark does Lanternfish evaluate on?"
            )
        system = fake.requests[-1].system_texts[0]
        assert "2606.09001 | 3 Experiments | We evaluate on the OrchardMath benchmark" in system

    def test_the_offline_engine_says_it_writes_english_only(self, corpus: Corpus) -> None:
        config = parse_config({"digest": {"engine": "offline", "language": "de"}}, env={})
        corpus.store_papers(PAPERS_A, "post-train", [p.id for p in PAPERS_A])
        service = digest_service(config, corpus)

        digest = service.build("post-train", WINDOW_A, fetch=False)

        assert "writes English only" in metadata(digest)["Language"]


# -- request bounds -------------------------------------------------------------------------------


class TestBounds:
    def test_an_87_paper_week_takes_at_most_3_requests(self, fake: FakeOpenAI) -> None:
        window, papers = read_shared_week(
            "feeds/post-train_2026-05-28_to_06-03.atom.xml",
            Window(date(2026, 5, 28), date(2026, 6, 3)),
        )
        fake.queue(Reply.text("not json"))  # even with one repair

        digest = engine_for(fake).synthesize(week_request(papers, window))

        assert len(fake.requests) <= 3
        assert set(digest.all_citations()) <= {p.id for p in papers}

    def test_a_week_over_the_budget_is_mapped_then_reduced_within_the_bound(
        self, fake: FakeOpenAI
    ) -> None:
        papers = generated_week()
        engine = engine_for(fake, max_input_tokens=5_000)
        plan = engine.plan(week_request(papers))

        digest = engine.synthesize(week_request(papers))

        *maps, reduce = fake.requests
        assert plan.mode == "map-reduce" and len(maps) == len(plan.chunks) >= 2
        assert len(fake.requests) == plan.requests <= plan.request_bound
        assert {m.body["model"] for m in maps} == {"gpt-map"}
        assert reduce.body["model"] == MODEL
        assert set(digest.all_citations()) <= {p.id for p in papers}
