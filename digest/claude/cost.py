"""List prices per model, and what a run's token usage costs at them.

Prices are the approximate list prices in docs/LIBRARIES.md (USD per million tokens). Cache
writes (5-minute TTL) are billed at 1.25x the input price and cache reads at 0.1x. A model
without a listed price has no estimate: we say "unknown" rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest.llm import Usage, UsageLedger

CACHE_WRITE = 1.25  # x the input price, 5-minute TTL
CACHE_READ = 0.10  # x the input price
MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million input and output tokens."""

    input: float
    output: float


PRICES: dict[str, Price] = {
    "claude-sonnet-5-5": Price(2.00, 10.00),
    # Listed for prompts up to 100k tokens; the map step keeps its prompts below that.
    "claude-haiku-5-5": Price(0.10, 0.50),
    "claude-opus-5-5": Price(4.00, 20.00),
}
_DATED = re.compile(r"-\d{8}$")  # "claude-sonnet-5-5-20260301" is priced as its family


def price_of(model: str) -> Price | None:
    """The list price of a model (dated snapshots priced as their family), or None."""
    return PRICES.get(model) or PRICES.get(_DATED.sub("", model))


def cost_usd(model: str, usage: Usage) -> float | None:
    """What `usage` of `model` costs at list prices, or None when the price is unknown."""
    price = price_of(model)
    if price is None:
        return None
    prompt = (
        usage.input_tokens
        + usage.cache_write_tokens * CACHE_WRITE
        + usage.cache_read_tokens * CACHE_READ
    )
    return (prompt * price.input + usage.output_tokens * price.output) / MILLION


def ledger_cost(ledger: UsageLedger) -> float | None:
    """The cost of every model's usage in a ledger, or None if any model is unpriced."""
    total = 0.0
    for model, usage in ledger.by_model.items():
        cost = cost_usd(model, usage)
        if cost is None:
            return None
        total += cost
    return total


def describe_cost(ledger: UsageLedger) -> str:
    """The estimate as Run Metadata shows it, with the prices it rests on."""
    cost = ledger_cost(ledger)
    if cost is None:
        unknown = [m for m in ledger.by_model if price_of(m) is None]
        return f"unknown: no list price for {', '.join(unknown)}"
    prices = []
    for model in ledger.by_model:
        price = price_of(model)
        assert price is not None
        prices.append(f"{model} ${price.input:g}/${price.output:g} per MTok in/out")
    return (
        f"${cost:.4f} at list prices ({'; '.join(prices)}; cache writes 1.25x and reads "
        "0.1x the input price)"
    )
