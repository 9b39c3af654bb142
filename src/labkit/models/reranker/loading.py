"""Using the model: the process-wide CrossEncoder (trained on first use if missing) and rerank()."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from labkit.errors import LabkitError
from labkit.models.reranker.cache import is_trained, reranker_path
from labkit.models.reranker.recipe import ENV_VAR
from labkit.models.reranker.training import train_reranker

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder


_lock = threading.Lock()


@lru_cache(maxsize=1)
def get_reranker() -> CrossEncoder:
    """The process-wide reranker (a ``sentence_transformers.CrossEncoder``).

    ``LABKIT_RERANKER`` may name any other CrossEncoder (a folder, or a hub id when hub access
    is allowed). Otherwise the project's own model is loaded from the cache, and trained first if
    it is missing — a one-time cost, announced on stderr, because a silent ten-minute pause
    looks like a hang.
    """
    from sentence_transformers import CrossEncoder

    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        try:
            return CrossEncoder(override, device="cpu")
        except (OSError, ValueError) as exc:
            raise LabkitError(
                f"{ENV_VAR}={override} is not a loadable CrossEncoder: {exc}"
            ) from exc
    with _lock:
        path = reranker_path()
        if not is_trained(path):
            print(
                f"labkit: no trained reranker in {path}: training it now from the packaged MiniLM "
                "(one time, about 7-9 minutes on 2 CPU cores; `make models` does it ahead of time)",
                file=sys.stderr,
                flush=True,
            )
            train_reranker(path, progress=True)
        return CrossEncoder(str(path), device="cpu")


def rerank(
    query: str, passages: Sequence[str], top_k: int | None = None, *, batch_size: int = 32
) -> list[tuple[int, float]]:
    """Score every passage against ``query``; return (index in ``passages``, score), best first.

    Scores are the model's sigmoid outputs in (0, 1): comparable within a query, not calibrated
    probabilities. Ties keep the original order, so reranking never shuffles equal candidates.
    """
    if not passages:
        return []
    model = get_reranker()
    scores = model.predict(
        [(query, p) for p in passages], batch_size=batch_size, show_progress_bar=False
    )
    values = [float(s) for s in np.asarray(scores, dtype=np.float64).reshape(-1)]
    order = sorted(range(len(values)), key=lambda i: (-values[i], i))
    if top_k is not None:
        order = order[:top_k]
    return [(i, values[i]) for i in order]
