"""rag-03, task 4: reranking reorders the top of the candidate list, and only that (rerank.py).

A recording scorer stands in for the cross-encoder: it returns seeded scores and remembers what
it was asked to score, so the test sees which passages went to the model and in what order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from labkit.grading import assert_same, lab_test


class RecordingScorer:
    """scorer(query, passages) -> scores drawn from a seeded table; records every call."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, query: str, passages: Sequence[str]) -> list[float]:
        self.calls.append((query, list(passages)))
        return [self.table[p] for p in passages]


def _case(seed: int, n: int) -> tuple[list[str], dict[str, str], dict[str, float]]:
    rng = random.Random(seed)
    candidates = [f"doc-{rng.randrange(100, 999)}-{i}" for i in range(n)]
    passages = {d: f"passage of {d}" for d in candidates}
    # scores with a few exact ties, so "equal scores keep their candidate order" is exercised
    levels = [round(rng.uniform(-3, 3), 1) for _ in range(max(2, n // 3))]
    scores = {passages[d]: rng.choice(levels) for d in candidates}
    return candidates, passages, scores


def expected_rerank(
    candidates: list[str], passages: dict[str, str], scores: dict[str, float], depth: int
) -> list[tuple[str, float]]:
    top = candidates[:depth]
    order = sorted(range(len(top)), key=lambda i: (-scores[passages[top[i]]], i))
    return [(top[i], scores[passages[top[i]]]) for i in order]


@lab_test(points=4, number="4.1")
def test_rerank_reorders_only_the_top_depth(learner: Any, lab_seed: int) -> None:
    """rerank: same set of ids, order by the scorer, depth respected, one batched call"""
    rerank = learner.import_module("rerank")
    for trial, (n, depth) in enumerate(((30, 20), (12, 12), (5, 20), (25, 7))):
        candidates, passages, scores = _case(lab_seed * 7 + trial, n)
        scorer = RecordingScorer(scores)
        query = f"question {trial}"
        got = rerank.rerank(query, candidates, passages, depth=depth, scorer=scorer)
        top = candidates[:depth]
        assert scorer.calls, (
            f"the scorer should be called once per rerank (one batch), it was called "
            f"{len(scorer.calls)} times"
        )
        assert len(scorer.calls) == 1, (
            f"the scorer should be called once per rerank (one batch), it was called "
            f"{len(scorer.calls)} times"
        )
        assert_same(
            scorer.calls[0],
            (query, [passages[d] for d in top]),
            f"what the scorer was asked (depth={depth}, {n} candidates)",
        )
        assert isinstance(got, list), f"rerank should return a list, got {type(got).__name__}"
        ids = [pair[0] for pair in got]
        assert sorted(ids) == sorted(top), (
            f"rerank(depth={depth}) returned ids {ids}; expected exactly the first {depth} "
            f"candidates {top} (reranking only reorders)"
        )
        assert_same(
            got,
            expected_rerank(candidates, passages, scores, depth),
            f"rerank(depth={depth}) of {n} candidates",
        )
    scorer = RecordingScorer({})
    assert_same(rerank.rerank("q", [], {}, depth=20, scorer=scorer), [], "rerank of no candidates")
