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
    operator = re.compile(
        r"[+*]|(?<=\s)-(?=\s)|\bplus\b|\bminus\b|\btimes\b|\bmultiplied by\b", re.I
    )
    return "easy" if len(operator.findall(question)) <= 1 else "hard"


def should_escalate(result: CallResult, min_confidence: float) -> bool:
    """Whether the cheap model's reply is not good enough to return.

    True when the reply has no ``Answer:`` line (``parse_answer`` gives None), when its confidence
    is below ``min_confidence``, or when it did not finish normally (finish reason not "stop").
    """
    answer, confidence = parse_answer(result.text)
    return answer is None or confidence < min_confidence or result.finish_reason != "stop"


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
    started = time.perf_counter()
    question = request["question"]
    with tracer.start_as_current_span(
        f"invoke_workflow {WORKFLOW}", kind=trace.SpanKind.INTERNAL
    ) as root:
        root.set_attribute(GenAI.GEN_AI_OPERATION_NAME, "invoke_workflow")
        root.set_attribute(GenAI.GEN_AI_WORKFLOW_NAME, WORKFLOW)
        root.set_attribute(REQUEST_ID, request["id"])
        trace_id = format(root.get_span_context().trace_id, "032x")
        key = cache_key(config.system_prompt, question)

        with tracer.start_as_current_span("cache lookup") as span:
            hit, kind = cache.get(key), "exact"
            if hit is None and semantic is not None and embed is not None:
                found = semantic.lookup(embed(" ".join(question.lower().split())))
                hit, kind = (found[0], "semantic") if found else (None, kind)
            span.set_attribute(CACHE_HIT, hit is not None)
        if hit is not None:
            record = {
                **hit,
                "id": request["id"],
                "question": question,
                "route": "cache",
                "cache": kind,
                "model": None,
                "calls": [],
                "input_tokens": 0,
                "output_tokens": 0,
                "cached_tokens": 0,
                "cost_usd": 0.0,
                "saved_usd": hit["cost_usd"],
            }
        else:
            with tracer.start_as_current_span("retrieval examples") as span:
                span.set_attribute(GenAI.GEN_AI_OPERATION_NAME, "retrieval")
                span.set_attribute(GenAI.GEN_AI_DATA_SOURCE_ID, "examples")
                span.set_attribute(GenAI.GEN_AI_REQUEST_TOP_K, config.k_examples)
                examples = retrieve_examples(question, config.k_examples)
            messages = build_messages(config.system_prompt, examples, question)
            calls: list[CallResult] = []
            if classify(question) == "easy":
                calls.append(traced_chat(client, tracer, config.cheap_model, messages))
                route = "cheap"
                if should_escalate(calls[-1], config.min_confidence):
                    calls.append(traced_chat(client, tracer, config.strong_model, messages))
                    route = "escalated"
            else:
                calls.append(traced_chat(client, tracer, config.strong_model, messages))
                route = "strong"
            answer, confidence = parse_answer(calls[-1].text)
            record = {
                "id": request["id"],
                "question": question,
                "answer": answer,
                "confidence": confidence,
                "route": route,
                "cache": None,
                "model": calls[-1].model,
                "calls": [c.as_dict() for c in calls],
                "input_tokens": sum(c.input_tokens for c in calls),
                "output_tokens": sum(c.output_tokens for c in calls),
                "cached_tokens": sum(c.cached_tokens for c in calls),
                "cost_usd": sum(c.cost_usd for c in calls),
                "saved_usd": 0.0,
            }
            if answer is not None:
                cache.put(key, record)
                if semantic is not None and embed is not None:
                    semantic.put(embed(" ".join(question.lower().split())), record)
        root.set_attribute(ROUTE, record["route"])
        root.set_attribute(CACHE_HIT, hit is not None)
        root.set_attribute(COST_USD, record["cost_usd"])
        record["trace_id"] = trace_id
        record["latency_ms"] = (time.perf_counter() - started) * 1000
        return record
