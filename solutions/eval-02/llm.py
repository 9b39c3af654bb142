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
    with tracer.start_as_current_span(f"chat {model}", kind=trace.SpanKind.CLIENT) as span:
        span.set_attribute(GenAI.GEN_AI_OPERATION_NAME, "chat")
        span.set_attribute(GenAI.GEN_AI_PROVIDER_NAME, "openai")
        span.set_attribute(GenAI.GEN_AI_REQUEST_MODEL, model)
        started = time.perf_counter()
        try:
            response = client.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
        except Exception as exc:
            span.set_attribute("error.type", type(exc).__name__)
            raise
        latency_ms = (time.perf_counter() - started) * 1000
        usage = response.usage
        details = usage.prompt_tokens_details if usage is not None else None
        tokens = Usage(
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            (details.cached_tokens or 0) if details is not None else 0,
        )
        cost = cost_usd(model, tokens)
        choice = response.choices[0]
        span.set_attribute(GenAI.GEN_AI_RESPONSE_MODEL, response.model)
        span.set_attribute(GenAI.GEN_AI_RESPONSE_ID, response.id)
        span.set_attribute(GenAI.GEN_AI_USAGE_INPUT_TOKENS, tokens.input_tokens)
        span.set_attribute(GenAI.GEN_AI_USAGE_OUTPUT_TOKENS, tokens.output_tokens)
        span.set_attribute(GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, tokens.cached_tokens)
        span.set_attribute(GenAI.GEN_AI_RESPONSE_FINISH_REASONS, [choice.finish_reason])
        span.set_attribute(COST_USD, cost)
        return CallResult(
            model=response.model,
            text=choice.message.content or "",
            finish_reason=choice.finish_reason,
            input_tokens=tokens.input_tokens,
            output_tokens=tokens.output_tokens,
            cached_tokens=tokens.cached_tokens,
            cost_usd=cost,
            latency_ms=latency_ms,
        )
