"""The course's ranking metrics: nDCG@k, Recall@k, MRR@k (RR@k), per query and averaged.

These are the definitions ``trec_eval`` (and so ``ir_measures`` and BEIR) use, written out so a
reader can check them line by line; ``tests/retrieval`` cross-checks them against ``ir_measures``
on random runs:

- a *ranking* is a list of doc ids, best first, without repeats;
- *qrels* map a doc id to a relevance grade; a grade >= 1 is relevant, 0 or missing is not;
- nDCG@k: gain = the grade, discount = 1 / log2(rank + 1), divided by the DCG of the ideal
  ranking (the judged grades sorted high to low, cut at k); 0 when nothing is relevant;
- Recall@k: relevant documents in the top k / all relevant documents; 0 when nothing is relevant;
- MRR@k: 1 / the rank of the first relevant document in the top k, else 0.

Means are over the judged queries; a judged query with no ranking scores 0 (``trec_eval -c``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Sequence[str]]


def dcg(gains: Sequence[float]) -> float:
    """``sum(gain_i / log2(i + 1))`` over ranks i = 1, 2, ..."""
    return sum(g / math.log2(i + 1) for i, g in enumerate(gains, start=1))


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k of one ranking with graded (linear) gains."""
    gains = [max(0, qrels.get(doc_id, 0)) for doc_id in ranking[:k]]
    ideal = dcg(sorted((g for g in qrels.values() if g > 0), reverse=True)[:k])
    return dcg(gains) / ideal if ideal > 0 else 0.0


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents (grade >= 1) in the top k."""
    relevant = {doc_id for doc_id, grade in qrels.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document in the top k (0 if none)."""
    for rank, doc_id in enumerate(ranking[:k], start=1):
        if qrels.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0


MEASURES = ("ndcg@10", "recall@100", "mrr@10")
"""What ``labkit eval-retrieval`` reports, in this order."""


def measure(name: str, ranking: Sequence[str], qrels: Mapping[str, int]) -> float:
    """One measure by name: ``ndcg@K``, ``recall@K`` or ``mrr@K``."""
    kind, _, cut = name.partition("@")
    if not cut.isdigit() or int(cut) < 1:
        raise ValueError(f"measure {name!r} needs a cut-off, such as ndcg@10")
    functions = {"ndcg": ndcg_at_k, "recall": recall_at_k, "mrr": mrr_at_k}
    if kind not in functions:
        raise ValueError(f"unknown measure {name!r}; use ndcg@K, recall@K or mrr@K")
    return functions[kind](ranking, qrels, int(cut))


def per_query(
    run: Run, qrels: Qrels, measures: Sequence[str] = MEASURES
) -> dict[str, dict[str, float]]:
    """``{query id: {measure: value}}`` for every judged query (no ranking: an empty one)."""
    return {
        qid: {name: measure(name, list(run.get(qid, ())), judged) for name in measures}
        for qid, judged in qrels.items()
    }


def mean_metrics(run: Run, qrels: Qrels, measures: Sequence[str] = MEASURES) -> dict[str, float]:
    """``{measure: mean over the judged queries}`` (0.0 each when there are none)."""
    rows = per_query(run, qrels, measures)
    if not rows:
        return dict.fromkeys(measures, 0.0)
    return {name: sum(r[name] for r in rows.values()) / len(rows) for name in measures}
