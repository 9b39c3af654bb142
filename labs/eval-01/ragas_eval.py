"""RAGAS metrics for a RAG pipeline's answers: faithfulness, answer relevancy, context precision
and context recall, judged by the configured model (offline: the course's fake provider).

RAGAS asks a judge model small questions (break the answer into statements; is each supported by
the context? was this context useful for the reference answer?) and turns the verdicts into
scores between 0 and 1. Its modern API takes an Instructor LLM (``llm_factory``) and an embeddings
client (``embedding_factory``) over any OpenAI-compatible server.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from labkit import config

METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")


def _async_client() -> Any:
    """GIVEN: an ``AsyncOpenAI`` client for the configured provider (RAGAS calls are async)."""
    from openai import AsyncOpenAI

    sync = config.openai_client()
    return AsyncOpenAI(base_url=str(sync.base_url), api_key=sync.api_key)


def make_llm() -> Any:
    """A RAGAS judge LLM (``ragas.llms.llm_factory``) over the configured provider's model."""
    raise NotImplementedError("not implemented yet — see task 4")


def make_embeddings() -> Any:
    """RAGAS embeddings (``embedding_factory("openai", ...)``) over the provider's endpoint."""
    raise NotImplementedError("not implemented yet — see task 4")


def score_samples(samples: list[dict[str, Any]], *, concurrency: int = 4) -> list[dict[str, float]]:
    """The four RAGAS metrics of each sample, in order.

    Args:
        samples: ``{"question", "answer", "contexts": [str], "reference"}`` dicts.
        concurrency: how many samples are scored at once.

    The metrics (``ragas.metrics.collections``) and their ``await metric.ascore(...)`` arguments:
    ``Faithfulness(llm=...)``: ``user_input, response, retrieved_contexts``;
    ``AnswerRelevancy(llm=..., embeddings=...)``: ``user_input, response``;
    ``ContextPrecision(llm=...)`` and ``ContextRecall(llm=...)``: ``user_input, reference,
    retrieved_contexts``. Each returns a result whose ``.value`` is the score. Run them with
    ``asyncio.run`` once for the whole list (build the LLM inside it).

    Returns:
        One ``{"faithfulness", "answer_relevancy", "context_precision", "context_recall"}``
        dict of floats per sample (NaN where RAGAS could not score, e.g. no statements).
    """
    raise NotImplementedError("not implemented yet — see task 4")


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each metric over the rows, NaNs left out (NaN if a metric has no value)."""
    raise NotImplementedError("not implemented yet — see task 4")
