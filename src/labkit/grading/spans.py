"""OpenTelemetry spans for graders: recorded in the worker, read back by the judge as plain dicts.

Spans are made where learner code runs (the worker), and an OpenTelemetry exporter is a live
object that cannot cross the boundary. So a test builds the exporter there from a recipe,
``recorder = learner.new(learner.make.span_recorder())``, attaches it to a tracer provider (the
learner's own, ``telemetry.make_tracer_provider(path, exporters=[recorder])``, or a plain SDK one,
``learner.new(learner.make.tracer_provider(recorder))``), hands the provider's tracer to learner
functions as a handle, and reads the finished spans with ``recorder.span_dicts()``: a list of
dicts, so nothing of the SDK ever comes back to the judge.

A test that wants learner calls to run under a span of its own (to check that the learner's span
takes the current span as its parent) opens one with ``recorder.open_span(tracer, name, attrs)``
and closes it with ``recorder.close_span()``: the worker serves one request at a time on one
thread, so the span stays current for the learner calls made in between.

Only the worker builds :class:`SpanRecorder` (through the recipes in ``recipes.py``); what it
returns is data, computed next to learner code, so a test compares it with what the judge knows
independently (the fake provider's record of the calls it served, the names it chose).
"""

from __future__ import annotations

from contextvars import Token
from typing import Any

from opentelemetry import context, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def span_dict(span: ReadableSpan) -> dict[str, Any]:
    """One finished span as data: ids as lowercase hex (32 digits for the trace, 16 for spans,
    ``parent_span_id`` None for a root), times in ns, ``kind``/``status`` as enum names and the
    attributes as a plain dict (tuples as lists, as JSON would write them)."""
    ctx = span.get_span_context()
    start, end = span.start_time or 0, span.end_time or 0
    return {
        "name": span.name,
        "trace_id": format(ctx.trace_id, "032x") if ctx is not None else None,
        "span_id": format(ctx.span_id, "016x") if ctx is not None else None,
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "start_ns": start,
        "end_ns": end,
        "duration_ms": (end - start) / 1e6,
        "kind": span.kind.name,
        "status": span.status.status_code.name,
        "attributes": {
            str(k): list(v) if isinstance(v, tuple) else v
            for k, v in (span.attributes or {}).items()
        },
    }


class SpanRecorder(InMemorySpanExporter):
    """An in-memory span exporter living in the worker, whose spans the judge reads as dicts."""

    def __init__(self) -> None:
        super().__init__()
        self._open: list[tuple[trace.Span, Token[context.Context]]] = []

    def span_dicts(self) -> list[dict[str, Any]]:
        """The finished spans, in the order they ended, as :func:`span_dict` data."""
        return [span_dict(s) for s in self.get_finished_spans()]

    def open_span(
        self, tracer: trace.Tracer, name: str, attributes: dict[str, Any] | None = None
    ) -> None:
        """Start a span called ``name`` with ``tracer`` and make it the current span, so spans
        the learner's code starts next are its children (until :meth:`close_span`)."""
        span = tracer.start_span(name, attributes=attributes or None)
        token = context.attach(trace.set_span_in_context(span))
        self._open.append((span, token))

    def close_span(self) -> None:
        """End the span :meth:`open_span` opened last and restore the context before it."""
        if not self._open:
            raise RuntimeError("close_span() without an open span")
        span, token = self._open.pop()
        context.detach(token)
        span.end()
