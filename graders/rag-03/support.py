"""Shared by the rag-03 tests: the words of their seeded documents, the stand-in embedder and the
README's fusion formulas, recomputed here from their definitions (not the way the reference builds
them), so that test_3_fusion checks fusion.py and test_5_pipeline checks the pipeline's stages
against one oracle."""

from __future__ import annotations

from collections.abc import Sequence

from labkit.grading.standins import BagOfWordsEmbedder

# The vocabulary the tests draw their seeded documents and queries from (each file adds its own).
WORDS = (
    "ingest",
    "batch",
    "query",
    "timeout",
    "retry",
    "backoff",
    "region",
    "bytes",
    "policy",
    "travel",
    "hotel",
    "agent",
    "buffer",
)


def bag_of_words() -> BagOfWordsEmbedder:
    """The dense tests' embedder: each word a fixed random 64-d vector, so there are no near-ties
    and float32 and float64 agree on every order (``labkit.grading.standins``)."""
    return BagOfWordsEmbedder("random")


def rrf(rankings: Sequence[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """The README's RRF, computed straight from its definition (not the way fusion.py builds it):
    for each document, in doc-id order, the sum over the lists, in list order, of 1 / (k + rank)
    at every position it holds; then a stable sort by score, best first, so ties stay in doc-id
    order. Same terms added in the same order as the README says, so the floats are exact."""
    docs = sorted({doc_id for ranking in rankings for doc_id in ranking})
    score = {
        doc_id: sum(
            1 / (k + position)
            for ranking in rankings
            for position, other in enumerate(ranking, start=1)
            if other == doc_id
        )
        for doc_id in docs
    }
    return [(doc_id, float(score[doc_id])) for doc_id in sorted(docs, key=lambda d: -score[d])]


def min_max(scores: dict[str, float]) -> dict[str, float]:
    """Min-max normalisation as the README defines it (all equal: 1.0; empty: empty)."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    return {d: (1.0 if hi == lo else (v - lo) / (hi - lo)) for d, v in scores.items()}


def weighted(
    lexical: dict[str, float], dense: dict[str, float], alpha: float
) -> list[tuple[str, float]]:
    """The README's weighted fusion: alpha x normalised dense + (1 - alpha) x normalised lexical,
    a document missing from one side 0 there; best first, ties in doc-id order."""
    lex, den = min_max(lexical), min_max(dense)
    fused = {d: alpha * den.get(d, 0.0) + (1 - alpha) * lex.get(d, 0.0) for d in {*lex, *den}}
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
