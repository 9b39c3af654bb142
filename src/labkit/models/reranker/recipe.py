"""The training recipe's knobs, its version, and the unit of training data (:class:`TrainingGroup`).

The version and the recipe are part of the cached model's key (:mod:`.cache`), so everything here
is data the trained weights depend on: change a default and bump :data:`RECIPE_VERSION`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RECIPE_VERSION = "r1"
"""Bump when the recipe or its defaults change: the cached model is keyed by it."""

ENV_VAR = "LABKIT_RERANKER"
"""Environment variable naming another CrossEncoder (a local path or a hub id) to use instead."""

QueryKind = Literal["sentence", "definition", "description", "keywords", "kb"]


@dataclass(frozen=True)
class Recipe:
    """Every knob of the training recipe; the defaults are :data:`DEFAULT_RECIPE`.

    A frozen dataclass so a recipe can be hashed into the training-data fingerprint and written
    next to the model (``labkit-reranker.json``), which is how a trained folder documents itself.
    """

    wiki_queries: int = 900
    query_mix: tuple[tuple[str, float], ...] = (
        ("sentence", 0.35),
        ("definition", 0.25),
        ("description", 0.25),
        ("keywords", 0.15),
    )
    negatives_per_query: int = 3
    negative_pool: int = 20
    keep_sentence_probability: float = 0.25
    heldout_percent: int = 20
    kb_repeats: int = 2
    loss: Literal["group-softmax", "bce"] = "group-softmax"
    groups_per_step: int = 8
    epochs: int = 1
    learning_rate: float = 1e-4
    head_learning_rate: float = 1e-3
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    freeze_embeddings: bool = True
    frozen_layers: int = 0
    train_max_length: int = 160
    max_length: int = 256


DEFAULT_RECIPE = Recipe()


@dataclass(frozen=True)
class TrainingGroup:
    """One query with its positive passage and its hard negatives (the unit of training)."""

    query: str
    positive: str
    negatives: tuple[str, ...]
    kind: QueryKind
    source: str
    """Where the query came from: ``wiki:<title>`` or ``kb-dev:<question id>``."""
