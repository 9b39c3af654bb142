"""rag-03, task 6: ranking metrics (ranking_metrics.py), against known values and ir_measures.

ir_measures (trec_eval's definitions, through pytrec_eval) is the referee for random runs drawn
from ``lab_seed``: graded qrels with some zero judgements, rankings that find some, all or none
of the relevant documents.
"""

from __future__ import annotations

import math
import random
from typing import Any

import ir_measures
from ir_measures import RR, R, nDCG

from labkit.grading import assert_same, lab_test

L2 = math.log2


@lab_test(points=3, number="6.1")
def test_metrics_known_values(learner: Any) -> None:
    """dcg, nDCG@k, Recall@k, MRR@k on hand-computed cases"""
    m = learner.import_module("ranking_metrics")
    assert_same(m.dcg([3, 2, 0, 1]), 3 + 2 / L2(3) + 1 / L2(5), "dcg([3, 2, 0, 1])", abs_tol=1e-12)
    qrels = {"d1": 2, "d2": 1, "d5": 0}
    ranking = ["d3", "d1", "d2"]
    cases = [
        ("ndcg_at_k", 10, (2 / L2(3) + 1 / L2(4)) / (2 + 1 / L2(3))),
        ("ndcg_at_k", 2, (2 / L2(3)) / (2 + 1 / L2(3))),
        ("recall_at_k", 2, 0.5),
        ("recall_at_k", 3, 1.0),
        ("mrr_at_k", 10, 0.5),
        ("mrr_at_k", 1, 0.0),
    ]
    for name, k, expected in cases:
        got = getattr(m, name)(ranking, qrels, k)
        assert_same(got, expected, f"{name}({ranking}, {qrels}, k={k})", abs_tol=1e-12)
    assert_same(m.ndcg_at_k(["d5", "d9"], {"d5": 0}, 10), 0.0, "nDCG when nothing is relevant")
    assert_same(m.recall_at_k(["d5"], {"d5": 0}, 10), 0.0, "Recall when nothing is relevant")
    assert_same(
        m.ndcg_at_k(["d2", "d1"], qrels, 10),
        (1 + 2 / L2(3)) / (2 + 1 / L2(3)),
        "nDCG of [d2, d1] (graded gains, not binary)",
        abs_tol=1e-12,
    )


def _random_case(rng: random.Random) -> tuple[dict[str, dict[str, int]], dict[str, list[str]]]:
    docs = [f"D{i:03d}" for i in range(150)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, list[str]] = {}
    for q in range(12):
        qid = f"q{q:02d}"
        judged = rng.sample(docs, rng.randint(1, 8))
        qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        if all(g == 0 for g in qrels[qid].values()):
            qrels[qid][judged[0]] = 1
        pool = rng.sample(docs, rng.randint(0, 120))
        pool += [d for d in judged if rng.random() < 0.6 and d not in pool]
        rng.shuffle(pool)
        run[qid] = pool
    return qrels, run


def _ir_measures(
    qrels: dict[str, dict[str, int]], run: dict[str, list[str]], measure: Any
) -> dict[str, float]:
    q = [ir_measures.Qrel(qid, d, g) for qid, rels in qrels.items() for d, g in rels.items()]
    r = [
        ir_measures.ScoredDoc(qid, d, float(len(ranking) - i))
        for qid, ranking in run.items()
        for i, d in enumerate(ranking)
    ]
    values = {qid: 0.0 for qid in qrels}  # trec_eval leaves out queries with an empty ranking
    for metric in ir_measures.iter_calc([measure], q, r):
        values[metric.query_id] = float(metric.value)
    return values


@lab_test(points=4, number="6.2")
def test_metrics_agree_with_ir_measures(learner: Any, lab_seed: int) -> None:
    """nDCG@k, Recall@k, MRR@k agree with ir_measures on random runs"""
    m = learner.import_module("ranking_metrics")
    rng = random.Random(lab_seed)
    for _ in range(3):
        qrels, run = _random_case(rng)
        k_ndcg, k_recall, k_rr = (
            rng.choice([5, 10, 20]),
            rng.choice([10, 50, 100]),
            rng.choice([5, 10]),
        )
        results = {
            qid: (
                m.ndcg_at_k(run[qid], qrels[qid], k_ndcg),
                m.recall_at_k(run[qid], qrels[qid], k_recall),
                m.mrr_at_k(run[qid], qrels[qid], k_rr),
            )
            for qid in qrels
        }
        for index, (name, measure) in enumerate(
            (("nDCG", nDCG @ k_ndcg), ("Recall", R @ k_recall), ("MRR", RR @ k_rr))
        ):
            reference = _ir_measures(qrels, run, measure)
            for qid in qrels:
                got = results[qid][index]
                assert_same(
                    got,
                    reference[qid],
                    f"{name}@{measure.params['cutoff']} of query "
                    f"{qid} (qrels {qrels[qid]}, ranking starts {run[qid][:6]})",
                    abs_tol=1e-9,
                )


@lab_test(points=2, number="6.3")
def test_evaluate_run_means(learner: Any, lab_seed: int) -> None:
    """evaluate_run: means over judged queries, missing rankings count as zero"""
    m = learner.import_module("ranking_metrics")
    rng = random.Random(lab_seed + 5)
    qrels, run = _random_case(rng)
    dropped = rng.sample(sorted(run), 3)
    partial = {qid: ranking for qid, ranking in run.items() if qid not in dropped}
    partial["not-judged"] = ["D001", "D002"]
    got = m.evaluate_run(partial, qrels, k=10, recall_k=50)
    expected = {
        "ndcg@10": sum(_ir_measures(qrels, partial, nDCG @ 10).values()) / len(qrels),
        "recall@50": sum(_ir_measures(qrels, partial, R @ 50).values()) / len(qrels),
        "mrr@10": sum(_ir_measures(qrels, partial, RR @ 10).values()) / len(qrels),
    }
    assert_same(
        got, expected, f"evaluate_run(run without {dropped}, k=10, recall_k=50)", abs_tol=1e-9
    )
