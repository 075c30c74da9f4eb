"""Token estimates and the plan of a digest's requests: one synthesis call when the window
fits the input budget, map-reduce over the offline engine's clusters when it does not.

Requests of a map-reduce plan, happy path: M + 1, where M is the number of map requests,

    M = sum over clusters c of ceil(T_c / C)  <=  K + ceil(T / C)

with T_c the estimated tokens of cluster c's paper records (T their sum), K the number of
clusters (at most 7, `digest.offline.analysis.theme_range`) and C the room for papers in a
map request: the map prompt limit (the input budget, and at most 100k tokens, where the map
model's listed price holds) less the fixed part of a map prompt and one record (so that
even runs of whole records always fit). Each request may need one repair, and one more
request may refill sections left empty, so at worst 2(M + 1) + 1. A single-call plan is 1
request, at worst 3. Transport retries (429/5xx/timeouts) are repeats of these, at most
`max_retries` each.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from digest.errors import BudgetExceeded

# Claude's tokenizer gives about 3.9 characters a token on English abstracts; 3.5 errs on
# the side of more tokens, so a plan that fits by estimate fits in fact.
CHARS_PER_TOKEN = 3.5
MAP_PROMPT_TOKENS = 100_000  # the map model's listed price is for prompts up to 100k tokens
MAP_OUTPUT_TOKENS = 3_000  # notes of one map request, at most
MIN_MAP_OUTPUT_TOKENS = 500  # below this the notes say too little: the window is too large
# The estimate is trusted outside this band around the budget; inside it, the engine asks
# the API to count (free, one round trip).
UNCERTAIN_BAND = (0.8, 1.2)
# A repair request repeats the task with the reason in front: room for it in every plan.
REPAIR_MARGIN = 300


JSON_CHARS_PER_TOKEN = 2.5  # JSON (the output schema) is dense in punctuation


def estimate_tokens(text: str, chars_per_token: float = CHARS_PER_TOKEN) -> int:
    """Tokens of `text` by character count, rounded up (a deliberate over-estimate)."""
    return math.ceil(len(text) / chars_per_token)


def estimate_json_tokens(text: str) -> int:
    """Tokens of JSON text (the output schema), by the denser JSON rate."""
    return estimate_tokens(text, JSON_CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class Plan:
    """How one digest is requested: `single` (one call) or `map-reduce`."""

    mode: str
    prompt_tokens: int  # estimated (or counted) tokens of the single-call prompt
    budget: int  # input tokens a request may use
    chunks: tuple[tuple[int, ...], ...] = ()  # paper indexes of each map request
    chunk_clusters: tuple[int, ...] = ()  # the cluster each map request belongs to
    map_output_tokens: int = 0
    counted: bool = False  # prompt_tokens came from the API's count, not the estimate
    paper_tokens: int = 0  # T: estimated tokens of all paper records
    map_capacity: int = 0  # C: record tokens a map request holds, less one record

    @property
    def single(self) -> bool:
        return self.mode == "single"

    @property
    def requests(self) -> int:
        """Requests on the happy path (no repairs, no retries)."""
        return 1 if self.single else len(self.chunks) + 1

    @property
    def request_bound(self) -> int:
        """K + ceil(T / C) + 1: the happy-path requests the formula allows (map-reduce)."""
        if self.single:
            return 1
        clusters = len(set(self.chunk_clusters))
        return clusters + math.ceil(self.paper_tokens / self.map_capacity) + 1

    @property
    def max_requests(self) -> int:
        """Requests at worst: one repair per request, and one to refill empty sections."""
        return 2 * self.requests + 1


def chunk(members: Sequence[int], tokens: Sequence[int], capacity: int) -> list[tuple[int, ...]]:
    """Split a cluster's papers (in order) into the fewest even runs that surely fit.

    With r the largest record, ceil(total / (capacity - r)) runs of about equal tokens: a
    paper goes to the run its starting offset falls in, so a run holds at most its share
    plus one record, which `capacity - r` leaves room for.
    """
    largest = max((tokens[i] for i in members), default=0)
    total = sum(tokens[i] for i in members)
    parts = max(1, math.ceil(total / max(1, capacity - largest)))
    share = total / parts
    runs: list[list[int]] = [[] for _ in range(parts)]
    offset = 0
    for index in members:
        runs[min(parts - 1, int(offset // share))].append(index)
        offset += tokens[index]
    return [tuple(run) for run in runs if run]


def plan_digest(
    *,
    prompt_tokens: int,
    budget: int,
    record_tokens: Sequence[int],
    clusters: Callable[[], list[tuple[int, ...]]],
    map_fixed_tokens: int,
    reduce_fixed_tokens: int,
    counted: bool = False,
) -> Plan:
    """One call if the single-call prompt fits `budget`; else map requests over clusters
    (computed only then: clustering a large week takes seconds) and one reduce request.

    `map_fixed_tokens` is a map prompt without its papers; `reduce_fixed_tokens` the reduce
    prompt without the notes. The notes' size is what makes the reduce fit: each map
    request may write at most (budget - reduce_fixed) / M tokens of them.
    """
    if prompt_tokens + REPAIR_MARGIN <= budget:
        return Plan("single", prompt_tokens, budget, counted=counted)
    capacity = min(budget, MAP_PROMPT_TOKENS) - map_fixed_tokens - REPAIR_MARGIN
    if capacity < 2 * max(record_tokens, default=0):
        raise BudgetExceeded(f"the input budget of {budget:,} tokens is too small for map requests")
    chunks: list[tuple[int, ...]] = []
    owners: list[int] = []
    for number, members in enumerate(clusters()):
        for run in chunk(members, record_tokens, capacity):
            chunks.append(run)
            owners.append(number)
    room = budget - reduce_fixed_tokens - REPAIR_MARGIN
    # The notes come back as prompt text of the reduce; their tokens there match their
    # output tokens, give or take formatting, for which a tenth is kept free.
    map_output = min(MAP_OUTPUT_TOKENS, int(0.9 * room / len(chunks)))
    if map_output < MIN_MAP_OUTPUT_TOKENS:
        raise BudgetExceeded(
            f"the window needs {len(chunks)} map requests, too many notes for one reduce "
            f"request within {budget:,} tokens"
        )
    return Plan(
        "map-reduce",
        prompt_tokens,
        budget,
        tuple(chunks),
        tuple(owners),
        map_output,
        counted,
        paper_tokens=sum(record_tokens),
        map_capacity=capacity - max(record_tokens),
    )
