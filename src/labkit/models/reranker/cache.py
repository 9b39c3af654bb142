"""Where the trained model lives: outside the repository, keyed by recipe version and data."""

from __future__ import annotations

from pathlib import Path

from labkit.models.embedder import cache_dir
from labkit.models.reranker.data import training_fingerprint
from labkit.models.reranker.recipe import DEFAULT_RECIPE, RECIPE_VERSION, Recipe


def reranker_path(*, recipe: Recipe = DEFAULT_RECIPE, seed: int = 13) -> Path:
    """Where the trained model is cached: outside the repository, keyed by recipe and data.

    ``cache_dir()/reranker-<RECIPE_VERSION>-<fingerprint>``: a new recipe, seed or set of
    knowledge-base dev questions gives a new folder, never a stale model.
    """
    fingerprint = training_fingerprint(recipe, seed=seed)
    return cache_dir() / f"reranker-{RECIPE_VERSION}-{fingerprint}"


def is_trained(path: Path | None = None) -> bool:
    """Whether a trained model folder exists at ``path`` (default :func:`reranker_path`)."""
    folder = path if path is not None else reranker_path()
    return (folder / "labkit-reranker.json").is_file()
