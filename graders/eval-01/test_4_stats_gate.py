"""eval-01 part 4: a paired bootstrap between two configurations (stats.py) and a regression gate
for CI (gate.py): its baseline, its verdicts, its report and its exit code."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)

from labkit.grading import assert_same, lab_test

TOLERANCE = 0.02  # two bootstrap runs with different random draws agree this closely (n=2000)


def reference_interval(a: list[float], b: list[float], seed: int) -> tuple[float, float, float]:
    """The grader's own paired percentile bootstrap (its own random stream, 20,000 resamples)."""
    diffs = np.asarray(b) - np.asarray(a)
    rng = np.random.default_rng(seed + 7919)
    means = diffs[rng.integers(0, len(diffs), size=(20000, len(diffs)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diffs.mean()), float(low), float(high)


@lab_test(points=3, number="4.1")
def test_paired_bootstrap_matches_a_reference(learner: Any, lab_seed: int) -> None:
    """The paired bootstrap interval matches a reference computation"""
    stats = learner.import_module("stats")
    a, b = support.seeded_scores(lab_seed, 60, 0.08)
    got = stats.paired_bootstrap(a, b, n_resamples=2000, seed=lab_seed)
    diff, low, high = reference_interval(a, b, lab_seed)
    assert_same(sorted(got), ["diff", "high", "low"], "paired_bootstrap(...) keys")
    assert_same(got["diff"], diff, "the mean difference b - a", abs_tol=1e-9)
    assert_same(got["low"], low, "the interval's low end", abs_tol=TOLERANCE)
    assert_same(got["high"], high, "the interval's high end", abs_tol=TOLERANCE)
    again = stats.paired_bootstrap(a, b, n_resamples=2000, seed=lab_seed)
    assert_same(again, got, "a second call with the same seed")
    # Unpaired resampling would be far wider: the pairing is what makes the interval tight.
    width = got["high"] - got["low"]
    assert width < 1.5 * (high - low), (
        f"interval width {width:.3f}, expected about {high - low:.3f}: resample pairs, not each list on its own"
    )


@lab_test(points=2, number="4.2")
def test_noise_band(learner: Any, lab_seed: int) -> None:
    """The noise band is half the bootstrap interval of the mean"""
    stats = learner.import_module("stats")
    values, _ = support.seeded_scores(lab_seed + 1, 50, 0.0)
    got = stats.noise_band(values, seed=lab_seed)
    rng = np.random.default_rng(lab_seed + 104729)
    data = np.asarray(values)
    means = data[rng.integers(0, len(data), size=(20000, len(data)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    assert_same(got, float((high - low) / 2), "noise_band(50 values)", abs_tol=TOLERANCE / 2)


def _baseline(seed: int) -> tuple[dict[str, Any], dict[str, list[float]]]:
    rng = random.Random(seed)
    scores = {
        "faithfulness": [round(min(1.0, max(0.0, rng.gauss(0.9, 0.1))), 3) for _ in range(40)],
        "context_recall": [round(min(1.0, max(0.0, rng.gauss(0.8, 0.15))), 3) for _ in range(40)],
    }
    baseline = {
        "metrics": {
            name: {"value": sum(v) / len(v), "band": 0.04 if name == "faithfulness" else 0.06}
            for name, v in sorted(scores.items())
        }
    }
    return baseline, scores


@lab_test(points=3, number="4.3")
def test_gate_check_and_baseline(learner: Any, lab_seed: int) -> None:
    """The gate's verdicts and the baseline it compares against"""
    gate = learner.import_module("gate")
    baseline, scores = _baseline(lab_seed)
    f = baseline["metrics"]["faithfulness"]["value"]
    r = baseline["metrics"]["context_recall"]["value"]
    rows = gate.check(baseline, {"faithfulness": f - 0.05, "context_recall": r + 0.01})
    statuses = [(row["metric"], row["status"]) for row in rows]
    assert_same(
        statuses,
        [("context_recall", "ok"), ("faithfulness", "regressed")],
        "check(): (metric, status) rows",
    )
    assert_same(rows[1]["delta"], -0.05, "the faithfulness row's delta", abs_tol=1e-9)
    rows = gate.check(baseline, {"faithfulness": f + 0.05})
    assert_same(
        [row["status"] for row in rows],
        ["regressed", "improved"],
        "check() with context_recall missing",
    )
    assert_same(rows[0]["current"], None, "a missing metric's current value")
    made = gate.make_baseline(scores, seed=lab_seed)
    assert_same(
        sorted(made["metrics"]),
        ["context_recall", "faithfulness"],
        "make_baseline(...)['metrics'] keys",
    )
    for name, values in scores.items():
        entry = made["metrics"][name]
        assert_same(
            entry["value"], sum(values) / len(values), f"baseline value of {name}", abs_tol=1e-9
        )
        data = np.asarray(values)
        rng = np.random.default_rng(lab_seed + 1)
        means = data[rng.integers(0, len(data), size=(20000, len(data)))].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        assert_same(
            entry["band"], float((high - low) / 2), f"noise band of {name}", abs_tol=TOLERANCE / 2
        )


@lab_test(points=3, number="4.4")
def test_gate_command_exit_codes(learner: Any, lab_seed: int, private_dir: Path) -> None:
    """The gate command passes on the baseline and fails on a seeded regression"""
    baseline, _ = _baseline(lab_seed)
    base_file = private_dir / "baseline.json"
    base_file.write_text(json.dumps(baseline), encoding="utf-8")
    same = {name: entry["value"] for name, entry in baseline["metrics"].items()}
    worse = dict(same, context_recall=same["context_recall"] - 0.1)
    outcomes = []
    for name, current in (("baseline", same), ("regression", worse)):
        path = private_dir / f"current-{name}.json"
        path.write_text(json.dumps(current), encoding="utf-8")
        outcomes.append(learner.run(["gate", "--baseline", str(base_file), "--current", str(path)]))
    ok, bad = outcomes
    assert ok.returncode == 0, (
        f"on the baseline itself the gate exited {ok.returncode}, expected 0: {ok.describe()}"
    )
    assert bad.returncode == 1, (
        f"with context_recall 0.1 below its baseline the gate exited {bad.returncode}, expected 1: {bad.describe()}"
    )
    for metric in ("faithfulness", "context_recall"):
        assert metric in ok.stdout, (
            f"the gate's report should name every metric; {metric} is missing"
        )
    assert "regressed" in bad.stdout.lower(), "the failing report should say which metric regressed"


@lab_test(points=2, number="4.5")
def test_report_table(learner: Any, lab_seed: int) -> None:
    """The report is a table a person reads"""
    gate = learner.import_module("gate")
    baseline, _ = _baseline(lab_seed)
    current = {
        "faithfulness": 0.5,
        "context_recall": baseline["metrics"]["context_recall"]["value"],
    }
    table = gate.report(gate.check(baseline, current))
    assert isinstance(table, str), f"report() returned {type(table).__name__}, expected str"
    lines = [line for line in table.strip().splitlines() if line.strip()]
    assert len(lines) == 4, (
        f"expected a header, a separator and 2 metric rows, got {len(lines)} lines:\n{table}"
    )
    assert all(line.strip().startswith("|") for line in lines), (
        f"every line should be a table row:\n{table}"
    )
    assert set(lines[1].replace("|", "").replace(" ", "")) <= set("-:"), (
        f"the second line should separate the header:\n{table}"
    )
    faithful = next((line for line in lines if "faithfulness" in line), "")
    assert "regress" in faithful.lower(), f"the faithfulness row should say it regressed:\n{table}"
