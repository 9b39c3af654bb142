"""The calculator service: one traced request = cache, retrieval, routed model calls.

Every request becomes one trace::

    invoke_workflow calculator          (root: the whole request, its route and cost)
    ├── cache lookup                    (hit or miss)
    ├── retrieval examples              (few-shot examples for the prompt)
    ├── chat fleet-small                (the cheap model first, for an easy question)
    └── chat fleet-large                (only when the cheap answer failed or was unsure)

A cache hit ends the trace after ``cache lookup``: nothing reaches the provider.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from caching import ExactCache, SemanticCache, cache_key
from llm import CallResult, parse_answer, traced_chat
from openai import OpenAI
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from telemetry import CACHE_HIT, COST_USD, REQUEST_ID, ROUTE

WORKFLOW = "calculator"

# The static part of the system prompt: long (over 1,024 tokens) and always the same, so it is
# the prefix a provider's prompt cache can reuse. GIVEN.
_RULES = [
    "Read the question and find the arithmetic expression in it.",
    "Words mean operators: plus is +, minus is -, times and multiplied by are *.",
    "Multiplication binds tighter than addition and subtraction; parentheses come first.",
    "Work with integers only; every question here has an integer answer.",
    "A negative result is written with a leading minus sign, like -42.",
    "Never round, never use scientific notation, never add units.",
    "Answer on a line of its own: 'Answer: <integer>'.",
    "Then rate how sure you are on a line 'Confidence: <a number from 0 to 1>'.",
    "If you cannot answer, say 'I am not sure.' and give a low confidence.",
]
SYSTEM_PROMPT = "You are a calculator service. Follow these rules exactly.\n" + "\n".join(
    f"Rule {i + 1}.{j + 1}: {rule}" for i in range(12) for j, rule in enumerate(_RULES)
)

# Worked examples the retrieval step chooses from. GIVEN.
EXAMPLES: list[tuple[str, int]] = [
    ("What is 12 plus 30?", 42),
    ("What is 9 times 8?", 72),
    ("What is 50 minus 18?", 32),
    ("What is (3 + 4) * 5?", 35),
    ("What is 6 * 7 - 2?", 40),
    ("What is (10 - 4) * (2 + 3)?", 30),
    ("What is 2 + 3 * 4?", 14),
]


def retrieve_examples(question: str, k: int) -> list[tuple[str, int]]:
    """The ``k`` worked examples whose operators best match the question's. GIVEN."""

    def signature(text: str) -> set[str]:
        text = re.sub(r"\bplus\b", "+", re.sub(r"\bminus\b", "-", re.sub(r"\btimes\b", "*", text)))
        return {c for c in text if c in "+-*()"}

    want = signature(question.lower())
    ranked = sorted(
        EXAMPLES, key=lambda ex: (-len(want & signature(ex[0].lower())), len(ex[0]), ex[0])
    )
    return ranked[:k]


def build_messages(
    system_prompt: str, examples: Sequence[tuple[str, int]], question: str
) -> list[dict[str, str]]:
    """System prompt (static part first, then the examples), then the question. GIVEN."""
    shown = "\n".join(f"Q: {q}\nAnswer: {a}" for q, a in examples)
    return [
        {"role": "system", "content": f"{system_prompt}\n\nExamples:\n{shown}"},
        {"role": "user", "content": question},
    ]


@dataclass(frozen=True)
class ServiceConfig:
    """The routing policy and prompt. GIVEN."""

    cheap_model: str = "fleet-small"
    strong_model: str = "fleet-large"
    min_confidence: float = 0.7
    system_prompt: str = SYSTEM_PROMPT
    k_examples: int = 2


def classify(question: str) -> str:
    """``"easy"`` when the question has at most one arithmetic operator, ``"hard"`` otherwise.

    Operators are ``+``, ``-``, ``*`` and the words plus, minus, times and "multiplied by"
    (a minus sign written between spaces, like ``7 - 2``; the dataset has no negative numbers).
    """
    raise NotImplementedError("not implemented yet — see task 4")


def should_escalate(result: CallResult, min_confidence: float) -> bool:
    """Whether the cheap model's reply is not good enough to return.

    True when the reply has no ``Answer:`` line (``parse_answer`` gives None), when its confidence
    is below ``min_confidence``, or when it did not finish normally (finish reason not "stop").
    """
    raise NotImplementedError("not implemented yet — see task 4")


def handle_request(
    request: dict[str, Any],
    *,
    client: OpenAI,
    tracer: trace.Tracer,
    cache: ExactCache,
    config: ServiceConfig = ServiceConfig(),
    semantic: SemanticCache | None = None,
    embed: Callable[[str], list[float]] | None = None,
) -> dict[str, Any]:
    """Answer one request (``{"id", "question"}``) inside one trace, and return its record.

    Steps, each in its own span under the root ``invoke_workflow calculator`` span:

    1. ``cache lookup``: ``cache.get(cache_key(config.system_prompt, question))``, attribute
       ``app.cache.hit``. A hit returns the cached record with ``route`` "cache", ``cache``
       "exact", ``calls`` [], zero tokens and cost, and ``saved_usd`` = the cached record's cost.
       (With ``semantic`` and ``embed`` given, a miss then tries the semantic cache the same way,
       ``cache`` "semantic".)
    2. ``retrieval examples`` (``gen_ai.operation.name`` = retrieval, ``gen_ai.data_source.id`` =
       "examples", ``gen_ai.request.top_k``): ``retrieve_examples(question, config.k_examples)``.
    3. Routing: an ``easy`` question (``classify``) goes to ``config.cheap_model``, and escalates to
       ``config.strong_model`` when ``should_escalate``; a ``hard`` one goes to the strong model
       directly. Route names: "cheap", "escalated", "strong". Each call is ``traced_chat``.
    4. A record with an answer is put in the cache (and the semantic cache).

    The root span has ``gen_ai.operation.name`` = invoke_workflow, ``gen_ai.workflow.name``,
    ``app.request.id``, ``app.route``, ``app.cache.hit`` and ``app.cost_usd`` (the request's
    total).

    Returns:
        ``{"id", "question", "answer", "confidence", "route", "cache", "model", "calls",
        "input_tokens", "output_tokens", "cached_tokens", "cost_usd", "saved_usd", "latency_ms",
        "trace_id"}``; ``calls`` is ``[CallResult.as_dict(), ...]`` in call order, ``model`` the
        model of the last call (None on a hit), the token fields and ``cost_usd`` summed over
        ``calls``, ``trace_id`` the 32-digit hex id of this request's trace.
    """
    raise NotImplementedError("not implemented yet — see task 4")
