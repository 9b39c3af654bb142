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

import os
import pwd
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from labkit.datasets import load_documents, load_questions
from labkit.grading import lab_test
from labkit.models.embedder import ShippedEmbedder, cache_dir
from labkit.models.reranker import ShippedScorer, reranker_path
from labkit.retrieval.metrics import mean_metrics

HERE = Path(__file__).resolve().parent
DOCUMENTS = load_documents()
TEST = [q for q in load_questions(split="test") if q.answerable]
QRELS = {q.id: dict.fromkeys(q.doc_ids, 1) for q in TEST}
# HOME is a scratch folder while grading: the cache is found through the real home folder.
RERANKER = cache_dir(home=Path(pwd.getpwuid(os.getuid()).pw_dir)) / reranker_path().name


@lru_cache(maxsize=1)
def _cross_encoder() -> Any:
    if not (RERANKER / "labkit-reranker.json").is_file():
        pytest.fail(
            f"the trained reranker is missing ({RERANKER}): run `make models` (it trains "
            "it once, a few minutes), then grade again",
            pytrace=False,
        )
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(RERANKER), device="cpu")


def _score_live(query: str, passages: Sequence[str]) -> list[float]:
    """The trained reranker itself, for the pairs the shipped file does not hold."""
    values = _cross_encoder().predict(
        [(query, p) for p in passages], batch_size=32, show_progress_bar=False
    )
    return [float(v) for v in values]


# Read now (collection time): the grader's files are gone once the tests run. The module is
# imported once per grading run, and its one pipeline is the only user of these two.
EMBED = ShippedEmbedder(HERE / "minilm_vectors.npz")
SCORER = ShippedScorer(HERE / "rerank_scores.npz", _score_live)


class StageScores:
    """Mean nDCG@10 of each stage over the answerable test questions, computed on first use."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.values: dict[str, float] = {}

    def __getitem__(self, stage: str) -> float:
        if stage not in self.values:
            run = {
                q.id: [str(d) for d in self.searcher.search(q.question, stage, 10)] for q in TEST
            }
            self.values[stage] = mean_metrics(run, QRELS, ["ndcg@10"])["ndcg@10"]
        return self.values[stage]


@pytest.fixture(scope="module")
def stage_scores(learner: Any) -> StageScores:
    """The learner's pipeline over the knowledge base (built once for both tests)."""
    search = learner.import_module("search")
    searcher = search.HybridSearcher(
        [d.id for d in DOCUMENTS],
        [d.text for d in DOCUMENTS],
        embed=EMBED,
        scorer=SCORER,
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
