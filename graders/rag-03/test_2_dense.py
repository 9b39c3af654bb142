"""rag-03, task 2: dense search over passages (dense.py).

A deterministic hashed bag-of-words embedder stands in for MiniLM here (instant and exact); the
expected values are recomputed from the given cut (``labkit.lexical.split_passages``, which the
lab imports: the grader takes it from the toolkit, not from the learner's module) and that
embedder.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)

from labkit.grading import assert_same, lab_test
from labkit.grading.standins import BagOfWordsEmbedder
from labkit.lexical import split_passages

WORDS = (*support.WORDS, "alert", "dashboard", "invoice", "refund", "key")


def _document(rng: random.Random, title: str) -> str:
    blocks = [f"# {title}"]
    for _ in range(rng.randint(1, 4)):
        words = [rng.choice(WORDS) for _ in range(rng.randint(25, 60))]
        blocks.append(" ".join(words) + ".")
    return "\n\n".join(blocks)


def corpus(seed: int) -> tuple[list[str], list[str]]:
    """A seeded corpus of multi-passage markdown documents, with one exact duplicate (a tie)."""
    rng = random.Random(seed)
    ids = [f"d{rng.randrange(100, 999)}-{i}" for i in range(10)]
    texts = [_document(rng, f"Doc {i}") for i in range(10)]
    ids.append("a-copy")
    texts.append(texts[3])
    return ids, texts


def expected_search(
    ids: list[str], texts: list[str], query: str, k: int, embed: BagOfWordsEmbedder
) -> tuple[list[tuple[str, float]], dict[str, str]]:
    """Each document scored by its best passage; and that passage."""
    q = embed([query])[0].astype(np.float64)
    best: dict[str, tuple[float, str]] = {}
    for doc_id, text in zip(ids, texts, strict=True):
        passages = split_passages(text) or [text]
        sims = embed(passages).astype(np.float64) @ q
        i = int(np.argmax(sims))
        best[doc_id] = (float(sims[i]), passages[i])
    ranked = sorted(((d, s) for d, (s, _) in best.items()), key=lambda p: (-p[1], p[0]))
    return ranked[:k], {d: p for d, (_, p) in best.items()}


def _same_ranking(got: Any, expected: list[tuple[str, float]], what: str) -> None:
    """Ids exactly; scores within float32 rounding (vectors are float32)."""
    assert isinstance(got, list), f"{what} should be a list of (doc_id, score), got {got!r}"
    assert_same([d for d, _ in got], [d for d, _ in expected], f"{what} (the doc ids)")
    assert_same([s for _, s in got], [s for _, s in expected], f"{what} (the scores)", abs_tol=1e-5)


@lab_test(points=3, number="2.1")
def test_dense_search_scores_documents_by_best_passage(learner: Any, lab_seed: int) -> None:
    """DenseIndex.search: max over passages, order, ties, cut-off"""
    dense = learner.import_module("dense")
    ids, texts = corpus(lab_seed)
    embed = support.bag_of_words()
    index = dense.DenseIndex(ids, texts, embed=embed)
    rng = random.Random(lab_seed)
    for _ in range(3):
        query = " ".join(rng.sample(WORDS, 3))
        k = rng.choice([3, 5, 11, 20])
        got = index.search(query, k=k)
        expected, _ = expected_search(ids, texts, query, k, support.bag_of_words())
        _same_ranking(got, expected, f"search({query!r}, k={k})")
        if k >= 11:
            tie = [d for d, _ in got if d in ("a-copy", ids[3])]
            assert tie == sorted(tie), f"two identical documents came out as {tie}, not in id order"


@lab_test(points=2, number="2.2")
def test_best_passages(learner: Any, lab_seed: int) -> None:
    """DenseIndex.best_passages returns each document's most similar passage"""
    dense = learner.import_module("dense")
    ids, texts = corpus(lab_seed + 1)
    index = dense.DenseIndex(ids, texts, embed=support.bag_of_words())
    rng = random.Random(lab_seed + 1)
    query = " ".join(rng.sample(WORDS, 3))
    asked = rng.sample(ids, 5)
    got = index.best_passages(query, asked)
    _, best = expected_search(ids, texts, query, len(ids), support.bag_of_words())
    assert_same(got, {d: best[d] for d in asked}, f"best_passages({query!r}, {asked})")
