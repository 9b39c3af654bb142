"""The span recipes: an OpenTelemetry exporter built in the worker, spans read back as dicts, and
a grader span that learner spans take as their parent."""

from __future__ import annotations

from typing import Any

import pytest
from grader_fixtures import worker_fixtures

from labkit.grading.learner import Learner
from labkit.grading.recipes import make
from labkit.grading.remote import Remote

CODE = """
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

def provider(exporters):
    p = TracerProvider()
    for exporter in exporters:
        p.add_span_processor(SimpleSpanProcessor(exporter))
    return p

def work(tracer, name):
    with tracer.start_as_current_span(name) as span:
        span.set_attribute("pair", (1, 2))
        return format(span.get_span_context().trace_id, "032x")
"""


learner, mod = worker_fixtures({"spanny.py": CODE}, "spanny", timeout=20)


def test_spans_come_back_as_dicts_under_the_grader_span(learner: Learner, mod: Any) -> None:
    recorder = learner.new(make.span_recorder())
    provider = learner.new(make.tracer_provider(recorder))
    assert isinstance(recorder, Remote)
    assert isinstance(provider, Remote)
    tracer = provider.get_tracer("grader")
    recorder.open_span(tracer, "grader parent", {"grader.n": 7})
    trace_id = mod.work(tracer, "learner child")
    recorder.close_span()
    spans = recorder.span_dicts()
    assert [s["name"] for s in spans] == ["learner child", "grader parent"]
    child, parent = spans
    assert type(child) is dict
    assert type(child["attributes"]) is dict
    assert child["attributes"] == {"pair": [1, 2]}
    assert parent["attributes"] == {"grader.n": 7}
    assert parent["parent_span_id"] is None
    assert child["parent_span_id"] == parent["span_id"]
    assert child["trace_id"] == parent["trace_id"] == trace_id
    assert parent["start_ns"] <= child["start_ns"] <= child["end_ns"] <= parent["end_ns"]
    assert (child["kind"], child["status"]) == ("INTERNAL", "UNSET")
    with pytest.raises(RuntimeError, match="without an open span"):
        recorder.close_span()


def test_a_learner_provider_takes_the_recorder(learner: Learner, mod: Any) -> None:
    recorder = learner.new(make.span_recorder())
    provider = mod.provider([recorder])  # the worker gets the recorder itself, in a list
    mod.work(provider.get_tracer("grader"), "alone")
    spans = recorder.span_dicts()
    assert [(s["name"], s["parent_span_id"]) for s in spans] == [("alone", None)]
