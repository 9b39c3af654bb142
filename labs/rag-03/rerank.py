"""Cross-encoder reranking of the top of a fused candidate list.

    rerank("how do I rotate an API key?", ["faq-api", "api-v2-auth"], passages, depth=10)

A cross-encoder reads the query and a passage *together* and outputs one relevance score: much
better than comparing two separately computed vectors, and much slower, so it only ever sees the
top ``depth`` candidates that cheap retrieval found.

This module stands alone (it imports nothing from the lab folder): ``labkit eval-retrieval``
loads it from your folder by path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

Scorer = Callable[[str, Sequence[str]], Sequence[float]]
"""(query, passages) -> one relevance score per passage, higher is better."""

RERANK_DEPTH = 10


def cross_encoder_scores(query: str, passages: Sequence[str]) -> list[float]:
    """GIVEN. Score passages with the course's cross-encoder (``labkit.models.reranker``).

    The model is loaded once per process; if it has never been trained on this machine, the first
    call trains it (a few minutes, announced on stderr; ``make models`` does it ahead of time).
    ``LABKIT_RERANKER`` may name another CrossEncoder.
    """
    if not passages:
        return []
    from labkit.models.reranker import get_reranker

    model = get_reranker()
    scores = model.predict([(query, p) for p in passages], batch_size=32, show_progress_bar=False)
    return [float(s) for s in scores]


def rerank(
    query: str,
    candidates: Sequence[str],
    passages: Mapping[str, str],
    *,
    depth: int = RERANK_DEPTH,
    scorer: Scorer | None = None,
) -> list[tuple[str, float]]:
    """Reorder the first ``depth`` candidates by cross-encoder score.

    Args:
        query: the query text.
        candidates: doc ids, best first (the fused ranking).
        passages: the text to score for each candidate (at least the first ``depth``).
        depth: how many candidates to rerank (the rest are not scored at all).
        scorer: ``scorer(query, texts) -> scores`` (default: :func:`cross_encoder_scores`),
            called once, with the texts of the first ``depth`` candidates in candidate order.

    Returns:
        ``(doc_id, score)`` for exactly the first ``depth`` candidates (fewer if there are fewer),
        highest score first; equal scores keep their candidate order. Nothing is added or dropped.
    """
    raise NotImplementedError("not implemented yet — see task 4")
