"""Benchmark of the Claude engine's cost: requests, prompt characters, cache use and what
the token counts would cost at list prices, against a counting loopback stand-in of the
Messages API (tests.fakes.anthropic_server; no network, no key).

Weeks: the real 87-paper post-train week, the first 300 and the first 2,000 papers of the
2,489-paper listings week. Each week runs on the happy path, and the <= 300-paper weeks also
on the worst path a single call allows: invalid JSON (one repair), then an answer whose
"challenges" cite only invented papers (one refill), so three requests.

Cache-weighted characters count every prompt character as billed: a prefix read from the
cache at 0.1, a prefix written to it at 1.25, the rest at 1. Targets for <= 300 papers:
<= 3 requests, weighted characters <= 1.5x the window's abstract characters, and every
request after the first reading the shared prefix from the cache. For 2,000 papers: requests
within K + ceil(T / C) + 1 (digest/llm/budget.py) and no request over the input budget.
Output tokens are the stand-in's (its answers are shorter than Claude's), so the worst case
with every answer at its max_tokens is printed too.

    .venv/bin/python bench/bench_claude.py
"""

from __future__ import annotations

import logging
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
from digest.claude.client import LLMClient, LLMSettings
from digest.feed import read_feed_file
from digest.llm.budget import MAP_PROMPT_TOKENS, Plan
from digest.llm.cost import cost_usd, price_of
from digest.llm.engine import EngineSettings, LLMEngine
from digest.llm.usage import Usage
from digest.model import cite
from digest.synthesis import SynthesisRequest
from digest.topics import POST_TRAIN, Topic
from digest.windows import Window
from storage import Paper
from tests.fakes.anthropic_server import INVENTED_ID, FakeAnthropic, Reply, Seen, plausible_answer

WEEK_87 = ("feeds", "post-train_2026-05-28_to_06-03.atom.xml")
LISTINGS = ("feeds", "listings_2026-05-14_to_05-21_all.atom.xml")
LISTINGS_TOPIC = Topic("listings", "arXiv listings", ("cs.AI",), ())
GENERATED_AT = datetime(2026, 6, 4, 7, 0, tzinfo=UTC)
MAX_REQUESTS_SMALL = 3
MAX_WEIGHTED_RATIO = 1.5


@dataclass
class Outcome:
    """What one digest cost, as the stand-in counted it."""

    label: str
    papers: int
    abstract_chars: int
    seen: list[Seen]
    plan: Plan
    seconds: float
    synthesizer: str
    settings: EngineSettings

    @property
    def requests(self) -> int:
        return len(self.seen)

    @property
    def prompt_chars(self) -> int:
        return sum(s.prompt_chars for s in self.seen)

    @property
    def weighted_chars(self) -> float:
        return sum(s.weighted_chars for s in self.seen)

    @property
    def ratio(self) -> float:
        return self.weighted_chars / self.abstract_chars

    @property
    def later_requests_read_cache(self) -> bool:
        return all(s.cache_read_tokens > 0 for s in self.seen[1:])

    def usage_by_model(self) -> dict[str, Usage]:
        out: dict[str, Usage] = {}
        for s in self.seen:
            model = s.body["model"]
            out[model] = out.get(model, Usage()) + Usage(
                1, s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_write_tokens
            )
        return out

    def cost(self) -> float:
        return sum(cost_usd(m, u) or 0.0 for m, u in self.usage_by_model().items())

    def worst_cost(self) -> float:
        """The same prompts with every answer as long as its max_tokens allows."""
        total = 0.0
        for s in self.seen:
            usage = Usage(
                1, s.input_tokens, s.body["max_tokens"], s.cache_read_tokens, s.cache_write_tokens
            )
            total += cost_usd(s.body["model"], usage) or 0.0
        return total


def request_for(papers: list[Paper], topic: Topic) -> SynthesisRequest:
    days = [p.submitted for p in papers]
    return SynthesisRequest(topic, Window(min(days), max(days)), tuple(papers), GENERATED_AT)


def worst_path(fake: FakeAnthropic) -> None:
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
    script: Callable[[FakeAnthropic], None] | None = None,
) -> Outcome:
    settings = EngineSettings()
    with FakeAnthropic() as fake:  # the real minimum: a prefix under 1,024 tokens is not cached
        if script:
            script(fake)
        client = LLMClient(LLMSettings(api_key="bench", base_url=fake.base_url, max_retries=0))
        engine = LLMEngine(client, settings)
        request = request_for(papers, topic)
        plan = engine.plan(request)
        start = time.perf_counter()
        digest = engine.synthesize(request)
        seconds = time.perf_counter() - start
        client.close()
        return Outcome(
            label,
            len(papers),
            sum(len(p.abstract) for p in papers),
            fake.messages,
            plan,
            seconds,
            digest.synthesizer,
            settings,
        )


def money(value: float) -> str:
    return f"${value:.4f}"


def main() -> int:
    logging.disable(logging.WARNING)  # the worst path logs its repairs on purpose
    week_87 = list(read_feed_file(shared_arxiv(*WEEK_87)).results)
    listings = list(read_feed_file(shared_arxiv(*LISTINGS)).results)
    header(
        "Claude engine: requests, prompt characters, cache and cost (loopback stand-in)",
        [
            "weighted chars: cache reads x0.1, cache writes x1.25, the rest x1 (as billed)",
            "cost: the stand-in's token counts at the list prices of digest/llm/cost.py",
            "worst case: the same prompts with every answer at its max_tokens",
            f"input budget {EngineSettings().max_input_tokens:,} tokens a request",
        ],
    )
    outcomes = [
        measure("87 post-train", week_87, POST_TRAIN),
        measure("87, worst path", week_87, POST_TRAIN, worst_path),
        measure("300 listings", listings[:300], LISTINGS_TOPIC),
        measure("300, worst path", listings[:300], LISTINGS_TOPIC, worst_path),
        measure("2,000 listings", listings[:2000], LISTINGS_TOPIC),
    ]
    table = results_table(
        "Requests and prompt characters per digest",
        ["week", "plan", "requests", "abstracts", "prompt chars", "weighted", "ratio",
         "later reads cached", "ok"],
    )  # fmt: skip
    for o in outcomes:
        small = o.papers <= 300
        limit = MAX_REQUESTS_SMALL if small else o.plan.request_bound
        ok = verdict(o.requests, limit + 1, higher_is_better=False)
        if small:
            ok += " " + verdict(o.ratio, MAX_WEIGHTED_RATIO, higher_is_better=False)
        cached = "-"
        if small and o.requests > 1:
            cached = "yes" if o.later_requests_read_cache else "NO"
        elif not small:
            cached = "n/a (maps)"
        table.add_row(
            o.label,
            o.plan.mode,
            str(o.requests),
            f"{o.abstract_chars:,}",
            f"{o.prompt_chars:,}",
            f"{o.weighted_chars:,.0f}",
            f"{o.ratio:.2f}x",
            cached,
            ok,
        )
    console.print(table)

    tokens = results_table(
        "Tokens (as the stand-in counted them) and cost at list prices",
        ["week", "largest prompt", "input", "cache read", "cache write", "output", "cost",
         "worst case", "seconds"],
    )  # fmt: skip
    for o in outcomes:
        total = sum(o.usage_by_model().values(), Usage())
        tokens.add_row(
            o.label,
            f"{max(s.prompt_tokens for s in o.seen):,}",
            f"{total.input_tokens:,}",
            f"{total.cache_read_tokens:,}",
            f"{total.cache_write_tokens:,}",
            f"{total.output_tokens:,}",
            money(o.cost()),
            money(o.worst_cost()),
            f"{o.seconds:.1f}",
        )
    console.print(tokens)

    large = outcomes[-1]
    plan = large.plan
    clusters = len(set(plan.chunk_clusters))
    maps = [s for s in large.seen if s.body["model"] == large.settings.map_model]
    console.print(
        f"2,000 papers, requests bounded by K + ceil(T / C) + 1: K = {clusters} clusters, "
        f"T = {plan.paper_tokens:,} estimated record tokens, C = {plan.map_capacity:,} "
        f"(min(budget, {MAP_PROMPT_TOKENS:,}) less a map prompt's fixed part and one record); "
        f"bound {plan.request_bound}, happy path M + 1 = {plan.requests} "
        f"(M = {len(plan.chunks)} map requests), worst case 2(M + 1) + 1 = "
        f"{plan.max_requests}. Largest map prompt {max(s.prompt_tokens for s in maps):,} "
        f"tokens (map limit {min(plan.budget, MAP_PROMPT_TOKENS):,}); largest request "
        f"{max(s.prompt_tokens for s in large.seen):,} tokens (budget {plan.budget:,}); "
        f"notes capped at {plan.map_output_tokens:,} output tokens a map request."
    )
    for model in {s.body["model"] for o in outcomes for s in o.seen}:
        price = price_of(model)
        if price:
            console.print(f"· {model}: ${price.input:g} in / ${price.output:g} out per MTok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
