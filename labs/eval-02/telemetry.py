"""Tracing: a tracer provider that exports finished spans as JSON lines (and optionally OTLP).

A *trace* is one request's story; each *span* is one step of it (a model call, a retrieval, a tool
call) with a start, an end, a parent and attributes. OpenTelemetry is the open standard for them,
and its GenAI semantic conventions name the attributes every backend understands
(``gen_ai.usage.input_tokens``...). We write finished spans as plain JSON lines, one object per
span, so a report (or a grader) can read them without the SDK.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

SERVICE_NAME = "eval-02-calculator"

# Our own attributes (not in the GenAI conventions), under one prefix. GIVEN.
COST_USD = "app.cost_usd"
ROUTE = "app.route"
CACHE_HIT = "app.cache.hit"
REQUEST_ID = "app.request.id"


def calculator(expression: str) -> int:
    """A tool: evaluate an integer expression of + - * and parentheses. GIVEN."""
    from labkit.fakellm.fleet import evaluate

    value = evaluate(expression)
    if value is None:
        raise ValueError(f"not an expression of integers and + - *: {expression!r}")
    return value


# The tools a model may call, by name. GIVEN.
TOOLS: dict[str, Callable[..., Any]] = {"calculator": calculator}


def span_to_dict(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as a JSON-ready dict.

    Returns:
        ``{"name", "trace_id", "span_id", "parent_span_id", "start_ns", "end_ns", "duration_ms",
        "kind", "status", "attributes"}``: ids as lowercase hex (32 digits for the trace, 16 for
        spans, ``parent_span_id`` None for a root), ``kind`` and ``status`` as the enum names
        (``"CLIENT"``, ``"OK"``/``"ERROR"``/``"UNSET"``), attributes as a plain dict with tuples
        turned into lists.
    """
    raise NotImplementedError("not implemented yet — see task 1")


class JsonLinesExporter(SpanExporter):
    """Appends each finished span to a file as one JSON line (``span_to_dict``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Append one line per span, in the order given; SUCCESS when written."""
        raise NotImplementedError("not implemented yet — see task 1")

    def shutdown(self) -> None:
        """Nothing to release: the file is opened per batch. GIVEN."""


def make_tracer_provider(
    jsonl_path: str | Path | None = None,
    *,
    otlp_endpoint: str | None = None,
    exporters: Sequence[SpanExporter] = (),
) -> TracerProvider:
    """A tracer provider for this service (never the global one: callers pass it around).

    Args:
        jsonl_path: when given, every finished span is appended there as it ends
            (a ``SimpleSpanProcessor`` over a ``JsonLinesExporter``).
        otlp_endpoint: when given (e.g. ``http://localhost:4317``), spans are also batched to an
            OTLP collector (Jaeger, Phoenix, Langfuse...) with ``BatchSpanProcessor``.
        exporters: more exporters, each behind its own ``SimpleSpanProcessor`` (a test's
            ``InMemorySpanExporter``).

    Returns:
        A ``TracerProvider`` whose resource has ``service.name`` = ``SERVICE_NAME``.
    """
    raise NotImplementedError("not implemented yet — see task 1")


def traced_tool(
    tracer: trace.Tracer, name: str, arguments: Mapping[str, Any], call_id: str = ""
) -> Any:
    """Call ``TOOLS[name](**arguments)`` inside an ``execute_tool {name}`` span.

    The span (kind INTERNAL) carries ``gen_ai.operation.name`` = ``execute_tool``,
    ``gen_ai.tool.name``, ``gen_ai.tool.call.id`` (when given), the arguments as JSON
    (``gen_ai.tool.call.arguments``) and the result as JSON (``gen_ai.tool.call.result``). A tool
    that raises marks the span ERROR with ``error.type`` = the exception's class name, and the
    exception propagates.
    """
    raise NotImplementedError("not implemented yet — see task 1")
