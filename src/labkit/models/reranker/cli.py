"""The command ``make models`` runs: ``python -m labkit.models.reranker`` (see ``__main__``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from labkit.errors import LabkitError
from labkit.models.reranker.cache import is_trained, reranker_path
from labkit.models.reranker.training import train_reranker


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m labkit.models.reranker [--force] [--seed N]``: train into the cache (``make models``)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m labkit.models.reranker",
        description="Train the course's cross-encoder reranker into the labkit cache.",
    )
    parser.add_argument("--force", action="store_true", help="retrain even if the model exists")
    parser.add_argument("--out", type=Path, default=None, help="folder to write (default: cache)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    target = args.out or reranker_path(seed=args.seed)
    if is_trained(target) and not args.force:
        print(f"labkit: reranker already trained: {target}")
        return 0
    started = time.perf_counter()
    try:
        path = train_reranker(target, progress=True, seed=args.seed)
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    print(f"labkit: reranker trained in {time.perf_counter() - started:.0f} s: {path}")
    return 0
