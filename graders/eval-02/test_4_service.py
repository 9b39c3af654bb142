"""eval-02, task 4: the service — one trace per request, a cache that keeps repeats off the
wire, and a router whose decisions follow the seeded difficulty and the cheap model's replies.

A seeded stream of requests from datasets/llmops (a quarter of them repeats typed differently)
goes through the learner's handle_request against the fake fleet. Expected routes come from the
request set's difficulty and from what the fleet actually answered (its record of served calls).
"""

from __future__ import annotations

import random
from typing import Any

import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)

from labkit.fakellm.fleet import difficulty
from labkit.grading import assert_same, lab_test

DIFFICULTY = {support.normal(r["question"]): r["difficulty"] for r in support.ROWS}
N_REQUESTS = 16


@lab_test(points=2, number="4.1")
def test_classify_matches_the_difficulty(learner: Any, lab_seed: int) -> None:
    """classify agrees with the request set's difficulty."""
    service = learner.import_module("service")
    rng = random.Random(lab_seed)
    rows = rng.sample(support.ROWS, 60)
    a, b, c = (rng.randint(2, 99) for _ in range(3))
    worded = [  # operators written as words count too
        f"What is {a} plus {b} times {c}?",
        f"What is {a} multiplied by {b} minus {c}?",
        f"Please compute {a} minus {b}.",
    ]
    rows += [{"question": q, "difficulty": difficulty(q)} for q in worded]
    got = [service.classify(r["question"]) for r in rows]
    wrong = [
        f"{r['question']!r}: {g!r} (expected {r['difficulty']!r})"
        for r, g in zip(rows, got, strict=True)
        if g != r["difficulty"]
    ]
    assert not wrong, f"{len(wrong)} of {len(rows)} questions misclassified, e.g. " + "; ".join(
        wrong[:3]
    )


@lab_test(points=2, number="4.2")
def test_when_to_escalate(learner: Any, lab_seed: int) -> None:
    """should_escalate on failures and low confidence."""
    service = learner.import_module("service")
    llm = learner.import_module("llm")
    rng = random.Random(lab_seed + 1)
    threshold = round(rng.uniform(0.55, 0.85), 2)
    n = rng.randint(10, 500)

    def result(text: str, finish: str = "stop") -> Any:
        return llm.CallResult("fleet-small", text, finish, 100, 10, 0, 0.0, 1.0)

    cases = [
        (f"Answer: {n}\nConfidence: {threshold + 0.1:.2f}", "stop", False),
        (f"Answer: {n}\nConfidence: {threshold:.2f}", "stop", False),
        (f"Answer: {n}\nConfidence: {threshold - 0.05:.2f}", "stop", True),
        (f"I am not sure.\nConfidence: {threshold + 0.1:.2f}", "stop", True),
        (f"Answer: {n}\nConfidence: {threshold + 0.1:.2f}", "length", True),
    ]
    for text, finish, want in cases:
        got = service.should_escalate(result(text, finish), threshold)
        assert_same(
            got, want, f"should_escalate(text={text!r}, finish={finish!r}, min={threshold})"
        )


def _run(learner: Any, fake_llm: Any, seed: int) -> dict[str, Any]:
    service = learner.import_module("service")
    caching = learner.import_module("caching")
    fleet = support.add_fleet(fake_llm, seed)
    min_conf = round(random.Random(seed + 7).uniform(0.6, 0.8), 2)
    config = service.ServiceConfig(min_confidence=min_conf)
    stream = support.request_stream(seed + 3, N_REQUESTS)
    cache = caching.ExactCache()
    client = support.openai_client(learner)
    with support.tracing(learner) as t:
        records = [
            service.handle_request(
                dict(r), client=client, tracer=t.tracer, cache=cache, config=config
            )
            for r in stream
        ]
    return {
        "fleet": fleet,
        "records": records,
        "spans": t.spans(),
        "stream": stream,
        "min_conf": min_conf,
        "wire": [e.body for e in fake_llm.journal.entries if e.route == support.CHAT],
    }


def _by_trace(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        out.setdefault(s["trace_id"], []).append(s)
    return out


@lab_test(points=3, number="4.3")
def test_one_trace_per_request(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """Every request has one trace with the right parents and children."""
    run = _run(learner, fake_llm, lab_seed)
    traces = _by_trace(run["spans"])
    assert_same(len(traces), N_REQUESTS, f"number of traces for {N_REQUESTS} requests")
    for request, record in zip(run["stream"], run["records"], strict=True):
        what = f"request {request['id']}"
        spans = traces.get(record["trace_id"])
        assert spans is not None, f"{what}: no spans with record['trace_id'] {record['trace_id']!r}"
        roots = [s for s in spans if s["parent_span_id"] is None]
        assert_same(
            [s["name"] for s in roots], ["invoke_workflow calculator"], f"{what}: root spans"
        )
        root = roots[0]
        attrs = root["attributes"]
        assert_same(
            {k: attrs.get(k) for k in ("gen_ai.operation.name", "app.request.id", "app.route")},
            {
                "gen_ai.operation.name": "invoke_workflow",
                "app.request.id": request["id"],
                "app.route": record["route"],
            },
            f"{what}: root span attributes",
        )
        assert_same(
            attrs.get("app.cost_usd"),
            record["cost_usd"],
            f"{what}: root app.cost_usd",
            rel_tol=1e-9,
        )
        children = sorted((s for s in spans if s is not root), key=lambda s: s["start_ns"])
        for child in children:
            assert_same(
                child["parent_span_id"], root["span_id"], f"{what}: parent of {child['name']!r}"
            )
            assert root["start_ns"] <= child["start_ns"] <= child["end_ns"] <= root["end_ns"], (
                f"{what}: span {child['name']!r} should lie inside the root span in time"
            )
        names = [c["name"] for c in children]
        if record["route"] == "cache":
            want = ["cache lookup"]
        else:
            want = ["cache lookup", "retrieval examples"] + [
                f"chat {c['model']}" for c in record["calls"]
            ]
        assert_same(names, want, f"{what} (route {record['route']}): child spans in start order")
        if record["route"] != "cache":
            retrieval = children[1]["attributes"]
            assert_same(
                retrieval.get("gen_ai.operation.name"),
                "retrieval",
                f"{what}: retrieval span operation",
            )


@lab_test(points=3, number="4.4")
def test_tokens_and_costs_match_the_provider(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """Token counts equal what the provider billed, request by request."""
    run = _run(learner, fake_llm, lab_seed)
    served = run["fleet"].served
    chats = sorted(
        (s for s in run["spans"] if s["name"].startswith("chat ")), key=lambda s: s["start_ns"]
    )
    assert_same(len(chats), len(served), "number of chat spans vs calls the provider served")
    for i, (span, call) in enumerate(zip(chats, served, strict=True)):
        a = span["attributes"]
        assert_same(
            (
                a.get("gen_ai.usage.input_tokens"),
                a.get("gen_ai.usage.output_tokens"),
                a.get("gen_ai.usage.cache_read.input_tokens"),
            ),
            (call.prompt_tokens, call.completion_tokens, call.cached_tokens),
            f"call {i + 1} ({call.model}): span (input, output, cache_read) tokens vs the provider's usage",
        )
    assert any(c.cached_tokens for c in served), (
        "the long system prompt should hit the prompt cache"
    )
    calls = iter(served)
    originals: dict[str, float] = {}
    for record in run["records"]:
        what = f"record {record['id']}"
        mine = [next(calls) for _ in record["calls"]]
        want_cost = 0.0 + sum(
            support.expected_cost(c.model, c.prompt_tokens, c.cached_tokens, c.completion_tokens)
            for c in mine
        )
        assert_same(
            (record["input_tokens"], record["output_tokens"], record["cached_tokens"]),
            (
                sum(c.prompt_tokens for c in mine),
                sum(c.completion_tokens for c in mine),
                sum(c.cached_tokens for c in mine),
            ),
            f"{what}: (input, output, cached) tokens summed over its calls",
        )
        assert_same(record["cost_usd"], want_cost, f"{what}: cost_usd", rel_tol=1e-9, abs_tol=1e-15)
        key = support.normal(record["question"])
        if record["route"] == "cache":
            assert_same(
                record["saved_usd"],
                originals.get(key),
                f"{what}: saved_usd (a cache hit)",
                rel_tol=1e-9,
            )
        else:
            originals.setdefault(key, want_cost)


@lab_test(points=3, number="4.5")
def test_routing_follows_difficulty_and_replies(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """Routing decisions match the seeded difficulty and the cheap model's replies."""
    run = _run(learner, fake_llm, lab_seed)
    served_list = run["fleet"].served
    pos = 0
    for record in run["records"]:
        n = len(record["calls"])
        calls = served_list[pos : pos + n]
        pos += n
        if record["route"] == "cache":
            continue
        level = DIFFICULTY[support.normal(record["question"])]
        if level == "hard":
            want = ["fleet-large"]
        else:
            cheap = calls[0].outcome if calls else None
            escalate = cheap is None or cheap.answer is None or cheap.confidence < run["min_conf"]
            want = ["fleet-small", "fleet-large"] if escalate else ["fleet-small"]
        route = {1: "strong" if level == "hard" else "cheap", 2: "escalated"}[len(want)]
        assert_same(
            ([c.model for c in calls], record["route"]),
            (want, route),
            f"request {record['id']} ({level}, min_confidence {run['min_conf']}): (models called, route)",
        )
        assert_same(
            record["answer"],
            calls[-1].outcome.answer,
            f"request {record['id']}: the answer returned",
        )


def _take(it: Any, n: int) -> list[Any]:
    return [next(it) for _ in range(n)]


@lab_test(points=3, number="4.6")
def test_cache_hits_never_reach_the_wire(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """A repeated request is served from the cache, with no request to the provider."""
    run = _run(learner, fake_llm, lab_seed)
    answered: set[str] = set()
    served = iter(run["fleet"].served)
    for request, record in zip(run["stream"], run["records"], strict=True):
        key = support.normal(request["question"])
        calls = _take(served, len(record["calls"])) if record["calls"] else []
        want_hit = key in answered
        assert_same(
            (record["route"] == "cache", record["cache"]),
            (want_hit, "exact" if want_hit else None),
            f"request {request['id']} {request['question']!r}: (served from cache?, cache)",
        )
        if calls and calls[-1].outcome.answer is not None:
            answered.add(key)
    questions = [support.normal(b["messages"][-1]["content"]) for b in run["wire"]]
    assert_same(len(run["wire"]), len(run["fleet"].served), "requests on the wire vs calls served")
    repeats = len(questions) - len(set(questions))
    escalations = sum(1 for r in run["records"] if r["route"] == "escalated")
    assert_same(repeats, escalations, "questions sent twice (only escalations may send one twice)")
