"""eval-02, task 1: spans with the GenAI attribute names, exported as JSON lines.

Spans are read back from an in-memory exporter the test attaches to the learner's own tracer
provider, and token counts are checked against what the fake fleet billed (its record of every
call it served), so every expected number comes from the provider, not from learner code.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)

from labkit.fakellm.types import HttpError, Reply
from labkit.grading import assert_same, lab_test


@lab_test(points=2, number="1.1")
def test_spans_are_exported_as_json_lines(learner: Any, private_dir: Path, lab_seed: int) -> None:
    """Finished spans become JSON lines, one per span."""
    path = private_dir / "spans.jsonl"
    rng = random.Random(lab_seed)
    names = [f"step-{rng.randint(100, 999)}" for _ in range(3)]
    made: dict[str, dict[str, Any]] = {
        "root": {"grader.numbers": [rng.randint(1, 9), rng.randint(1, 9)]}
    }
    made.update({name: {"grader.value": rng.random()} for name in names})
    with support.tracing(learner, path, learners=True) as t:
        with t.span("root", {"grader.numbers": tuple(made["root"]["grader.numbers"])}):
            for name in names:
                with t.span(name, made[name]):
                    pass
        service_name = t.provider.resource.attributes.get("service.name")
    expected = t.spans()
    # The grader's own record of the spans it made (read in the worker) must hold them all.
    assert_same(
        {s["name"]: s["attributes"] for s in expected},
        made,
        "the spans the test made, as its in-memory exporter received them",
        rel_tol=1e-9,
    )
    assert path.exists(), f"make_tracer_provider({str(path)!r}, ...) should write spans there"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    assert_same(len(lines), len(expected), "number of JSON lines (one per finished span)")
    for got, want in zip(lines, expected, strict=True):
        assert_same(got, want, f"the JSON line of span {want['name']!r}", rel_tol=1e-9)
    assert_same(service_name, "eval-02-calculator", "resource service.name")


def _traced_call(learner: Any, fake_llm: Any, seed: int, model: str, question: str) -> Any:
    llm = learner.import_module("llm")
    service = learner.import_module("service")
    fleet = support.add_fleet(fake_llm, seed)
    messages = service.build_messages(service.SYSTEM_PROMPT, [], question)
    client = support.openai_client(learner)
    with support.tracing(learner) as t:
        with t.span("grader parent"):
            first = llm.traced_chat(client, t.tracer, model, messages)
            second = llm.traced_chat(client, t.tracer, model, messages)
    return fleet, [first, second], t.spans()


@lab_test(points=3, number="1.2")
def test_model_calls_have_genai_spans(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """Every model call is a GenAI span whose tokens match the provider's bill."""
    rng = random.Random(lab_seed + 1)
    model = rng.choice(["fleet-small", "fleet-medium", "fleet-large"])
    question = rng.choice(support.ORIGINALS)["question"]
    fleet, results, spans = _traced_call(learner, fake_llm, lab_seed, model, question)
    chats = [s for s in spans if s["name"].startswith("chat")]
    parent = next((s for s in spans if s["name"] == "grader parent"), None)
    assert_same(len(chats), 2, "number of 'chat ...' spans for two traced_chat calls")
    assert parent is not None
    for i, (span, served, result) in enumerate(zip(chats, fleet.served, results, strict=True)):
        what = f"call {i + 1}"
        attrs = span["attributes"]
        assert_same(span["name"], f"chat {model}", f"{what}: span name")
        assert_same(span["kind"], "CLIENT", f"{what}: span kind")
        assert_same(span["parent_span_id"], parent["span_id"], f"{what}: parent (the current span)")
        expected_cost = support.expected_cost(
            model, served.prompt_tokens, served.cached_tokens, served.completion_tokens
        )
        want = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
            "gen_ai.response.model": model,
            "gen_ai.usage.input_tokens": served.prompt_tokens,
            "gen_ai.usage.output_tokens": served.completion_tokens,
            "gen_ai.usage.cache_read.input_tokens": served.cached_tokens,
            "gen_ai.response.finish_reasons": ["stop"],
            "app.cost_usd": expected_cost,
        }
        got = {k: attrs.get(k) for k in want}
        assert_same(got, want, f"{what}: span attributes", rel_tol=1e-9)
        assert_same(
            (result.input_tokens, result.output_tokens, result.cached_tokens),
            (served.prompt_tokens, served.completion_tokens, served.cached_tokens),
            f"{what}: CallResult (input, output, cached) tokens",
        )
        assert_same(result.text, served.outcome.text, f"{what}: CallResult.text")
        assert_same(result.cost_usd, expected_cost, f"{what}: CallResult.cost_usd", rel_tol=1e-9)
    assert fleet.served[1].cached_tokens > 0, "the second call should reuse the cached prefix"


@lab_test(points=1, number="1.3")
def test_failed_call_marks_the_span(learner: Any, fake_llm: Any) -> None:
    """A failed model call leaves an ERROR span."""
    import openai

    llm = learner.import_module("llm")
    fake_llm.script(_error_reply())
    with support.tracing(learner) as t:
        with pytest.raises(openai.BadRequestError):
            llm.traced_chat(
                support.openai_client(learner),
                t.tracer,
                "fleet-small",
                [{"role": "user", "content": "x"}],
            )
    spans = t.spans()
    assert_same(len(spans), 1, "number of spans after one failed call")
    assert_same(spans[0]["status"], "ERROR", "status of the failed call's span")
    assert_same(spans[0]["attributes"].get("error.type"), "BadRequestError", "error.type attribute")


def _error_reply() -> Reply:
    return Reply(error=HttpError(400, "bad request from the grader"))


@lab_test(points=2, number="1.4")
def test_tool_calls_are_traced(learner: Any, lab_seed: int) -> None:
    """Tool calls are execute_tool spans."""
    telemetry = learner.import_module("telemetry")
    rng = random.Random(lab_seed + 3)
    a, b, c = (rng.randint(2, 60) for _ in range(3))
    expression = f"({a} + {b}) * {c}"
    call_id = f"call_{rng.randint(1000, 9999)}"
    with support.tracing(learner) as t:
        result = telemetry.traced_tool(t.tracer, "calculator", {"expression": expression}, call_id)
        with pytest.raises(ValueError):
            telemetry.traced_tool(t.tracer, "calculator", {"expression": "two and two"})
    assert_same(result, (a + b) * c, f"traced_tool calculator {expression!r}")
    ok, failed = t.spans()
    want = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "calculator",
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.call.arguments": json.dumps({"expression": expression}),
        "gen_ai.tool.call.result": json.dumps((a + b) * c),
    }
    assert_same(ok["name"], "execute_tool calculator", "tool span name")
    assert_same({k: ok["attributes"].get(k) for k in want}, want, "tool span attributes")
    assert_same(
        (failed["status"], failed["attributes"].get("error.type")),
        ("ERROR", "ValueError"),
        "the failing tool's span (status, error.type)",
    )
