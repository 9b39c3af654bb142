"""eval-01 part 3: RAGAS metrics on the rag-02 reference pipeline's answers (ragas_eval.py).

The samples are the rag-02 reference's outputs on seeded test-split questions (rag02_runs.jsonl,
rebuilt by build_runs.py), and the same samples from a deliberately broken configuration: an
invented sentence in every answer, and the retrieved contexts in reverse order. The fake
provider's RagasJudge answers RAGAS's prompts with real judgements, so the good configuration
must score higher on faithfulness and context precision.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)

from labkit.grading import assert_same, lab_test
from labkit.models.embedder import load_vectors, warm_cache

VECTORS = load_vectors(support.VECTORS_FILE)
METRICS = ["answer_relevancy", "context_precision", "context_recall", "faithfulness"]
N_SAMPLES = 3


@pytest.fixture(scope="module", autouse=True)
def _warm_cache() -> None:
    warm_cache(VECTORS)


class Scored:
    """The session's RAGAS scores of the good and the corrupted samples (scored once)."""

    rows: list[Any] | None = None
    requests: int = 0
    embeddings: int = 0


_SCORED = Scored()


def scored(learner: Any, fake_llm: Any, seed: int) -> Scored:
    if _SCORED.rows is None:
        ragas_eval = learner.import_module("ragas_eval")
        good = [support.sample_of(r) for r in support.good_runs(seed, N_SAMPLES)]
        bad = [support.corrupted(s) for s in good]
        _SCORED.rows = ragas_eval.score_samples(good + bad)
        _SCORED.requests = len(fake_llm.journal.bodies("/v1/chat/completions"))
        _SCORED.embeddings = len(fake_llm.journal.bodies("/v1/embeddings"))
    return _SCORED


def _mean(rows: list[dict[str, float]], name: str) -> float:
    values = [r[name] for r in rows if not math.isnan(r[name])]
    return sum(values) / len(values) if values else math.nan


@lab_test(points=4, number="3.1")
def test_ragas_scores_every_sample(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """RAGAS scores every sample on the four metrics, through the fake judge"""
    result = scored(learner, fake_llm, lab_seed)
    rows = result.rows
    assert type(rows) is list, (
        f"score_samples(6 samples) returned {type(rows).__name__} of length "
        f"{len(rows) if isinstance(rows, list) else '?'}, expected a list of 6 dicts"
    )
    assert len(rows) == 2 * N_SAMPLES, (
        f"score_samples(6 samples) returned {type(rows).__name__} of length "
        f"{len(rows) if isinstance(rows, list) else '?'}, expected a list of 6 dicts"
    )
    for row in rows:
        assert_same(sorted(row), METRICS, "the metric names of a scored sample")
        for name in METRICS:
            value = row[name]
            assert type(value) is float, f"{name} is {value!r}, expected a float"
            assert math.isnan(value) or 0.0 <= value <= 1.0, f"{name} = {value}, outside [0, 1]"
    assert result.requests >= 6 * 2 * N_SAMPLES, (
        f"only {result.requests} judge requests reached the fake provider: are all four metrics "
        "computed with the configured model?"
    )
    assert result.embeddings > 0, (
        "answer relevancy needs embeddings from the provider's /v1/embeddings"
    )


@lab_test(points=4, number="3.2")
def test_ragas_orders_good_above_corrupted(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """The good configuration beats the corrupted one on faithfulness and context precision"""
    rows = scored(learner, fake_llm, lab_seed).rows
    assert isinstance(rows, list), "score_samples must return one row per sample"
    assert len(rows) == 2 * N_SAMPLES, "score_samples must return one row per sample"
    good, bad = rows[:N_SAMPLES], rows[N_SAMPLES:]
    for name in ("faithfulness", "context_precision"):
        g, b = _mean(good, name), _mean(bad, name)
        print(f"{name}: good {g:.3f}, corrupted {b:.3f}")
        assert g > b, (
            f"{name}: the good configuration scored {g:.3f}, the corrupted one {b:.3f}; expected good > corrupted"
        )
    for name in ("context_recall", "answer_relevancy"):
        g, b = _mean(good, name), _mean(bad, name)
        assert abs(g - b) < 0.2, (
            f"{name} changed from {g:.3f} to {b:.3f}, though the corruption leaves it alone"
        )


@lab_test(points=2, number="3.3")
def test_mean_scores(learner: Any) -> None:
    """Means per metric leave NaNs out"""
    ragas_eval = learner.import_module("ragas_eval")
    nan = float("nan")
    rows = [
        {
            "faithfulness": 1.0,
            "answer_relevancy": 0.5,
            "context_precision": nan,
            "context_recall": nan,
        },
        {
            "faithfulness": 0.5,
            "answer_relevancy": 0.7,
            "context_precision": 0.25,
            "context_recall": nan,
        },
    ]
    got = ragas_eval.mean_scores(rows)
    assert_same(sorted(got), METRICS, "mean_scores(...) keys")
    assert_same(got["faithfulness"], 0.75, "mean faithfulness", abs_tol=1e-9)
    assert_same(got["answer_relevancy"], 0.6, "mean answer_relevancy", abs_tol=1e-9)
    assert_same(
        got["context_precision"], 0.25, "mean context_precision (one NaN left out)", abs_tol=1e-9
    )
    assert math.isnan(got["context_recall"]), (
        f"mean of only NaNs should be NaN, got {got['context_recall']}"
    )
