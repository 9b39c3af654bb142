"""The course's ranking metrics: nDCG@k, Recall@k, MRR@k (RR@k), per query and averaged.

Computed by ``ir_measures`` (``nDCG@k``, ``R@k``, ``RR@k``, through ``pytrec_eval``, i.e.
``trec_eval`` itself), not written out here: rag-03's learners write these metrics by hand, and
the toolkit they receive must not hold the answer. The definitions, for readers:

- a *ranking* is a list of doc ids, best first, without repeats (a repeat counts once, at its
  first position);
- *qrels* map a doc id to a relevance grade; a grade >= 1 is relevant, 0 or missing is not;
- nDCG@k: gain = the grade (negative grades count as 0), discount = 1 / log2(rank + 1), divided
  by the DCG of the ideal ranking (the judged grades sorted high to low, cut at k); 0 when nothing
  is relevant;
- Recall@k: relevant documents in the top k / all relevant documents; 0 when nothing is relevant;
- MRR@k: 1 / the rank of the first relevant document in the top k, else 0.

Means are over the judged queries; a judged query with no ranking scores 0 (``trec_eval -c``).
``tests/retrieval`` checks hand-computed values and agreement with ``ir_measures`` on random runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ir_measures
from ir_measures import RR, R, nDCG

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Sequence[str]]

_KINDS = {"ndcg": nDCG, "recall": R, "mrr": RR}


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k of one ranking with graded (linear) gains."""
    return measure(f"ndcg@{k}", ranking, qrels)


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents (grade >= 1) in the top k."""
    return measure(f"recall@{k}", ranking, qrels)


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document in the top k (0 if none)."""
    return measure(f"mrr@{k}", ranking, qrels)


MEASURES = ("ndcg@10", "recall@100", "mrr@10")
"""What ``labkit eval-retrieval`` reports, in this order."""


def measure(name: str, ranking: Sequence[str], qrels: Mapping[str, int]) -> float:
    """One measure by name: ``ndcg@K``, ``recall@K`` or ``mrr@K``."""
    return per_query({"q": ranking}, {"q": qrels}, [name])["q"][name]


def _measure(name: str) -> Any:
    """The ``ir_measures`` measure for ``ndcg@K`` / ``recall@K`` / ``mrr@K``."""
    kind, _, cut = name.partition("@")
    if not cut.isdigit() or int(cut) < 1:
        raise ValueError(f"measure {name!r} needs a cut-off, such as ndcg@10")
    if kind not in _KINDS:
        raise ValueError(f"unknown measure {name!r}; use ndcg@K, recall@K or mrr@K")
    return _KINDS[kind] @ int(cut)


def per_query(
    run: Run, qrels: Qrels, measures: Sequence[str] = MEASURES
) -> dict[str, dict[str, float]]:
    """``{query id: {measure: value}}`` for every judged query (no ranking: an empty one)."""
    wanted = {name: _measure(name) for name in measures}
    values = {qid: dict.fromkeys(measures, 0.0) for qid in qrels}
    judgements = [
        ir_measures.Qrel(qid, doc_id, int(grade))
        for qid, judged in qrels.items()
        for doc_id, grade in judged.items()
    ]
    scored = []
    for qid in qrels:
        ranking = list(dict.fromkeys(run.get(qid, ())))  # a repeat counts at its first position
        # scores that fall with the rank, all distinct: trec_eval ranks by score, so no ties
        scored += [
            ir_measures.ScoredDoc(qid, doc_id, float(len(ranking) - i))
            for i, doc_id in enumerate(ranking)
        ]
    if not judgements or not scored or not wanted:
        return values  # trec_eval skips queries without judgements or results: they score 0
    for result in ir_measures.iter_calc(list(set(wanted.values())), judgements, scored):
        for name, metric in wanted.items():
            if metric == result.measure:
                values[result.query_id][name] = float(result.value)
    return values


def mean_metrics(run: Run, qrels: Qrels, measures: Sequence[str] = MEASURES) -> dict[str, float]:
    """``{measure: mean over the judged queries}`` (0.0 each when there are none)."""
    rows = per_query(run, qrels, measures)
    if not rows:
        return dict.fromkeys(measures, 0.0)
    return {name: sum(r[name] for r in rows.values()) / len(rows) for name in measures}
