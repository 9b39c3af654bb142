"""Ranking metrics: nDCG@k, Recall@k, MRR@k, and their means over a question set.

A *ranking* is a list of doc ids, best first, without repeats. *Qrels* (relevance judgements) map
a doc id to its relevance grade: 0 means judged not relevant, 1 or more relevant (higher is
better); a document missing from the qrels is not relevant.

    ndcg_at_k(["d3", "d1"], {"d1": 1, "d2": 2}, k=10)

This module stands alone (it imports nothing from the lab folder).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of a list of gains in rank order.

    Args:
        gains: the gain at rank 1, 2, ...

    Returns:
        ``sum(gain_i / log2(i + 1))`` for ranks ``i`` starting at 1 (rank 1 is not discounted).
    """
    raise NotImplementedError("not implemented yet — see task 6")


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """Normalised DCG of the top ``k``: DCG of the ranking / DCG of the ideal ranking.

    Args:
        ranking: doc ids, best first.
        qrels: doc id -> relevance grade (the gain of a document is its grade; negative grades
            count as 0).
        k: the cut-off.

    Returns:
        A float in [0, 1]; the ideal ranking sorts the qrels' grades from high to low; 0.0 when
        nothing is relevant.
    """
    raise NotImplementedError("not implemented yet — see task 6")


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents (grade >= 1) found in the top ``k``.

    Args:
        ranking: doc ids, best first.
        qrels: doc id -> relevance grade.
        k: the cut-off.

    Returns:
        ``|relevant in top k| / |relevant|``; 0.0 when nothing is relevant.
    """
    raise NotImplementedError("not implemented yet — see task 6")


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document (grade >= 1) in the top ``k``.

    Args:
        ranking: doc ids, best first.
        qrels: doc id -> relevance grade.
        k: the cut-off.

    Returns:
        ``1 / rank`` (rank 1 is the first item), or 0.0 if no relevant document is in the top k.
    """
    raise NotImplementedError("not implemented yet — see task 6")


def evaluate_run(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    k: int = 10,
    recall_k: int = 100,
) -> dict[str, float]:
    """Mean metrics over every judged query.

    Args:
        run: query id -> ranking.
        qrels: query id -> {doc id: grade}; only these queries count, and a query missing from
            ``run`` counts as an empty ranking (it scores 0, it is not skipped).
        k: cut-off of nDCG and MRR.
        recall_k: cut-off of recall.

    Returns:
        ``{"ndcg@<k>": ..., "recall@<recall_k>": ..., "mrr@<k>": ...}``, each the mean over the
        queries of ``qrels`` (0.0 for each if there are none).
    """
    raise NotImplementedError("not implemented yet — see task 6")
