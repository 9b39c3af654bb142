"""Combining rankings: reciprocal rank fusion, and a weighted sum of normalised scores.

    reciprocal_rank_fusion([["a", "b"], ["b", "c"]])                   # b first: in both lists
    weighted_fusion({"a": 12.0, "b": 3.0}, {"b": 0.8, "c": 0.5}, alpha=0.5)

This module stands alone (it imports nothing from the lab folder): ``labkit eval-retrieval``
loads it from your folder by path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60
"""The k of reciprocal rank fusion (Cormack et al., 2009): damps the weight of the very top ranks."""


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = RRF_K
) -> list[tuple[str, float]]:
    """Fuse rankings by the sum of 1 / (k + rank) over the lists a document appears in.

    Args:
        rankings: lists of doc ids, each best first (rank 1 is the first item); a document may
            be missing from some lists (it gets nothing from those).
        k: the RRF constant (60 unless you have measured better).

    Returns:
        ``(doc_id, fused score)`` for every document of every list, best first; equal scores in
        doc-id order. Each document's terms are added in the order of ``rankings``.
    """
    raise NotImplementedError("not implemented yet — see task 3")


def min_max_normalise(scores: Mapping[str, float]) -> dict[str, float]:
    """Rescale scores to [0, 1]: the lowest becomes 0, the highest 1.

    Args:
        scores: ``{doc_id: score}`` from one retriever.

    Returns:
        ``{doc_id: (score - min) / (max - min)}``; if every score is equal (one document, say),
        every document gets 1.0; an empty mapping gives ``{}``.
    """
    raise NotImplementedError("not implemented yet — see task 3")


def weighted_fusion(
    lexical: Mapping[str, float], dense: Mapping[str, float], alpha: float = 0.5
) -> list[tuple[str, float]]:
    """Fuse two scored result lists by a weighted sum of their min-max normalised scores.

    Args:
        lexical: ``{doc_id: score}`` from BM25 (its top results).
        dense: ``{doc_id: score}`` from dense search (its top results).
        alpha: the weight of the dense side, from 0 (BM25 only) to 1 (dense only).

    Returns:
        ``(doc_id, alpha * dense_norm + (1 - alpha) * lexical_norm)`` for every document of either
        input, best first, equal scores in doc-id order; a document missing from one side gets 0
        for that side.
    """
    raise NotImplementedError("not implemented yet — see task 3")
