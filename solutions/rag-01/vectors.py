"""Cosine similarity and top-k search over a matrix of vectors, in vectorised numpy.

A vector store is, at heart, these two functions: score every stored vector against the query in
one matrix operation, then take the best k. Python loops over rows are 100x slower than numpy's.
"""

from __future__ import annotations

import numpy as np


def cosine_similarity(query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Cosine similarity between ``query`` and every row of ``matrix``.

    Args:
        query: shape ``(d,)``; need not be normalised.
        matrix: shape ``(n, d)``; rows need not be normalised.

    Returns:
        A float64 array of shape ``(n,)``: ``q·m / (|q| |m|)`` for each row ``m``, and 0.0 where
        the query or the row is the zero vector (never NaN).
    """
    q = np.asarray(query, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(m, axis=1) * np.linalg.norm(q)
    dots = m @ q
    scores = np.zeros(m.shape[0], dtype=np.float64)
    np.divide(dots, norms, out=scores, where=norms > 0)
    return scores


def top_k(query: np.ndarray, matrix: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` rows of ``matrix`` most similar to ``query``.

    Args:
        query: shape ``(d,)``.
        matrix: shape ``(n, d)``.
        k: how many results; more than ``n`` returns all ``n``; ``k <= 0`` returns ``[]``.

    Returns:
        ``(row index, cosine similarity)`` pairs as plain Python ``int`` and ``float``, best first;
        rows with equal scores come in index order (lower index first).
    """
    if k <= 0:
        return []
    scores = cosine_similarity(query, matrix)
    # A stable sort of the negated scores keeps equal scores in index order.
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in order]
