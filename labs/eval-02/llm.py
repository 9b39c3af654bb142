"""One traced model call: a ``chat {model}`` span with the GenAI attributes, latency and cost."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from costs import Usage, cost_usd
from openai import OpenAI
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from telemetry import COST_USD


@dataclass(frozen=True)
class CallResult:
    """What one model call returned and cost (plain data). GIVEN."""

    model: str
    text: str
    finish_reason: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_ms: float

    def as_dict(self) -> dict[str, Any]:
        """A plain dict of the fields. GIVEN."""
        return dict(vars(self))


_ANSWER = re.compile(r"^\s*answer\s*:\s*(-?\d+)\s*$", re.I | re.M)
_CONFIDENCE = re.compile(r"^\s*confidence\s*:\s*([01](?:\.\d+)?)\s*$", re.I | re.M)


def parse_answer(text: str) -> tuple[int | None, float]:
    """``(answer, confidence)`` from a reply's ``Answer: <int>`` and ``Confidence: <x>`` lines;
    ``None`` / ``0.0`` for a line that is missing. GIVEN."""
    answer = _ANSWER.search(text)
    confidence = _CONFIDENCE.search(text)
    return (
        int(answer.group(1)) if answer else None,
        float(confidence.group(1)) if confidence else 0.0,
    )


def traced_chat(
    client: OpenAI, tracer: trace.Tracer, model: str, messages: list[dict[str, Any]]
) -> CallResult:
    """Send one chat completion inside a ``chat {model}`` span (kind CLIENT) and price it.

    The span carries ``gen_ai.operation.name`` = ``chat``, ``gen_ai.provider.name`` = ``openai``,
    ``gen_ai.request.model``, and from the response ``gen_ai.response.model``,
    ``gen_ai.response.id``, ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``,
    ``gen_ai.usage.cache_read.input_tokens`` (``prompt_tokens_details.cached_tokens``, 0 when
    absent), ``gen_ai.response.finish_reasons`` (a list) and ``app.cost_usd``. An exception from
    the SDK marks the span ERROR with ``error.type`` and propagates.

    Returns:
        A CallResult; ``latency_ms`` is the wall time of the request.
    """
    raise NotImplementedError("not implemented yet — see task 1")
