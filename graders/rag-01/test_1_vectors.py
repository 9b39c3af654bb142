"""rag-01, task 1: cosine similarity and top-k search, checked against a brute-force reference.

Inputs are generated from ``lab_seed``; ties are built from exact duplicate rows of small integer
vectors, whose scores are bit-for-bit equal however they are computed. "Vectorised" is checked by
timing against a numpy reference on a tall, thin matrix, where a Python loop over rows costs tens
of times more than one matrix operation: the bound is generous, so only a per-row loop fails. (A
top_k that sorts in Python instead of numpy is only a few times slower than np.argsort and is not
reliably told apart by timing; the bound for top_k catches per-row scoring, not the sort.)
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from labkit.grading import assert_same, lab_test


def _brute_cosine(query: np.ndarray, matrix: np.ndarray) -> list[float]:
    """Cosine similarity, one row at a time in plain Python (0.0 when a norm is zero)."""
    q = [float(x) for x in query]
    q_norm = math.sqrt(sum(x * x for x in q))
    out = []
    for row in matrix:
        r = [float(x) for x in row]
        r_norm = math.sqrt(sum(x * x for x in r))
        dot = sum(a * b for a, b in zip(q, r, strict=True))
        out.append(dot / (q_norm * r_norm) if q_norm > 0 and r_norm > 0 else 0.0)
    return out


def _brute_top_k(query: np.ndarray, matrix: np.ndarray, k: int) -> list[tuple[int, float]]:
    scores = _brute_cosine(query, matrix)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [(i, scores[i]) for i in order[: max(k, 0)]]


def _numpy_cosine(query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The vectorised reference used as the timing yardstick."""
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)
    out = np.zeros(matrix.shape[0])
    np.divide(matrix @ query, norms, out=out, where=norms > 0)
    return out


def _random_case(seed: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of very different lengths (so normalising matters), a few zero rows."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n, d)) * rng.uniform(0.01, 100.0, size=(n, 1))
    matrix[rng.choice(n, size=3, replace=False)] = 0.0
    query = rng.normal(size=d) * 7.5
    return query, matrix


def _as_float_array(result: Any, n: int, what: str) -> np.ndarray:
    assert isinstance(result, np.ndarray), (
        f"{what} returned {type(result).__name__}, expected a numpy array"
    )
    assert result.shape == (n,), f"{what} returned shape {result.shape}, expected ({n},)"
    assert np.issubdtype(result.dtype, np.floating), (
        f"{what} returned dtype {result.dtype}, expected floats"
    )
    return result


@lab_test(points=2, number="1.1")
def test_cosine_similarity_matches_brute_force(learner: Any, lab_seed: int) -> None:
    """cosine_similarity matches a brute-force reference (unnormalised rows, zero vectors)"""
    vectors = learner.import_module("vectors")
    for case in range(3):
        query, matrix = _random_case(lab_seed + case, n=60, d=12)
        got = _as_float_array(vectors.cosine_similarity(query, matrix), 60, "cosine_similarity")
        assert not np.isnan(got).any(), (
            f"cosine_similarity returned NaN at rows {np.flatnonzero(np.isnan(got)).tolist()} "
            "(the zero rows); expected 0.0 there"
        )
        want = np.array(_brute_cosine(query, matrix))
        bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-6, atol=1e-9))
        assert bad.size == 0, (
            f"cosine_similarity row {bad[0]}: got {got[bad[0]]!r}, expected {want[bad[0]]!r} "
            f"({bad.size} of 60 rows differ)"
        )
    zero = _as_float_array(
        vectors.cosine_similarity(np.zeros(12), matrix), 60, "cosine_similarity(zero query)"
    )
    assert not np.isnan(zero).any(), (
        f"cosine_similarity with a zero query returned {zero[:4].tolist()}..., expected all 0.0"
    )
    assert np.all(zero == 0.0), (
        f"cosine_similarity with a zero query returned {zero[:4].tolist()}..., expected all 0.0"
    )


@lab_test(points=2, number="1.2")
def test_top_k_matches_brute_force(learner: Any, lab_seed: int) -> None:
    """top_k returns the best k (index, score) pairs in order, for any k"""
    vectors = learner.import_module("vectors")
    query, matrix = _random_case(lab_seed + 10, n=50, d=8)
    for k in (1, 5, 17, 50, 80, 0):
        got = vectors.top_k(query, matrix, k)
        want = _brute_top_k(query, matrix, k)
        assert_same(got, want, f"top_k(query, matrix[50 x 8], k={k})", rel_tol=1e-6, abs_tol=1e-9)


@lab_test(points=1, number="1.3")
def test_top_k_breaks_ties_by_index(learner: Any, lab_seed: int) -> None:
    """top_k breaks ties by the lower index, including at the cut-off"""
    vectors = learner.import_module("vectors")
    rng = np.random.default_rng(lab_seed + 20)
    d = 8
    query = rng.integers(-3, 4, size=d).astype(np.float64)
    # Prototypes with clearly different scores; each is repeated several times.
    protos: list[np.ndarray] = []
    while len(protos) < 6:
        candidate = rng.integers(-3, 4, size=d).astype(np.float64)
        score = _brute_cosine(query, candidate[None, :])[0]
        if all(abs(score - _brute_cosine(query, p[None, :])[0]) > 1e-6 for p in protos):
            protos.append(candidate)
    rows = [protos[i % 6] for i in range(36)] + [np.zeros(d)] * 2
    order = rng.permutation(len(rows))
    matrix = np.stack([rows[i] for i in order])
    n = matrix.shape[0]
    for k in (3, 7, 13, n):
        got = vectors.top_k(query, matrix, k)
        want = _brute_top_k(query, matrix, k)
        got_ids = got
        if isinstance(got, list) and all(isinstance(p, tuple) and p for p in got):
            # Only the order is judged here (test 1.2 judges the types).
            got_ids = [int(p[0]) if isinstance(p[0], int | np.integer) else p[0] for p in got]
        want_ids = [i for i, _ in want]
        assert_same(got_ids, want_ids, f"the indices returned by top_k(k={k}) with tied rows")


def _timed(fn: Any, bound: float) -> float:
    """Fastest of up to three runs of ``fn`` (which returns the seconds its call took, or None to
    be timed here); stops as soon as one is within ``bound``, or at once when a run is far beyond
    it (a Python loop over 200,000 rows is, by a factor of 20 or more)."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        measured = fn()
        took = measured if isinstance(measured, float) else time.perf_counter() - start
        best = min(best, took)
        if best <= bound or best > 3 * bound:
            break
    return best


def _reference_time(fn: Any) -> float:
    return min(_timed(fn, bound=0.0) for _ in range(3))


@lab_test(points=2, number="1.4")
def test_search_is_vectorised(learner: Any, lab_seed: int) -> None:
    """cosine_similarity and top_k run as whole-matrix numpy operations (timed on 200k x 2)"""
    vectors = learner.import_module("vectors")
    rng = np.random.default_rng(lab_seed + 30)
    # Tall and thin: numpy spends ~50 ns per row here, a Python loop ~2,500 ns.
    matrix = rng.normal(size=(200_000, 2))
    query = rng.normal(size=2)
    vectors.cosine_similarity(query, matrix[:10])  # warm up (first calls may load BLAS code)
    reference = _reference_time(lambda: _numpy_cosine(query, matrix))
    cos_bound = 8 * reference + 0.03
    # Timed in the worker around the call alone: moving the matrix there does not count.
    cos_time = _timed(lambda: learner.timed(vectors.cosine_similarity, query, matrix)[0], cos_bound)
    assert cos_time <= cos_bound, (
        f"cosine_similarity took {cos_time * 1000:.0f} ms on a 200,000 x 2 matrix; a vectorised "
        f"version takes about {reference * 1000:.0f} ms here (limit {cos_bound * 1000:.0f} ms)"
    )
    ref_top = _reference_time(lambda: np.argsort(-_numpy_cosine(query, matrix), kind="stable")[:10])
    top_bound = 10 * ref_top + 0.05
    top_time = _timed(lambda: learner.timed(vectors.top_k, query, matrix, 10)[0], top_bound)
    assert top_time <= top_bound, (
        f"top_k(k=10) took {top_time * 1000:.0f} ms on a 200,000 x 2 matrix; scoring and sorting "
        f"with numpy takes about {ref_top * 1000:.0f} ms here (limit {top_bound * 1000:.0f} ms)"
    )
