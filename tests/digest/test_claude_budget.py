"""The token budget's plan (one call or map-reduce), and costs at list prices."""

from __future__ import annotations

import math

import pytest

from digest.llm.budget import (
    MAP_PROMPT_TOKENS,
    REPAIR_MARGIN,
    BudgetExceeded,
    Plan,
    chunk,
    estimate_json_tokens,
    estimate_tokens,
    plan_digest,
)
from digest.llm.cost import PRICES, cost_usd, describe_cost, ledger_cost, price_of
from digest.llm.usage import Usage, UsageLedger


class TestEstimate:
    def test_estimates_round_up_and_json_counts_denser(self) -> None:
        assert estimate_tokens("") == 0
        assert estimate_tokens("abcd") == 2  # 4 / 3.5, rounded up
        assert estimate_json_tokens("x" * 10) == 4


class TestChunk:
    @pytest.mark.parametrize("sizes", [[10] * 50, [1, 30, 5, 29, 2, 28] * 9, [40] * 3])
    def test_runs_fit_and_are_as_few_as_the_formula_says(self, sizes: list[int]) -> None:
        """Every run fits the capacity; there are ceil(total / (capacity - largest))."""
        capacity = 100
        members = list(range(len(sizes)))

        runs = chunk(members, sizes, capacity)

        assert [i for run in runs for i in run] == members  # order kept, nothing lost
        assert all(sum(sizes[i] for i in run) <= capacity for run in runs)
        assert len(runs) <= math.ceil(sum(sizes) / (capacity - max(sizes)))

    def test_a_small_cluster_is_one_run(self) -> None:
        assert chunk([3, 1, 2], [5, 5, 5, 5], 100) == [(3, 1, 2)]


class TestPlan:
    def test_a_window_within_the_budget_is_one_call_without_clustering(self) -> None:
        """Clustering is computed only for map-reduce: a fitting week never pays for it."""

        def clusters() -> list[tuple[int, ...]]:
            raise AssertionError("clustered a window that fits")

        plan = plan_digest(
            prompt_tokens=90_000,
            budget=150_000,
            record_tokens=[300] * 300,
            clusters=clusters,
            map_fixed_tokens=2_000,
            reduce_fixed_tokens=4_000,
        )

        assert plan == Plan("single", 90_000, 150_000)
        assert (plan.requests, plan.max_requests) == (1, 3)

    def test_a_large_week_maps_each_cluster_within_the_map_limit(self) -> None:
        """2,000 papers: map requests per cluster, each under the map model's 100k tier, and
        the notes sized so the reduce fits the budget; requests within K + ceil(T/C) + 1."""
        records = [350] * 2_000
        clusters = [tuple(range(start, 2_000, 7)) for start in range(7)]

        plan = plan_digest(
            prompt_tokens=sum(records) + 3_000,
            budget=150_000,
            record_tokens=records,
            clusters=lambda: clusters,
            map_fixed_tokens=2_000,
            reduce_fixed_tokens=5_000,
        )

        assert plan.mode == "map-reduce"
        capacity = min(150_000, MAP_PROMPT_TOKENS) - 2_000 - REPAIR_MARGIN - 350
        assert all(
            2_000 + REPAIR_MARGIN + sum(records[i] for i in run) <= MAP_PROMPT_TOKENS
            for run in plan.chunks
        )
        assert len(plan.chunks) <= len(clusters) + math.ceil(sum(records) / capacity)
        assert (
            plan.requests
            <= plan.request_bound
            == len(clusters) + math.ceil(sum(records) / capacity) + 1
        )
        assert plan.requests == len(plan.chunks) + 1
        assert 5_000 + len(plan.chunks) * plan.map_output_tokens + REPAIR_MARGIN <= 150_000
        assert sorted(i for run in plan.chunks for i in run) == list(range(2_000))
        assert set(plan.chunk_clusters) == set(range(7))

    def test_a_window_too_large_for_one_reduce_is_refused(self) -> None:
        with pytest.raises(BudgetExceeded, match="too many notes for one reduce request"):
            plan_digest(
                prompt_tokens=10**9,
                budget=20_000,
                record_tokens=[400] * 20_000,
                clusters=lambda: [tuple(range(20_000))],
                map_fixed_tokens=1_000,
                reduce_fixed_tokens=5_000,
            )


class TestCost:
    def test_list_prices_with_cache_writes_and_reads(self) -> None:
        """Sonnet 5.5 at $2/$10 per MTok; writes 1.25x and reads 0.1x the input price."""
        usage = Usage(
            requests=2,
            input_tokens=1_000_000,
            output_tokens=100_000,
            cache_read_tokens=1_000_000,
            cache_write_tokens=1_000_000,
        )

        assert cost_usd("claude-sonnet-5-5", usage) == pytest.approx(2 + 2.5 + 0.2 + 1.0)

    def test_a_dated_snapshot_is_priced_as_its_family(self) -> None:
        assert price_of("claude-haiku-5-5-20260301") == PRICES["claude-haiku-5-5"]

    def test_an_unpriced_model_has_no_estimate(self) -> None:
        ledger = UsageLedger()
        ledger.add("claude-sonnet-5-5", Usage(1, 1_000, 100))
        ledger.add("some-other-model", Usage(1, 1_000, 100))

        assert cost_usd("some-other-model", Usage()) is None
        assert ledger_cost(ledger) is None
        assert describe_cost(ledger) == (
            "unknown price: no price for some-other-model is configured "
            "(2,000 prompt and 200 output tokens)"
        )

    def test_a_ledger_adds_its_models_costs(self) -> None:
        ledger = UsageLedger()
        ledger.add("claude-sonnet-5-5", Usage(1, 10_000, 2_000))
        ledger.add("claude-haiku-5-5", Usage(3, 300_000, 6_000))
        ledger.add("claude-haiku-5-5", Usage(1, 100_000, 2_000))

        expected = (10_000 * 2 + 2_000 * 10 + 400_000 * 0.10 + 8_000 * 0.50) / 1e6
        assert ledger_cost(ledger) == pytest.approx(expected)
        assert ledger.total.requests == 5
        assert describe_cost(ledger).startswith(f"${expected:.4f} at list prices")
