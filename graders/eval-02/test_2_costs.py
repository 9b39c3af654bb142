"""eval-02, task 2: the price of a call (cached input at its discount) and cost per 1,000
requests by route and by model. Prices and records are made up per seed."""

from __future__ import annotations

import random
from typing import Any

import pytest
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)

from labkit.grading import assert_same, lab_test


def _table(seed: int) -> dict[str, dict[str, float]]:
    rng = random.Random(seed)
    table = {}
    for model in ("grader-cheap", "grader-strong"):
        inp = round(rng.uniform(0.05, 5.0), 3)
        table[model] = {
            "input": inp,
            "cached_input": round(inp * rng.uniform(0.1, 0.5), 4),
            "output": round(rng.uniform(0.2, 20.0), 3),
        }
    table["no-cache-price"] = {"input": 1.5, "output": 6.0}
    return table


@lab_test(points=2, number="2.1")
def test_cost_of_a_call(learner: Any, lab_seed: int) -> None:
    """cost_usd prices uncached, cached and output tokens."""
    costs = learner.import_module("costs")
    table = _table(lab_seed)
    rng = random.Random(lab_seed + 1)
    for model in table:
        inp = rng.randint(1000, 50_000)
        cached = rng.randint(0, inp)
        out = rng.randint(0, 4000)
        got = costs.cost_usd(model, costs.Usage(inp, out, cached), table)
        price = table[model]
        expected = (
            (inp - cached) * price["input"]
            + cached * price.get("cached_input", price["input"])
            + out * price["output"]
        ) / 1_000_000
        what = f"cost_usd({model!r}, Usage({inp}, {out}, cached={cached})) with {price}"
        assert_same(got, expected, what, rel_tol=1e-9, abs_tol=1e-15)
    with pytest.raises(KeyError):
        costs.cost_usd("no-such-model", costs.Usage(10, 10, 0), table)


def _records(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = []
    for i in range(rng.randint(12, 20)):
        route = rng.choice(["cache", "cheap", "escalated", "strong"])
        models = support.ROUTE_MODELS[route]
        calls: list[dict[str, Any]] = [
            {"model": m, "cost_usd": round(rng.uniform(1e-5, 3e-3), 7)} for m in models
        ]
        records.append(
            {
                "id": f"r{i}",
                "route": route,
                "calls": calls,
                "cost_usd": sum(c["cost_usd"] for c in calls),
            }
        )
    return records


@lab_test(points=2, number="2.2")
def test_cost_per_thousand_requests(learner: Any, lab_seed: int) -> None:
    """Cost per 1,000 requests by route and by model."""
    costs = learner.import_module("costs")
    records = _records(lab_seed + 2)
    by_route = costs.cost_per_1k(records, "route")
    by_model = costs.cost_per_1k(records, "model")
    want_route = support.expected_cost_per_1k(records, "route")
    want_model = support.expected_cost_per_1k(records, "model")
    assert_same(
        by_route,
        want_route,
        f"cost_per_1k(records, 'route') for {len(records)} records",
        rel_tol=1e-9,
    )
    assert_same(by_model, want_model, "cost_per_1k(records, 'model')", rel_tol=1e-9)
    with pytest.raises(ValueError):
        costs.cost_per_1k(records, "day")
