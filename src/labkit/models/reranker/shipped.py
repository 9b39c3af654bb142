"""Reranker scores shipped in the repository: the pair key, the file, and a scorer that serves it.

Grading runs in a fresh home folder, so a grader that reranks ships the trained reranker's scores
of the (query, passage) pairs its reference sends (``graders/rag-03/rerank_scores.npz``, written
by the grader's ``build_fixtures.py`` through :func:`save_scores`); graders and notebooks serve
them through :class:`ShippedScorer` and score only the other pairs with the model. A stale file
makes scoring slower, never wrong.

The file is an ``.npz`` with ``keys`` (:func:`pair_key` of each pair, ``S64``, sorted) and
``scores`` (float64), plus whatever strings the writer records next to them (which model).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Scorer = Callable[[str, Sequence[str]], Sequence[float]]
"""``scorer(query, passages) -> one score per passage``, higher is better."""


def pair_key(query: str, passage: str) -> str:
    """The file's key of one (query, passage) pair: SHA-256 of ``query + "\\0" + passage``
    (UTF-8). The shipped files depend on it byte for byte."""
    return hashlib.sha256(f"{query}\0{passage}".encode()).hexdigest()


def save_scores(path: Path, scores: Mapping[str, float], **about: str) -> int:
    """Write ``pair key -> score`` to ``path`` (keys sorted), with each ``about`` string stored
    under its own name (``model=...``). Returns how many scores were written."""
    clash = {"keys", "scores"} & set(about)
    if clash:
        raise ValueError(f"{sorted(clash)} name the file's own arrays")
    keys = sorted(scores)
    arrays: dict[str, Any] = {
        "keys": np.array(keys, dtype="S64"),
        "scores": np.array([scores[k] for k in keys], dtype=np.float64),
    }
    arrays.update((name, np.array(value)) for name, value in about.items())
    np.savez_compressed(path, **arrays)
    return len(keys)


def load_scores(path: Path) -> dict[str, float]:
    """``pair key -> score`` from a file written by :func:`save_scores` ({} if absent)."""
    if not path.is_file():
        return {}
    with np.load(path) as data:
        keys = [k.decode() for k in data["keys"]]
        return dict(zip(keys, map(float, data["scores"]), strict=True))


class ShippedScorer:
    """A reranker's scores served from a shipped file; any other pair scored by ``fallback``.

    ``scorer(query, passages)`` returns one score per passage. Pairs the file does not hold are
    sent to ``fallback(query, passages)`` in one call per query, each distinct passage once, in
    the order of their keys: a cross-encoder's scores move in the last decimals with the batch a
    pair lands in, so the same missing pairs always make the same batches and get the same scores.
    Scores computed are kept; ``live`` counts them.
    """

    key = staticmethod(pair_key)

    def __init__(self, file: str | os.PathLike[str], fallback: Scorer) -> None:
        self.scores = load_scores(Path(file))
        self.fallback = fallback
        self.live = 0

    def __call__(self, query: str, passages: Sequence[str]) -> list[float]:
        texts = [str(p) for p in passages]
        keys = [pair_key(query, p) for p in texts]
        missing = sorted(
            {k: p for k, p in zip(keys, texts, strict=True) if k not in self.scores}.items()
        )
        if missing:
            fresh = self.fallback(query, [p for _, p in missing])
            self.scores.update({k: float(v) for (k, _), v in zip(missing, fresh, strict=True)})
            self.live += len(missing)
        return [self.scores[k] for k in keys]
