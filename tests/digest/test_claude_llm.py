"""digest.claude.client: the shared client of the Messages API, against the loopback stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from digest.claude.client import LLMClient, LLMSettings
from digest.errors import LLMOutputInvalid, LLMRejected, LLMUnavailable
from digest.llm.usage import Usage
from tests.fakes.anthropic_server import FakeAnthropic, Reply
from tests.support.claude import API_KEY, Sleeps

SYSTEM = [
    {"type": "text", "text": "You answer questions about papers."},
    {"type": "text", "text": "PAPERS " * 50, "cache_control": {"type": "ephemeral"}},
]


class Answer(BaseModel):
    """A tiny structured answer."""

    answer: str
    papers: list[str]


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(min_cache_tokens=0) as served:
        yield served


def client_for(fake: FakeAnthropic, sleeps: Sleeps | None = None, **settings) -> LLMClient:
    options = {"timeout_seconds": 5.0, "max_retries": 2, **settings}
    return LLMClient(
        LLMSettings(api_key=API_KEY, base_url=fake.base_url, **options),
        sleep=sleeps if sleeps is not None else Sleeps(),
    )


def ask(client: LLMClient, text: str = "Which papers use GRPO?") -> tuple[Answer, Usage]:
    return client.structured(
        SYSTEM, [{"role": "user", "content": text}], Answer, "claude-haiku-5-5", 500
    )


class TestStructured:
    def test_an_answer_is_parsed_with_its_usage(self, fake: FakeAnthropic) -> None:
        """The parsed model and the usage the API reported, cache tokens included."""
        fake.queue(Reply.answer({"answer": "Two do.", "papers": ["2605.00001"]}))

        parsed, usage = ask(client_for(fake))

        assert parsed == Answer(answer="Two do.", papers=["2605.00001"])
        seen = fake.messages[0]
        assert usage == Usage(
            requests=1,
            input_tokens=seen.input_tokens,
            output_tokens=seen.output_tokens,
            cache_write_tokens=seen.cache_write_tokens,
        )
        assert seen.body["output_config"]["format"]["schema"]["required"] == ["answer", "papers"]

    def test_the_second_request_reads_the_cached_prefix(self, fake: FakeAnthropic) -> None:
        client = client_for(fake)
        ask(client)

        _, usage = ask(client, "Another question?")

        assert usage.cache_read_tokens == fake.messages[0].cache_write_tokens > 0
        assert usage.cache_write_tokens == 0

    @pytest.mark.parametrize(
        ("reply", "kind"),
        [
            (Reply.text("not json"), "invalid_json"),
            (Reply.truncated({"answer": "long " * 40, "papers": []}), "truncated"),
            (Reply.answer({"answer": 3}), "schema"),
            (Reply.text("   "), "empty"),
        ],
    )
    def test_unusable_answers_raise_with_their_kind_and_cost(
        self, fake: FakeAnthropic, reply: Reply, kind: str
    ) -> None:
        fake.queue(reply)

        with pytest.raises(LLMOutputInvalid) as raised:
            ask(client_for(fake))

        assert raised.value.kind == kind
        assert raised.value.usage.requests == 1
        assert raised.value.usage.output_tokens > 0 or kind == "empty"


class TestRetries:
    def test_retry_after_is_honoured_up_to_the_cap(self, fake: FakeAnthropic) -> None:
        """The server's Retry-After decides the wait, but never beyond max_backoff."""
        sleeps = Sleeps()
        fake.queue(Reply.error(429, retry_after=2), Reply.error(429, retry_after=600))

        _, usage = ask(client_for(fake, sleeps, max_backoff_seconds=30))

        assert sleeps == [2.0, 30.0]
        assert (usage.requests, usage.retries) == (3, 2)

    def test_backoff_doubles_without_a_hint(self, fake: FakeAnthropic) -> None:
        sleeps = Sleeps()
        fake.always(Reply.error(503))

        with pytest.raises(LLMUnavailable, match="HTTP 503 unavailable after 4 attempts") as err:
            ask(client_for(fake, sleeps, max_retries=3, backoff_seconds=1.0))

        assert len(sleeps) == 3
        assert all(0.8 * 2**n <= s <= 2**n for n, s in enumerate(sleeps))
        assert err.value.usage.requests == 4

    def test_zero_retries_means_one_attempt(self, fake: FakeAnthropic) -> None:
        fake.always(Reply.overloaded())

        with pytest.raises(LLMUnavailable, match="on the only attempt"):
            ask(client_for(fake, max_retries=0))

        assert len(fake.messages) == 1

    def test_a_bad_request_is_rejected_with_the_apis_reason(self, fake: FakeAnthropic) -> None:
        fake.always(Reply.error(400))

        with pytest.raises(LLMRejected, match="rejected the request: HTTP 400: Bad request"):
            ask(client_for(fake))

        assert len(fake.messages) == 1


class TestClient:
    def test_no_key_is_refused_up_front(self) -> None:
        with pytest.raises(LLMRejected, match="no Anthropic API key"):
            LLMClient(LLMSettings(api_key=""))

    def test_the_key_is_not_in_the_settings_repr(self) -> None:
        assert API_KEY not in repr(LLMSettings(api_key=API_KEY))

    def test_count_tokens_asks_the_api(self, fake: FakeAnthropic) -> None:
        count = client_for(fake).count_tokens(
            SYSTEM, [{"role": "user", "content": "hi"}], Answer, "claude-haiku-5-5"
        )

        assert count > 50
        assert [s.path for s in fake.requests] == ["/v1/messages/count_tokens"]
