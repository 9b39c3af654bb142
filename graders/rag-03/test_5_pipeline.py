"""rag-03, task 5: the pipeline's hybrid, weighted and reranked stages (search.py).

Built on a small seeded corpus with a stand-in embedder and a recording scorer; each stage is
recomputed (with the fusion formulas of ``support.py``) from the learner's own BM25 and dense
rankings (the given ``bm25`` / ``dense`` methods), so a stage is checked for how it combines them,
not for what they return.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)

from labkit.grading import assert_same, lab_test

TOPICS = {
    "travel": "flight hotel lodging cap metro per diem booking receipt travel policy",
    "ingest": "ingest batch bytes flush interval consumer lag partition retry backoff",
    "api": "token scope key header rate limit status error request endpoint version",
    "billing": "invoice refund plan seat price discount annual monthly credit card",
}
IDENTS = ("ERR-4130", "TS-PRO-250", "ingest.batch_max_bytes", "INC-2024-0131", "OPS-1421")


class HashScorer:
    """A stand-in cross-encoder: a seeded pseudo-random score per (query, passage); records calls."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, query: str, passage: str) -> float:
        digest = hashlib.sha256(f"{self.seed}|{query}|{passage}".encode()).digest()
        return int.from_bytes(digest[:6], "big") / 2**48

    def __call__(self, query: str, passages: Sequence[str]) -> list[float]:
        self.calls.append((query, list(passages)))
        return [self.score(query, p) for p in passages]


def corpus(seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    ids, texts = [], []
    for i in range(16):
        topic = rng.choice(list(TOPICS))
        blocks = [f"# {topic.title()} note {i}"]
        for _ in range(rng.randint(1, 3)):
            words = rng.choices(TOPICS[topic].split(), k=rng.randint(30, 50))
            words += rng.choices(" ".join(TOPICS.values()).split(), k=8)
            if rng.random() < 0.4:
                words.insert(rng.randrange(len(words)), rng.choice(IDENTS))
            blocks.append(" ".join(words) + ".")
        ids.append(f"{topic}-{rng.randrange(100, 999)}-{i}")
        texts.append("\n\n".join(blocks))
    return ids, texts


def queries(seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(4):
        topic = rng.choice(list(TOPICS))
        words = rng.sample(TOPICS[topic].split(), 3)
        if rng.random() < 0.5:
            words.append(rng.choice(IDENTS))
        out.append(" ".join(words))
    return out


def weighted(lexical: dict[str, float], dense: dict[str, float], alpha: float) -> list[str]:
    return [d for d, _ in support.weighted(lexical, dense, alpha)]


def _searcher(learner: Any, seed: int, scorer: Any = None) -> tuple[Any, Any]:
    search = learner.import_module("search")
    rng = random.Random(seed)
    config = search.SearchConfig(
        candidates=rng.choice([4, 5, 6]),
        rrf_k=rng.choice([1, 10, 60]),
        alpha=round(rng.uniform(0.2, 0.8), 2),
        rerank_depth=rng.choice([3, 4, 5]),
        rerank_weight=rng.choice([0.25, 0.5, 0.75]),
    )
    ids, texts = corpus(seed)
    return search.HybridSearcher(
        ids, texts, config=config, embed=support.bag_of_words(), scorer=scorer
    ), config


@lab_test(points=3, number="5.1")
def test_hybrid_stage_fuses_both_rankings(learner: Any, lab_seed: int) -> None:
    """HybridSearcher.hybrid_scored = RRF of the BM25 and dense candidate lists"""
    searcher, config = _searcher(learner, lab_seed)
    n = config.candidates
    for query in queries(lab_seed):
        for k in (3, 20):
            expected = support.rrf(
                [searcher.bm25(query, n), searcher.dense(query, n)], config.rrf_k
            )[:k]
            assert_same(
                searcher.hybrid_scored(query, k),
                expected,
                f"hybrid_scored({query!r}, k={k}) with candidates={n}, rrf_k={config.rrf_k}",
                rel_tol=1e-12,
            )


@lab_test(points=2, number="5.2")
def test_weighted_stage(learner: Any, lab_seed: int) -> None:
    """HybridSearcher.weighted = weighted fusion of the two candidate lists"""
    searcher, config = _searcher(learner, lab_seed + 1)
    n = config.candidates
    for query in queries(lab_seed + 1):
        for k in (3, 20):
            lexical = dict(searcher.lexical.search(query, n))
            dense = dict(searcher.vectors.search(query, n))
            expected = weighted(lexical, dense, config.alpha)[:k]
            assert_same(
                searcher.weighted(query, k),
                expected,
                f"weighted({query!r}, k={k}) with candidates={n}, alpha={config.alpha}",
            )


@lab_test(points=4, number="5.3")
def test_reranked_stage(learner: Any, lab_seed: int) -> None:
    """HybridSearcher.reranked: top-depth reordered by blended score, the rest in fused order"""
    scorer = HashScorer(lab_seed)
    searcher, config = _searcher(learner, lab_seed + 2, scorer=scorer)
    depth, weight = config.rerank_depth, config.rerank_weight
    for query in queries(lab_seed + 2):
        for k in (2, 12):
            n = config.candidates
            fused = support.rrf([searcher.bm25(query, n), searcher.dense(query, n)], config.rrf_k)
            top = [d for d, _ in fused[:depth]]
            passages = searcher.vectors.best_passages(query, top)
            scorer.calls.clear()
            got = searcher.reranked(query, k)
            sent = [pair for pair in scorer.calls if pair[0] == query]
            assert_same(
                sent,
                [(query, [passages[d] for d in top])],
                f"what reranked({query!r}, k={k}) sent to the scorer (depth={depth})",
            )
            model = support.min_max({d: scorer.score(query, passages[d]) for d in top})
            retrieval = support.min_max(dict(fused[:depth]))
            blended = [weight * model[d] + (1 - weight) * retrieval[d] for d in top]
            order = sorted(range(len(top)), key=lambda i: (-blended[i], i))
            expected = ([top[i] for i in order] + [d for d, _ in fused[depth:]])[:k]
            assert_same(
                got,
                expected,
                f"reranked({query!r}, k={k}) with rerank_depth={depth}, rerank_weight={weight}",
            )
