"""Benchmark of the language-model engine over an OpenAI-compatible API: requests, prompt
tokens and the request plan against the loopback Chat Completions stand-in
(tests.fakes.openai_server; the real openai SDK, no network, no key).

Weeks: the real 87-paper post-train week, the first 300 and the first 2,000 papers of the
2,489-paper listings week, at the default input budget of [openai] (100,000 tokens), and
the 300-paper week again at 32,000 tokens (a local model's context). The same bounds as the
Claude engine: <= 3 requests for <= 300 papers on the happy path and on the worst path a
single call allows (invalid JSON -> one repair, then sections emptied by the check -> one
refill); for map-reduce, requests within K + ceil(T / C) + 1 (digest/llm/budget.py) and no
request over the input budget. A server without strict-schema support costs one request
more, once per client (the JSON-mode step is remembered).

    .venv/bin/python bench/bench_openai.py
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import console, header, results_table, shared_arxiv, verdict
from digest.feed import read_feed_file
from digest.llm.budget import Plan
from digest.llm.engine import EngineSettings, LLMEngine
from digest.model import cite
from digest.openai.client import OpenAIClient, OpenAISettings
from digest.synthesis import SynthesisRequest
from digest.topics import POST_TRAIN, Topic
from digest.windows import Window
from storage import Paper
from tests.fakes.anthropic_server import INVENTED_ID, Seen, plausible_answer
from tests.fakes.openai_server import FakeOpenAI, Reply

WEEK_87 = ("feeds", "post-train_2026-05-28_to_06-03.atom.xml")
LISTINGS = ("feeds", "listings_2026-05-14_to_05-21_all.atom.xml")
LISTINGS_TOPIC = Topic("listings", "arXiv listings", ("cs.AI",), ())
GENERATED_AT = datetime(2026, 6, 4, 7, 0, tzinfo=UTC)
MAX_REQUESTS_SMALL = 3
RUNS = 3  # seconds are the median of this many runs


@dataclass
class Outcome:
    label: str
    papers: int
    requests: int
    statuses: list[int]
    largest_prompt: int
    prompt_tokens: int
    plan: Plan
    seconds: float
    cited_ok: bool


def request_for(papers: list[Paper], topic: Topic) -> SynthesisRequest:
    days = [p.submitted for p in papers]
    return SynthesisRequest(topic, Window(min(days), max(days)), tuple(papers), GENERATED_AT)


def worst_path(fake: FakeOpenAI) -> None:
    """Invalid JSON, then a digest whose challenges cite only an invented paper (emptied by
    the check, so refilled), then the refill."""

    def empty_challenges(seen: Seen) -> dict[str, Any]:
        answer = plausible_answer(seen)
        answer["sections"]["challenges"] = [
            {"heading": "Invented", "text": f"{cite(INVENTED_ID)} fails.", "papers": []}
        ]
        return answer

    fake.queue(Reply.text('{"gist": "cut'), Reply.answer(empty_challenges), Reply.default())


def measure(
    label: str,
    papers: list[Paper],
    topic: Topic,
    *,
    budget: int = 100_000,
    script: Callable[[FakeOpenAI], None] | None = None,
    schema_support: bool = True,
) -> Outcome:
    times = []
    for _ in range(RUNS):
        with FakeOpenAI(api_key=None, schema_support=schema_support) as fake:
            if script:
                script(fake)
            client = OpenAIClient(OpenAISettings(base_url=fake.base_url, max_retries=0))
            engine = LLMEngine(
                client,
                EngineSettings(model="bench-model", map_model="bench-map", max_input_tokens=budget),
            )
            request = request_for(papers, topic)
            plan = engine.plan(request)
            start = time.perf_counter()
            digest = engine.synthesize(request)
            times.append(time.perf_counter() - start)
            client.close()
            seen = list(fake.requests)
    answered = [s for s in seen if s.status == 200]
    return Outcome(
        label,
        len(papers),
        len(seen),
        [s.status for s in seen],
        max(s.prompt_tokens for s in answered),
        sum(s.prompt_tokens for s in answered),
        plan,
        statistics.median(times),
        set(digest.all_citations()) <= {p.id for p in papers},
    )


def main() -> int:
    logging.disable(logging.WARNING)  # the worst path logs its repairs on purpose
    week_87 = list(read_feed_file(shared_arxiv(*WEEK_87)).results)
    listings = list(read_feed_file(shared_arxiv(*LISTINGS)).results)
    header(
        "OpenAI-compatible engine: requests and prompt tokens (loopback Chat Completions)",
        [
            "tokens as the stand-in counts them (about 3.9 characters a token on abstracts)",
            f"seconds: median of {RUNS} runs, engine side only (the stand-in answers at once)",
            "the machine is shared with other engineers' jobs: seconds are indicative",
        ],
    )
    outcomes = [
        measure("87 post-train", week_87, POST_TRAIN),
        measure("87, worst path", week_87, POST_TRAIN, script=worst_path),
        measure("87, no json_schema", week_87, POST_TRAIN, schema_support=False),
        measure("300 listings", listings[:300], LISTINGS_TOPIC),
        measure("300, worst path", listings[:300], LISTINGS_TOPIC, script=worst_path),
        measure("300 at 32k budget", listings[:300], LISTINGS_TOPIC, budget=32_000),
        measure("2,000 listings", listings[:2000], LISTINGS_TOPIC),
    ]
    table = results_table(
        "Requests per digest",
        ["week", "plan", "requests", "bound", "largest prompt", "budget", "all prompts",
         "cited in window", "seconds", "ok"],
    )  # fmt: skip
    for o in outcomes:
        single = o.plan.single
        bound = (MAX_REQUESTS_SMALL if single else o.plan.request_bound) + (
            1 if "no json_schema" in o.label else 0
        )
        if "worst" in o.label and not single:
            bound = o.plan.max_requests
        ok = verdict(o.requests, bound + 1, higher_is_better=False)
        ok += " " + verdict(o.largest_prompt, o.plan.budget + 1, higher_is_better=False)
        table.add_row(
            o.label,
            o.plan.mode,
            f"{o.requests} ({'/'.join(map(str, o.statuses))})"
            if 200 not in o.statuses or len(set(o.statuses)) > 1
            else str(o.requests),
            str(bound),
            f"{o.largest_prompt:,}",
            f"{o.plan.budget:,}",
            f"{o.prompt_tokens:,}",
            "yes" if o.cited_ok else "NO",
            f"{o.seconds:.2f}",
            ok,
        )
    console.print(table)
    large = outcomes[-1].plan
    console.print(
        f"2,000 papers: K = {len(set(large.chunk_clusters))} clusters, T = "
        f"{large.paper_tokens:,} record tokens, C = {large.map_capacity:,}; bound "
        f"K + ceil(T / C) + 1 = {large.request_bound}, happy path {large.requests}, worst "
        f"{large.max_requests}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
