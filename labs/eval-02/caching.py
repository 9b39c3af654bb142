"""Response caches: exact (same normalised request) and semantic (a similar enough question).

An exact cache is free money: a request answered before is answered again without a model call,
in microseconds, for $0. It only works if the key ignores what does not change the answer (case,
spacing) and keeps everything that does (the system prompt, the question).

A semantic cache also answers *paraphrases* ("What is 2 plus 3?" / "How much is 2 + 3?") by
comparing embeddings. Its threshold is a precision/recall dial: too low, and "What is 12 plus 8?"
is answered with the cached answer to "What is 12 plus 7?" — wrong, confidently, for free. Choose
it on a dev set of labelled pairs, never by feel.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def cache_key(system: str, question: str) -> str:
    """The exact-cache key of a request: a sha256 hex digest of its normalised form.

    Normalising: the question lowercased, runs of whitespace made one space, stripped; the system
    prompt kept as it is (a different prompt may give a different answer). Two requests that
    differ only in case or spacing of the question get the same key; anything else a different one.
    """
    raise NotImplementedError("not implemented yet — see task 3")


@dataclass
class ExactCache:
    """A dict of key -> cached record, with hit/miss counts. GIVEN."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def get(self, key: str) -> dict[str, Any] | None:
        """The record cached under ``key`` (counting a hit), or None (counting a miss)."""
        found = self.entries.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Remember ``record`` under ``key``."""
        self.entries[key] = record


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0.0 when either is all zeros). GIVEN."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


@dataclass
class SemanticCache:
    """Cached answers found by embedding similarity.

    ``threshold``: a lookup hits only when the best similarity is at least this.
    """

    threshold: float
    vectors: list[list[float]] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def put(self, vector: Sequence[float], value: Any) -> None:
        """Remember ``value`` under ``vector``. GIVEN."""
        self.vectors.append(list(vector))
        self.values.append(value)

    def lookup(self, vector: Sequence[float]) -> tuple[Any, float] | None:
        """``(value, similarity)`` of the most similar cached vector (by ``cosine``; the earliest
        one on a tie) when that similarity is >= ``threshold``; None otherwise (and when empty)."""
        raise NotImplementedError("not implemented yet — see task 3")


def choose_threshold(dev_pairs: Sequence[tuple[float, bool]]) -> float:
    """The semantic-cache threshold chosen on dev: as low as possible, but never wrong on dev.

    Args:
        dev_pairs: ``(similarity, same_answer)`` for pairs of dev questions.

    Returns:
        The smallest similarity ``t`` among the pairs such that every pair with similarity >= t
        has ``same_answer`` True (so the cache, on dev, serves no wrong answer and as many right
        ones as it can). When no pair qualifies (the most similar pair is a different answer),
        ``math.inf``: the semantic cache is off.
    """
    raise NotImplementedError("not implemented yet — see task 3")
