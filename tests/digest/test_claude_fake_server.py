"""The loopback Messages API stand-in itself: wire format, cache accounting, faults, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from digest.claude.client import output_format
from digest.llm.schema import ClusterNotes, DigestDraft
from tests.fakes.anthropic_server import (
    INVENTED_ID,
    FakeAnthropic,
    Reply,
    Seen,
    count_tokens,
    plausible_answer,
)
from tests.support.paths import REPO

RECORDS = "\n".join(
    f"2606.1000{i} | Name {i} | A Title About Reward Models {i} | cs.CL | abstract {i}"
    for i in range(1, 6)
)


def body(text: str = "question", schema: type = DigestDraft, cached: str = RECORDS) -> dict:
    return {
        "model": "claude-sonnet-5-5",
        "max_tokens": 100,
        "system": [
            {"type": "text", "text": "rules"},
            {"type": "text", "text": cached, "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [{"role": "user", "content": text}],
        "output_config": {"format": output_format(schema)},
    }


def post(fake: FakeAnthropic, payload: dict, path: str = "/v1/messages") -> tuple[int, Any]:
    request = urllib.request.Request(
        fake.base_url + path,
        data=json.dumps(payload).encode(),
        headers={"x-api-key": "k", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(min_cache_tokens=0) as served:
        yield served


class TestCache:
    def test_a_prefix_is_written_then_read(self, fake: FakeAnthropic) -> None:
        _, first = post(fake, body("one"))
        _, second = post(fake, body("two, a longer question"))

        assert first["usage"]["cache_creation_input_tokens"] > 0
        assert first["usage"]["cache_read_input_tokens"] == 0
        assert (
            second["usage"]["cache_read_input_tokens"]
            == (first["usage"]["cache_creation_input_tokens"])
        )
        assert second["usage"]["cache_creation_input_tokens"] == 0
        assert second["usage"]["input_tokens"] > first["usage"]["input_tokens"]

    def test_another_schema_misses_the_cache(self, fake: FakeAnthropic) -> None:
        """The output schema is part of the cached prefix, as on the real API."""
        post(fake, body(schema=DigestDraft))

        _, other = post(fake, body(schema=ClusterNotes))

        assert other["usage"]["cache_read_input_tokens"] == 0

    def test_a_prefix_below_the_minimum_is_not_cached(self) -> None:
        with FakeAnthropic(min_cache_tokens=10_000) as fake:
            _, answer = post(fake, body())

        assert answer["usage"]["cache_creation_input_tokens"] == 0

    def test_weighted_characters_count_reads_at_a_tenth(self, fake: FakeAnthropic) -> None:
        post(fake, body())
        post(fake, body())
        write, read = fake.messages

        assert write.weighted_chars > write.prompt_chars  # writes cost 1.25x
        assert read.weighted_chars < 0.5 * read.prompt_chars


class TestAnswers:
    @pytest.mark.parametrize("schema", [DigestDraft, ClusterNotes])
    def test_the_default_answer_matches_the_requests_schema(self, schema: type) -> None:
        seen = Seen("/v1/messages", {}, body(schema=schema))

        answer = plausible_answer(seen)

        schema.model_validate(answer)
        assert "[[2606.10001]]" in json.dumps(answer)

    def test_an_inventing_answer_cites_an_invented_paper(self) -> None:
        answer = plausible_answer(Seen("/v1/messages", {}, body()), invent=True)

        assert f"[[{INVENTED_ID}]]" in json.dumps(answer)

    def test_errors_have_the_real_body_and_retry_after(self, fake: FakeAnthropic) -> None:
        fake.queue(Reply.overloaded(retry_after=7))

        status, answer = post(fake, body())

        assert status == 529
        assert answer == {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
        }

    def test_a_request_without_a_key_is_refused(self, fake: FakeAnthropic) -> None:
        request = urllib.request.Request(fake.base_url + "/v1/messages", data=b"{}")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)

        assert refused.value.code == 401

    def test_count_tokens(self, fake: FakeAnthropic) -> None:
        status, answer = post(fake, body(), "/v1/messages/count_tokens")

        assert status == 200 and answer["input_tokens"] > 10

    def test_the_token_count_is_close_to_claudes(self) -> None:
        """About 3.9 characters a token on English prose."""
        text = "We propose a preference optimization loss that down-weights noisy pairs. " * 20

        assert 3.5 < len(text) / count_tokens(text) < 4.5


def test_runs_as_a_module_and_prints_its_base_url() -> None:
    """`python -m tests.fakes.anthropic_server` serves until stopped."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.anthropic_server", "--quiet"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        fake = FakeAnthropic(port=int(url.rsplit(":", 1)[1]))  # only to reuse post()
        status, answer = post(fake, body())
        assert status == 200 and answer["stop_reason"] == "end_turn"
    finally:
        process.terminate()
        process.wait(timeout=10)
