"""All the training data in its seeded order, and the fingerprint of what determines it.

:func:`training_fingerprint` is the cached model's key (:func:`.cache.reranker_path`): its
payload must stay byte-for-byte the same or every machine retrains.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from pathlib import Path

from labkit.models.reranker.kb_data import build_kb_groups, kb_dev_questions
from labkit.models.reranker.recipe import DEFAULT_RECIPE, Recipe, TrainingGroup
from labkit.models.reranker.wiki_data import build_wiki_groups


def build_training_groups(
    recipe: Recipe = DEFAULT_RECIPE, *, seed: int = 13, kb_root: Path | None = None
) -> list[TrainingGroup]:
    """All training groups (Wikipedia + knowledge-base dev), shuffled in a seeded order."""
    groups = build_wiki_groups(recipe, seed=seed) + build_kb_groups(
        recipe, seed=seed, kb_root=kb_root
    )
    random.Random(f"order:{seed}").shuffle(groups)
    return groups


def training_fingerprint(
    recipe: Recipe = DEFAULT_RECIPE, *, seed: int = 13, kb_root: Path | None = None
) -> str:
    """Short hash of what determines the trained weights: recipe, seed, and the KB dev rows.

    The Wikipedia summaries are pinned by the package version, so they need no hashing; the
    knowledge base's dev questions are repository data that may change, and a changed question
    set must give a new cache folder rather than silently keep an old model.
    """
    payload = json.dumps(
        {
            "recipe": dataclasses.asdict(recipe),
            "seed": seed,
            "kb_dev": [
                [q.id, q.question, [[p.doc_id, p.text] for p in q.passages], list(q.doc_ids)]
                for q in kb_dev_questions(kb_root)
            ],
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:8]
