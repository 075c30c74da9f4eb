"""Prices per model, and what a run's token usage costs at them.

The built-in table holds Claude's approximate list prices (docs/LIBRARIES.md, USD per
million tokens): cache writes (5-minute TTL) at 1.25x the input price, cache reads at 0.1x.
Any other model is priced only from the config (`[openai.prices]`), where a cached prompt
token costs what the table says (the input price unless given). A model without a price has
no estimate: Run Metadata says "unknown price" and gives the token counts, rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from digest.llm.usage import Usage, UsageLedger

CACHE_WRITE = 1.25  # x the input price, 5-minute TTL
CACHE_READ = 0.10  # x the input price
MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million input and output tokens; cache reads and writes as factors of the
    input price."""

    input: float
    output: float
    cache_read: float = CACHE_READ
    cache_write: float = CACHE_WRITE


PRICES: dict[str, Price] = {
    "claude-sonnet-5-5": Price(2.00, 10.00),
    # Listed for prompts up to 100k tokens; the map step keeps its prompts below that.
    "claude-haiku-5-5": Price(0.10, 0.50),
    "claude-opus-5-5": Price(4.00, 20.00),
}
Prices = Mapping[str, Price]
_DATED = re.compile(r"-\d{8}$")  # "claude-sonnet-5-5-20260301" is priced as its family


def price_of(model: str, prices: Prices = PRICES) -> Price | None:
    """The price of a model (dated snapshots priced as their family), or None."""
    return prices.get(model) or prices.get(_DATED.sub("", model))


def cost_usd(model: str, usage: Usage, prices: Prices = PRICES) -> float | None:
    """What `usage` of `model` costs, or None when its price is unknown."""
    price = price_of(model, prices)
    if price is None:
        return None
    prompt = (
        usage.input_tokens
        + usage.cache_write_tokens * price.cache_write
        + usage.cache_read_tokens * price.cache_read
    )
    return (prompt * price.input + usage.output_tokens * price.output) / MILLION


def ledger_cost(ledger: UsageLedger, prices: Prices = PRICES) -> float | None:
    """The cost of every model's usage in a ledger, or None if any model is unpriced."""
    total = 0.0
    for model, usage in ledger.by_model.items():
        cost = cost_usd(model, usage, prices)
        if cost is None:
            return None
        total += cost
    return total


def describe_cost(ledger: UsageLedger, prices: Prices = PRICES) -> str:
    """The estimate as Run Metadata shows it, with the prices it rests on."""
    cost = ledger_cost(ledger, prices)
    if cost is None:
        unknown = [m for m in ledger.by_model if price_of(m, prices) is None]
        total = ledger.total
        return (
            f"unknown price: no price for {', '.join(unknown)} is configured "
            f"({total.prompt_tokens:,} prompt and {total.output_tokens:,} output tokens)"
        )
    shown = []
    for model in ledger.by_model:
        price = price_of(model, prices)
        assert price is not None
        shown.append(f"{model} ${price.input:g}/${price.output:g} per MTok in/out")
    return (
        f"${cost:.4f} at list prices ({'; '.join(shown)}; cache writes "
        f"{_factor(ledger, prices, 'cache_write')} and reads "
        f"{_factor(ledger, prices, 'cache_read')} the input price)"
    )


def _factor(ledger: UsageLedger, prices: Prices, kind: str) -> str:
    factors = {getattr(price_of(m, prices), kind) for m in ledger.by_model}
    return "/".join(f"{f:g}x" for f in sorted(factors))
