"""rag-03, task 3: reciprocal rank fusion, min-max normalisation, weighted fusion (fusion.py).

Hand-computed cases first (ties, documents in one list only), then cases drawn from ``lab_seed``
whose expected values are recomputed from the README's formulas (``support.rrf``,
``support.weighted``).
"""

from __future__ import annotations

import random
from typing import Any

import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)

from labkit.grading import assert_same, lab_test


def _random_rankings(rng: random.Random) -> list[list[str]]:
    pool = [f"doc{rng.randrange(10, 99)}{c}" for c in "abcdefghijkl"]
    return [rng.sample(pool, rng.randint(3, len(pool))) for _ in range(rng.randint(2, 3))]


@lab_test(points=3, number="3.1")
def test_rrf_hand_cases(learner: Any) -> None:
    """reciprocal_rank_fusion on hand-computed cases (ties, one-list documents)"""
    fusion = learner.import_module("fusion")
    got = fusion.reciprocal_rank_fusion([["a", "b", "c"], ["c", "d"]])
    expected = [("c", 1 / 63 + 1 / 61), ("a", 1 / 61), ("b", 1 / 62), ("d", 1 / 62)]
    assert_same(got, expected, "reciprocal_rank_fusion([[a, b, c], [c, d]])", abs_tol=1e-15)
    got = fusion.reciprocal_rank_fusion([["x"], ["w"]])
    assert_same(got, [("w", 1 / 61), ("x", 1 / 61)], "RRF of [[x], [w]] (a tie)", abs_tol=1e-15)
    got = fusion.reciprocal_rank_fusion([["p", "q"], ["q", "p"]], k=1)
    assert_same(got, [("p", 1 / 2 + 1 / 3), ("q", 1 / 3 + 1 / 2)], "RRF with k=1", abs_tol=1e-15)
    assert_same(fusion.reciprocal_rank_fusion([[], []]), [], "RRF of two empty lists")


@lab_test(points=2, number="3.2")
def test_rrf_seeded_cases(learner: Any, lab_seed: int) -> None:
    """reciprocal_rank_fusion on seeded lists with several k"""
    fusion = learner.import_module("fusion")
    rng = random.Random(lab_seed)
    for k in (60, 1, rng.randint(2, 200)):
        rankings = _random_rankings(rng)
        got = fusion.reciprocal_rank_fusion(rankings, k=k)
        assert_same(
            got,
            support.rrf(rankings, k),
            f"reciprocal_rank_fusion({rankings}, k={k})",
            abs_tol=1e-15,
        )
    rankings = _random_rankings(rng)
    assert_same(
        fusion.reciprocal_rank_fusion(rankings),
        support.rrf(rankings),
        "RRF with the default k",
        abs_tol=1e-15,
    )


@lab_test(points=2, number="3.3")
def test_min_max_normalise(learner: Any, lab_seed: int) -> None:
    """min_max_normalise, including the all-equal and empty cases"""
    fusion = learner.import_module("fusion")
    assert_same(
        fusion.min_max_normalise({"a": 2.0, "b": 4.0, "c": 3.0}),
        {"a": 0.0, "b": 1.0, "c": 0.5},
        "min_max_normalise({a: 2, b: 4, c: 3})",
    )
    assert_same(fusion.min_max_normalise({"x": 5.0}), {"x": 1.0}, "min_max_normalise({x: 5})")
    assert_same(
        fusion.min_max_normalise({"a": -1.5, "b": -1.5}),
        {"a": 1.0, "b": 1.0},
        "min_max_normalise of equal scores",
    )
    assert_same(fusion.min_max_normalise({}), {}, "min_max_normalise({})")
    rng = random.Random(lab_seed)
    scores = {f"d{i}": rng.uniform(-5, 20) for i in range(8)}
    low, high = min(scores.values()), max(scores.values())
    expected = {d: (s - low) / (high - low) for d, s in scores.items()}
    assert_same(
        fusion.min_max_normalise(scores), expected, f"min_max_normalise({scores})", abs_tol=1e-12
    )


@lab_test(points=3, number="3.4")
def test_weighted_fusion(learner: Any, lab_seed: int) -> None:
    """weighted_fusion: hand case, alpha 0 and 1, seeded cases"""
    fusion = learner.import_module("fusion")
    lexical = {"a": 10.0, "b": 5.0, "c": 0.0}
    dense = {"b": 0.9, "d": 0.5, "a": 0.7}
    got = fusion.weighted_fusion(lexical, dense, alpha=0.25)
    expected = [("a", 0.875), ("b", 0.625), ("c", 0.0), ("d", 0.0)]
    assert_same(got, expected, f"weighted_fusion({lexical}, {dense}, alpha=0.25)", abs_tol=1e-12)
    only_lex = [d for d, _ in fusion.weighted_fusion(lexical, dense, alpha=0.0)]
    assert_same(only_lex, ["a", "b", "c", "d"], "the order with alpha=0 (BM25 only)")
    only_dense = [d for d, _ in fusion.weighted_fusion(lexical, dense, alpha=1.0)]
    assert_same(only_dense, ["b", "a", "c", "d"], "the order with alpha=1 (dense only)")
    rng = random.Random(lab_seed)
    for _ in range(3):
        ids = [f"d{i:02d}" for i in range(12)]
        lex = {d: rng.uniform(0, 25) for d in rng.sample(ids, 7)}
        den = {d: rng.uniform(-0.2, 0.9) for d in rng.sample(ids, 7)}
        alpha = round(rng.uniform(0, 1), 2)
        assert_same(
            fusion.weighted_fusion(lex, den, alpha=alpha),
            support.weighted(lex, den, alpha),
            f"weighted_fusion(..., alpha={alpha})",
            abs_tol=1e-12,
        )
