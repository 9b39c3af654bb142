"""The course's ranking metrics (labkit.retrieval.metrics): known values, and ir_measures agreement
(the module delegates to ir_measures; these pin the definitions it documents)."""

from __future__ import annotations

import math
import random
import re

import ir_measures
import pytest
from ir_measures import RR, R, nDCG

from labkit.retrieval import metrics

L2 = math.log2


def test_known_values() -> None:
    qrels = {"d1": 2, "d2": 1, "d5": 0}
    ranking = ["d3", "d1", "d2"]
    # the DCG of gains 3, 2, 0, 1 (a discount at every rank, rank 4 included) over the ideal 3, 2, 1
    # (the toolkit has no dcg(): rag-03's learners write it, ir_measures computes it here)
    graded = {"a": 3, "b": 2, "c": 0, "d": 1}
    assert metrics.ndcg_at_k(["a", "b", "c", "d"], graded, 10) == pytest.approx(
        (3 + 2 / L2(3) + 1 / L2(5)) / (3 + 2 / L2(3) + 1 / L2(4))
    )
    assert metrics.ndcg_at_k(ranking, qrels, 10) == pytest.approx(
        (2 / L2(3) + 1 / L2(4)) / (2 + 1 / L2(3))
    )
    assert metrics.ndcg_at_k(ranking, qrels, 2) == pytest.approx((2 / L2(3)) / (2 + 1 / L2(3)))
    assert metrics.recall_at_k(ranking, qrels, 2) == 0.5
    assert metrics.recall_at_k(ranking, qrels, 3) == 1.0
    assert metrics.mrr_at_k(ranking, qrels, 10) == 0.5
    assert metrics.mrr_at_k(ranking, qrels, 1) == 0.0
    # nothing relevant: every measure is 0, never a division by zero
    assert metrics.ndcg_at_k(["d5"], {"d5": 0}) == 0.0
    assert metrics.recall_at_k(["d5"], {"d5": 0}) == 0.0
    assert metrics.measure("ndcg@3", ranking, qrels) == metrics.ndcg_at_k(ranking, qrels, 3)
    # outside the contract (a ranking has no repeats): a repeat counts once, at its first rank
    assert metrics.ndcg_at_k(["d1", "d1", "d2"], qrels) == metrics.ndcg_at_k(["d1", "d2"], qrels)


@pytest.mark.parametrize("name", ["ndcg", "precision@5", "mrr@0", "recall@x"])
def test_unknown_measures_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=rf"measure {re.escape(repr(name))}"):
        metrics.measure(name, ["a"], {"a": 1})


def _random_case(rng: random.Random) -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    docs = [f"D{i:03d}" for i in range(200)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, list[str]] = {}
    for q in range(25):
        judged = rng.sample(docs, rng.randint(1, 12))
        qrels[f"q{q}"] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        pool = rng.sample(docs, rng.randint(1, 150))
        pool += [d for d in judged if rng.random() < 0.5 and d not in pool]
        rng.shuffle(pool)
        run[f"q{q}"] = pool
    return qrels, run


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_ir_measures_on_random_runs(seed: int) -> None:
    rng = random.Random(seed)
    qrels, run = _random_case(rng)
    q = [ir_measures.Qrel(qid, d, g) for qid, rels in qrels.items() for d, g in rels.items()]
    r = [
        ir_measures.ScoredDoc(qid, d, float(len(ranking) - i))
        for qid, ranking in run.items()
        for i, d in enumerate(ranking)
    ]
    pairs = [
        ("ndcg@10", nDCG @ 10),
        ("ndcg@3", nDCG @ 3),
        ("recall@100", R @ 100),
        ("recall@5", R @ 5),
        ("mrr@10", RR @ 10),
    ]
    ours = metrics.per_query(run, qrels, [name for name, _ in pairs])
    for name, measure in pairs:
        theirs = {m.query_id: m.value for m in ir_measures.iter_calc([measure], q, r)}
        for qid in qrels:
            assert ours[qid][name] == pytest.approx(theirs.get(qid, 0.0), abs=1e-9), (name, qid)
        aggregate = ir_measures.calc_aggregate([measure], q, r)[measure]
        mean = sum(ours[qid][name] for qid in qrels) / len(qrels)
        assert mean == pytest.approx(aggregate, abs=1e-9), name


def test_means_count_unranked_queries_as_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": ["a"], "other": ["b"]}
    assert metrics.mean_metrics(run, qrels) == {"ndcg@10": 0.5, "recall@100": 0.5, "mrr@10": 0.5}
    assert metrics.mean_metrics(run, {}) == {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
