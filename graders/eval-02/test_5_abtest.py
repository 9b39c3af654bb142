"""eval-02, task 5: an A/B test of two prompts — sized in advance, one exact test, no peeking.

Outcomes are the fake fleet's seeded answers (labkit.fakellm.fleet.outcome) to questions of the
request set under the two prompts, and the expected p-values come from scipy, computed here."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)
from scipy import stats

from labkit.fakellm.fleet import outcome
from labkit.grading import assert_same, lab_test


def _reference_n(p_a: float, p_b: float, alpha: float, power: float) -> int:
    p = (p_a + p_b) / 2
    top = stats.norm.ppf(1 - alpha / 2) * math.sqrt(2 * p * (1 - p)) + stats.norm.ppf(
        power
    ) * math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))
    return math.ceil(top**2 / (p_a - p_b) ** 2)


@lab_test(points=2, number="5.1")
def test_sample_size(learner: Any, lab_seed: int) -> None:
    """The sample size per arm for a target effect."""
    abtest = learner.import_module("abtest")
    rng = random.Random(lab_seed)
    for _ in range(4):
        p_a = round(rng.uniform(0.3, 0.85), 2)
        p_b = round(min(0.98, p_a + rng.choice([0.03, 0.05, 0.1, 0.15])), 2)
        alpha, power = rng.choice([0.05, 0.01]), rng.choice([0.8, 0.9])
        got = abtest.sample_size(p_a, p_b, alpha, power)
        want = _reference_n(p_a, p_b, alpha, power)
        assert_same(got, want, f"sample_size({p_a}, {p_b}, alpha={alpha}, power={power})")
    with pytest.raises(ValueError):
        abtest.sample_size(0.5, 0.5)


def _reference(sa: int, na: int, sb: int, nb: int, alpha: float) -> dict[str, Any]:
    p = float(stats.fisher_exact([[sa, na - sa], [sb, nb - sb]]).pvalue)
    ra, rb = sa / na, sb / nb
    winner = ("A" if ra > rb else "B") if p < alpha else None
    return {"rate_a": ra, "rate_b": rb, "p_value": p, "winner": winner}


@lab_test(points=2, number="5.2")
def test_compare_two_arms(learner: Any, lab_seed: int) -> None:
    """compare: Fisher's exact test and the verdict."""
    abtest = learner.import_module("abtest")
    rng = random.Random(lab_seed + 1)
    cases = [
        (rng.randint(60, 200), rng.uniform(0.4, 0.8), rng.uniform(-0.2, 0.2)) for _ in range(4)
    ]
    for n, rate, lift in cases:
        sa = round(n * rate)
        sb = max(0, min(n, round(n * (rate + lift))))
        got = abtest.compare(sa, n, sb, n, 0.05)
        want = _reference(sa, n, sb, n, 0.05)
        if isinstance(got, dict):
            got = {k: got.get(k) for k in want}
        assert_same(got, want, f"compare({sa}, {n}, {sb}, {n})", rel_tol=1e-9)


def _fleet_outcomes(seed: int, system: str, questions: list[str]) -> list[bool]:
    results = [outcome(seed, "fleet-small", system, q) for q in questions]
    return [bool(r and r.correct) for r in results]


@lab_test(points=3, number="5.3")
def test_experiment_on_seeded_data(learner: Any, lab_seed: int) -> None:
    """The A/B verdict and p-value on the fleet's seeded answers match a reference."""
    abtest = learner.import_module("abtest")
    rng = random.Random(lab_seed + 2)
    n = rng.randint(70, 110)
    questions = [r["question"] for r in rng.sample(support.ORIGINALS, 2 * n + 40)]
    a = _fleet_outcomes(lab_seed, abtest.PROMPT_A, questions[0::2])
    b = _fleet_outcomes(lab_seed, abtest.PROMPT_B, questions[1::2])
    got = abtest.run_experiment(a, b, n)
    want = {**_reference(sum(a[:n]), n, sum(b[:n]), n, 0.05), "n_per_arm": n}
    if isinstance(got, dict):
        got = {k: got.get(k) for k in want}
    assert_same(got, want, f"run_experiment on the fleet's answers, n_per_arm={n}", rel_tol=1e-9)
    with pytest.raises(ValueError):
        abtest.run_experiment(a[: n - 1], b, n)


@lab_test(points=3, number="5.4")
def test_no_peeking(learner: Any, lab_seed: int) -> None:
    """A run that looks significant half-way but is not at the planned size: no winner."""
    abtest = learner.import_module("abtest")
    rng = random.Random(lab_seed + 3)
    early, late = 30, 70

    def arm(early_hits: int, late_hits: int) -> list[bool]:
        first = [True] * early_hits + [False] * (early - early_hits)
        second = [True] * late_hits + [False] * (late - late_hits)
        rng.shuffle(first)
        rng.shuffle(second)
        return first + second

    shift = rng.randint(0, 3)
    a = arm(10 + shift, 60 - shift)  # A looks far worse early, catches up
    b = arm(25, 45)
    n = early + late
    got = abtest.run_experiment(a, b, n)
    want = {**_reference(sum(a), n, sum(b), n, 0.05), "n_per_arm": n}
    peek = stats.fisher_exact(
        [[sum(a[:early]), early - sum(a[:early])], [sum(b[:early]), early - sum(b[:early])]]
    )
    # the trap is set
    assert want["winner"] is None
    assert peek.pvalue < 0.05
    if isinstance(got, dict):
        got = {k: got.get(k) for k in want}
    assert_same(
        got,
        want,
        f"run_experiment(n_per_arm={n}) where the first {early} per arm give p={peek.pvalue:.4f} "
        f"but all {n} give p={want['p_value']:.3f}",
        rel_tol=1e-9,
    )
