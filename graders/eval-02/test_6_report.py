"""eval-02, task 6: the report — latency percentiles, the summary of a run, a trace waterfall.
Inputs are seeded plain data made here; expected values are computed with numpy after the
learner's function returns."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np
import pytest
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)

from labkit.grading import assert_same, lab_test


@lab_test(points=1, number="6.1")
def test_latency_percentiles(learner: Any, lab_seed: int) -> None:
    """Latency percentiles p50, p90, p99."""
    report = learner.import_module("report")
    rng = random.Random(lab_seed)
    values = [rng.lognormvariate(3.5, 0.6) for _ in range(rng.randint(50, 120))]
    got = report.percentiles(values)
    p = np.percentile(values, [50, 90, 99])
    want = {"p50": float(p[0]), "p90": float(p[1]), "p99": float(p[2])}
    assert_same(got, want, f"percentiles of {len(values)} latencies", rel_tol=1e-9)
    with pytest.raises(ValueError):
        report.percentiles([])


def _records(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(rng.randint(15, 25)):
        route = rng.choice(["cache", "cheap", "cheap", "escalated", "strong"])
        models = support.ROUTE_MODELS[route]
        calls: list[dict[str, Any]] = [
            {"model": m, "cost_usd": rng.uniform(1e-5, 2e-3)} for m in models
        ]
        out.append(
            {
                "id": f"r{i}",
                "route": route,
                "calls": calls,
                "cost_usd": 0.0 + sum(c["cost_usd"] for c in calls),
                "saved_usd": rng.uniform(1e-5, 2e-3) if route == "cache" else 0.0,
                "latency_ms": rng.uniform(0.1, 1.0) if route == "cache" else rng.uniform(200, 2500),
            }
        )
    return out


@lab_test(points=2, number="6.2")
def test_run_summary(learner: Any, lab_seed: int) -> None:
    """The summary of a run."""
    report = learner.import_module("report")
    records = _records(lab_seed + 1)
    got = report.summarise(records)
    n = len(records)
    total = sum(r["cost_usd"] for r in records)
    lat = np.percentile([r["latency_ms"] for r in records], [50, 90, 99])
    want = {
        "requests": n,
        "total_cost_usd": total,
        "cost_per_1k": total / n * 1000,
        "cost_per_1k_by_route": support.expected_cost_per_1k(records, "route"),
        "cost_per_1k_by_model": support.expected_cost_per_1k(records, "model"),
        "cache_hit_rate": sum(r["route"] == "cache" for r in records) / n,
        "saved_usd": 0.0 + sum(r["saved_usd"] for r in records),
        "route_mix": dict(Counter(r["route"] for r in records)),
        "latency_ms": {"p50": float(lat[0]), "p90": float(lat[1]), "p99": float(lat[2])},
    }
    if isinstance(got, dict):
        got = {k: got.get(k) for k in want}
    assert_same(got, want, f"summarise({n} records)", rel_tol=1e-9)


def _span(
    rng: random.Random, trace: str, name: str, parent: str | None, start: int, dur: int
) -> dict[str, Any]:
    return {
        "name": name,
        "trace_id": trace,
        "span_id": f"{rng.getrandbits(64):016x}",
        "parent_span_id": parent,
        "start_ns": start,
        "end_ns": start + dur,
    }


@lab_test(points=2, number="6.3")
def test_waterfall_rows(learner: Any, lab_seed: int) -> None:
    """The waterfall of one trace, parents before children."""
    report = learner.import_module("report")
    rng = random.Random(lab_seed + 2)
    t0 = rng.randint(10**15, 10**16)
    mine, other = f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(128):032x}"
    root = _span(rng, mine, "invoke_workflow calculator", None, t0, 40_000_000)
    lookup = _span(rng, mine, "cache lookup", root["span_id"], t0 + 100_000, 50_000)
    chat1 = _span(
        rng, mine, "chat fleet-small", root["span_id"], t0 + 500_000, rng.randint(5, 9) * 1_000_000
    )
    http = _span(rng, mine, "POST /v1/chat/completions", chat1["span_id"], t0 + 600_000, 4_000_000)
    chat2 = _span(
        rng, mine, "chat fleet-large", root["span_id"], chat1["end_ns"] + 100_000, 20_000_000
    )
    noise = [_span(rng, other, f"other {i}", None, t0 + i, 1000) for i in range(3)]
    spans = [root, lookup, chat1, http, chat2, *noise]
    rng.shuffle(spans)
    got = report.waterfall_rows(spans, mine)
    order = [(root, 0), (lookup, 1), (chat1, 1), (http, 2), (chat2, 1)]
    want = [
        {
            "name": s["name"],
            "depth": d,
            "offset_ms": (s["start_ns"] - t0) / 1e6,
            "duration_ms": (s["end_ns"] - s["start_ns"]) / 1e6,
        }
        for s, d in order
    ]
    assert_same(
        got,
        want,
        "waterfall_rows of a 5-span trace (shuffled, with another trace mixed in)",
        rel_tol=1e-9,
    )
