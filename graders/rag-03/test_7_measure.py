"""rag-03, task 7: on the held-out TEST questions, each stage of the learner's pipeline earns its place.

The learner's ``HybridSearcher`` (with its own ``SearchConfig`` defaults) runs over the 66
knowledge-base documents; the metric is the course's nDCG@10 (document level, each gold document
relevance 1, unanswerable questions left out), computed here, not by the learner's code.

Grading runs in a fresh home folder, so the models' disk caches start empty. The MiniLM vectors
of every passage and question, and the trained reranker's scores for the (question, passage)
pairs a correct pipeline sends it, ship with this grader (``build_fixtures.py``); anything else is
computed with the real models: MiniLM from its package, the reranker from the project's cache,
found through the real home folder (or ``LABKIT_CACHE_DIR``). A missing trained reranker fails
with a message; it is never trained here.
"""

from __future__ import annotations

import hashlib
import math
import os
import pwd
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labkit.datasets import load_documents, load_questions
from labkit.grading import lab_test
from labkit.models.embedder import EmbeddingCache, load_vectors

HERE = Path(__file__).resolve().parent
DOCUMENTS = load_documents()
TEST = [q for q in load_questions(split="test") if q.answerable]


def _pair_key(query: str, passage: str) -> str:
    return hashlib.sha256(f"{query}\x00{passage}".encode()).hexdigest()


def _load_scores(path: Path) -> dict[str, float]:
    """``pair key -> reranker score`` from ``build_fixtures.py``'s file ({} if absent)."""
    if not path.is_file():
        return {}
    with np.load(path) as data:
        return dict(
            zip((k.decode() for k in data["keys"]), map(float, data["scores"]), strict=True)
        )


def _real_cache_dir() -> Path:
    """The labkit cache of the person grading (HOME is a scratch folder while grading)."""
    configured = os.environ.get("LABKIT_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "labkit"


def _reranker_folder() -> Path:
    from labkit.models.reranker import reranker_path

    return _real_cache_dir() / reranker_path().name


# Read now (collection time): the grader's files are gone once the tests run.
VECTORS = load_vectors(HERE / "minilm_vectors.npz")
SCORES = _load_scores(HERE / "rerank_scores.npz")
RERANKER = _reranker_folder()


class ShippedEmbed:
    """MiniLM vectors from the shipped file; anything else from the real model."""

    def __init__(self) -> None:
        self.memo = dict(VECTORS)
        self.computed = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        missing = sorted(
            {
                EmbeddingCache.key(t): t for t in texts if EmbeddingCache.key(t) not in self.memo
            }.items()
        )
        if missing:
            from labkit.models.embedder import get_embedder

            fresh = get_embedder().embed([t for _, t in missing])
            self.memo.update({k: fresh[i] for i, (k, _) in enumerate(missing)})
            self.computed += len(missing)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self.memo[EmbeddingCache.key(t)] for t in texts])


class ShippedScorer:
    """The trained reranker's scores from the shipped file; anything else from the model itself."""

    def __init__(self) -> None:
        self.memo = dict(SCORES)
        self.computed = 0
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            if not (RERANKER / "labkit-reranker.json").is_file():
                pytest.fail(
                    f"the trained reranker is missing ({RERANKER}): run `make models` (it trains "
                    "it once, a few minutes), then grade again",
                    pytrace=False,
                )
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(str(RERANKER), device="cpu")
        return self._model

    def __call__(self, query: str, passages: Sequence[str]) -> list[float]:
        passages = [str(p) for p in passages]
        missing = sorted(
            {
                _pair_key(query, p): p for p in passages if _pair_key(query, p) not in self.memo
            }.items()
        )
        if missing:
            values = self._load().predict(
                [(query, p) for _, p in missing], batch_size=32, show_progress_bar=False
            )
            self.memo.update({k: float(v) for (k, _), v in zip(missing, values, strict=True)})
            self.computed += len(missing)
        return [self.memo[_pair_key(query, p)] for p in passages]


def _ndcg10(ranking: Sequence[str], gold: Sequence[str]) -> float:
    relevant = set(gold)
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(list(ranking)[:10]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal


class StageScores:
    """Mean nDCG@10 of each stage over the answerable test questions, computed on first use."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.values: dict[str, float] = {}

    def __getitem__(self, stage: str) -> float:
        if stage not in self.values:
            scores = [
                _ndcg10([str(d) for d in self.searcher.search(q.question, stage, 10)], q.doc_ids)
                for q in TEST
            ]
            self.values[stage] = sum(scores) / len(scores)
        return self.values[stage]


@pytest.fixture(scope="module")
def stage_scores(learner: Any) -> StageScores:
    """The learner's pipeline over the knowledge base (built once for both tests)."""
    search = learner.import_module("search")
    searcher = search.HybridSearcher(
        [d.id for d in DOCUMENTS],
        [d.text for d in DOCUMENTS],
        embed=ShippedEmbed(),
        scorer=ShippedScorer(),
    )
    return StageScores(searcher)


def _table(scores: StageScores) -> str:
    return ", ".join(f"{stage} {value:.3f}" for stage, value in scores.values.items())


@lab_test(points=3, number="7.1")
def test_hybrid_beats_each_retriever_on_test(stage_scores: StageScores) -> None:
    """on the test questions, hybrid nDCG@10 >= the better of BM25 and dense"""
    best = max(stage_scores["bm25"], stage_scores["dense"])
    assert stage_scores["hybrid"] >= best, (
        f"nDCG@10 on the {len(TEST)} answerable test questions: {_table(stage_scores)}; "
        f"hybrid should be at least {best:.3f}"
    )


@lab_test(points=3, number="7.2")
def test_rerank_beats_hybrid_on_test(stage_scores: StageScores) -> None:
    """on the test questions, reranked nDCG@10 >= hybrid"""
    hybrid = stage_scores["hybrid"]
    assert stage_scores["rerank"] >= hybrid, (
        f"nDCG@10 on the {len(TEST)} answerable test questions: {_table(stage_scores)}; "
        f"rerank should be at least {hybrid:.3f}"
    )
