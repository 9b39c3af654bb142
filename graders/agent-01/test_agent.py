"""agent-01, tasks 5-8: the ReAct loop on the wire, every classic failure, the native agent and
the comparison.

The fake provider plays the model: by default a well-behaved ReAct model that follows each task's
plan; a test makes it misbehave with ONE knob (``fake_llm.on(ReactModel(<knob>).respond)``). The
agent gets the TEST's tools (plain functions that record every call), so these tests do not depend
on tasks 1-3; the answers are checked against the task set, and what went over the wire is read
from the fake's journal. Tasks are drawn from the dev split with ``lab_seed``.

Learner code runs in the worker process: the SDK client is a recipe built there
(``make.client``), the test's tools stay here and are called back (a tool that raises raises in
the learner's loop), the learner's own tools (6.1) stay in the worker as handles, and the learner's
dataclasses (Trace, StepRecord, Summary) arrive as Records, read with ``fields(...)``.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import pytest
import support  # this grader's shared helpers (graders/agent-01/support.py, on sys.path)

from labkit import config
from labkit.datasets import AgentTask, answer_matches, load_agent_tasks, load_documents
from labkit.fakellm import reply
from labkit.fakellm.react import ENDLESS, MISBEHAVIOURS, UNKNOWN_TOOL, ReactModel
from labkit.grading import Record, assert_same, lab_test, make, toolkit
from labkit.grading.toolkit import sdk_bodies, sdk_requests, turns

TOOL_NAMES = ["calculator", "search_docs", "sql"]
# Loaded at collection (grader files are deleted before learner code runs); the fake's own
# lookups share this cache.
DEV = load_agent_tasks(split="dev")
DOCS = {d.id: d.text for d in load_documents()}


# --------------------------------------------------------------------------- the test's tools


class Tools:
    """The agent's tools, written by the test: what a correct tool returns, and a log of calls."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.calls: list[tuple[str, str]] = []

    def mapping(self) -> dict[str, Any]:
        return {name: (lambda value, name=name: self.run(name, value)) for name in TOOL_NAMES}

    def run(self, name: str, value: str) -> str:
        self.calls.append((name, value))
        return getattr(self, name)(value)

    def calculator(self, expression: str) -> str:
        try:
            return support.number_text(support.arithmetic(expression))
        except (SyntaxError, ValueError, ZeroDivisionError):
            return "Error: not an arithmetic expression"

    def sql(self, query: str) -> str:
        conn = sqlite3.connect(f"{self.db.as_uri()}?mode=ro", uri=True)
        try:
            cursor = conn.execute(query)
            names = [d[0] for d in cursor.description or ()]
            rows = cursor.fetchmany(21)
        except sqlite3.Error as exc:
            return f"Error: {exc}"
        finally:
            conn.close()
        return json.dumps(
            {
                "rows": [dict(zip(names, r, strict=True)) for r in rows[:20]],
                "truncated": len(rows) > 20,
            }
        )

    def search_docs(self, query: str) -> str:
        """The passage holding the fact a task's search step looks for (an ideal retriever)."""
        for task in load_agent_tasks():
            for step in task.steps:
                if step.tool == "search_docs" and step.input == query:
                    for block in re.split(r"\n\s*\n", DOCS[step.doc or ""]):
                        if re.search(step.pattern or "", block):
                            return f"[1] ({step.doc}) {' '.join(block.split())}"
        return "No results."


shop_copy = toolkit.shop_copy  # the fixture: a private, writable copy of the shop database


@pytest.fixture
def tools(shop_copy: Path) -> Tools:
    return Tools(shop_copy)


# --------------------------------------------------------------------------- helpers


def run(learner, question: str, tools: Tools, *, sdk: str = "openai", **kwargs: Any):
    """run_agent with a client built in the worker (a recipe) and the test's tools, which the
    worker calls back here (so ``tools.calls`` sees every call)."""
    agent = learner.import_module("agent")
    client = make.client(sdk, max_retries=0)
    return agent.run_agent(client, question, tools.mapping(), model=config.chat_model(), **kwargs)


def run_native(learner, question: str, tools: Tools, **kwargs: Any):
    native = learner.import_module("native")
    client = make.client("openai", max_retries=0)
    return native.run_agent_native(
        client, question, tools.mapping(), model=config.chat_model(), **kwargs
    )


def fields(value: Any, what: str) -> dict[str, Any]:
    """A learner dataclass as a dict: it arrives as a Record (its fields as data)."""
    if isinstance(value, Record):
        return value.fields
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    pytest.fail(f"{what} must be a dataclass, got {value!r}")


def conversations(fake_llm, sdk: str = "openai") -> list[list[tuple[str, str]]]:
    """Each request's (role, text) turns after the system prompt, whatever the SDK."""
    return [turns(entry) for entry in sdk_requests(fake_llm, sdk)]


def plan_calls(task: AgentTask, tools: Tools) -> list[tuple[str, str]]:
    """The (tool, input) calls a correct run of ``task`` makes, with the test's tools."""
    from labkit.fakellm.react import read_value

    saved: dict[str, str] = {}
    calls: list[tuple[str, str]] = []
    for step in task.steps:
        value = step.input.format(**saved)
        calls.append((step.tool, value))
        saved[step.save] = (
            read_value(step.tool, getattr(tools, step.tool)(value), step.pattern, step.doc) or ""
        )
    return calls


def check_trace_shape(trace: Any, what: str) -> None:
    for name in ("question", "steps", "answer", "stop_reason"):
        if not hasattr(trace, name):
            pytest.fail(f"{what} must return a Trace with .{name}, got {trace!r}")


def kinds(trace: Any) -> list[str]:
    return [s.kind for s in trace.steps]


def check_kinds(
    trace: Any, actions: int, first: tuple[str, ...] = (), what: str = "the kinds of the steps"
) -> None:
    """The trace's step kinds: ``first`` (a bad turn's), then ``actions`` actions and a final."""
    assert_same(kinds(trace), [*first, *["action"] * actions, "final"], what)


def check_answer(trace: Any, task: AgentTask, what: str) -> None:
    check_trace_shape(trace, what)
    assert_same(trace.stop_reason, "answer", f"{what}: Trace.stop_reason")
    wrong = f"{what}: {task.question!r} should be answered with {task.answer}, got {trace.answer!r}"
    assert isinstance(trace.answer, str), wrong
    assert answer_matches(task.answer, trace.answer), wrong


def draw(lab_seed: int, n: int = 1, salt: int = 0) -> list[AgentTask]:
    return random.Random(lab_seed * 31 + salt).sample(DEV, n)


# --------------------------------------------------------------------------- task 5-6: the loop


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@lab_test(points=2, number="5.1")
def test_stop_and_observations_on_the_wire(learner, fake_llm, tools, lab_seed, sdk):
    (task,) = draw(lab_seed, salt=1)
    trace = run(learner, task.question, tools, sdk=sdk)
    sent = sdk_bodies(fake_llm, sdk)
    want_calls = plan_calls(task, tools)
    assert len(sent) == len(task.steps) + 1, (
        f"{task.question!r} takes {len(task.steps)} actions and a final answer: expected "
        f"{len(task.steps) + 1} model calls, saw {len(sent)}"
    )
    for n, body in enumerate(sent, 1):
        stops = body.get("stop") if sdk == "openai" else body.get("stop_sequences")
        stops = [stops] if isinstance(stops, str) else stops
        no_stop = (
            f"request {n} sent {'stop' if sdk == 'openai' else 'stop_sequences'}={stops!r}; it must "
            "include 'Observation:' so the model cannot write the observation itself"
        )
        assert isinstance(stops, list), no_stop
        assert "Observation:" in stops, no_stop
    talk = conversations(fake_llm, sdk)
    first = talk[0]
    no_question = f"the first request should carry the question as a user message, got {first[:1]}"
    assert first, no_question
    assert first[0][0] == "user", no_question
    assert task.question in first[0][1], no_question
    for n in range(1, len(sent)):
        before, after = talk[n - 1], talk[n]
        assert after[: len(before)] == before, (
            f"request {n + 1} must repeat the whole conversation of request {n}, then add to it"
        )
        added = after[len(before) :]
        assert [role for role, _ in added] == ["assistant", "user"], (
            f"request {n + 1} should add the model's reply (assistant) and the observation (user), "
            f"it added roles {[r for r, _ in added]}"
        )
        tool, value = want_calls[n - 1]
        not_the_reply = (
            "the assistant message should be the model's reply (with its Action), got "
            f"{added[0][1][:200]!r}"
        )
        assert "Action:" in added[0][1], not_the_reply
        assert value in added[0][1], not_the_reply
        observation = getattr(tools, tool)(value)
        assert_same(
            added[1][1], f"Observation: {observation}", f"the observation sent after step {n}"
        )
    assert_same(tools.calls, want_calls, "the tool calls the agent ran")
    check_answer(trace, task, "run_agent")


@lab_test(points=2, number="5.2")
def test_default_model_answers_tasks(learner, fake_llm, tools, lab_seed):
    for task in draw(lab_seed, 3, salt=2):
        tools.calls.clear()
        trace = run(learner, task.question, tools)
        check_answer(trace, task, "run_agent")
        assert_same(tools.calls, plan_calls(task, tools), f"{task.question!r}: the tool calls made")
        check_kinds(trace, len(task.steps))


@pytest.mark.parametrize("misbehaviour", [m for m in MISBEHAVIOURS if m not in ENDLESS])
@lab_test(points=1, number="5.3")
def test_survives_a_misbehaving_model(learner, fake_llm, tools, lab_seed, misbehaviour):
    (task,) = draw(lab_seed, salt=3)
    fake_llm.on(MISBEHAVIOURS[misbehaviour].respond)
    trace = run(learner, task.question, tools)
    sent = sdk_bodies(fake_llm)
    check_answer(trace, task, f"with a model that misbehaves ({misbehaviour})")
    plan = plan_calls(task, tools)
    if misbehaviour in ("bold", "fenced", "invented-observation"):
        assert_same(tools.calls, plan, "the tool calls the agent ran")
        check_kinds(trace, len(plan))
        return
    assert len(sent) == len(plan) + 2, f"expected {len(plan) + 2} model calls, saw {len(sent)}"
    feedback = conversations(fake_llm)[1][-1]
    no_feedback = (
        "the first turn's problem must go back as the next user message 'Observation: ...', "
        f"got {feedback}"
    )
    assert feedback[0] == "user", no_feedback
    assert feedback[1].startswith("Observation:"), no_feedback
    if misbehaviour == "wrong-tool":
        not_wrong_then_plan = (
            f"the wrong tool runs (and fails), then the plan: expected {plan} after it, got "
            f"{tools.calls}"
        )
        assert tools.calls[0][0] != plan[0][0], not_wrong_then_plan
        assert tools.calls[1:] == plan, not_wrong_then_plan
        assert "Error" in feedback[1], (
            f"the wrong tool's error should reach the model, got {feedback[1]!r}"
        )
        check_kinds(trace, len(plan) + 1)
        return
    assert_same(tools.calls, plan, "the tool calls the agent ran (a bad turn runs nothing)")
    missing = [name for name in TOOL_NAMES if name not in feedback[1]]
    assert not missing, (
        f"the observation must list the valid tools (missing {missing}): {feedback[1]!r}"
    )
    if misbehaviour == "unknown-tool":
        assert UNKNOWN_TOOL in feedback[1], (
            f"name the unknown tool {UNKNOWN_TOOL!r}: {feedback[1]!r}"
        )
    expected_kind = "unknown_tool" if misbehaviour == "unknown-tool" else "parse_error"
    check_kinds(trace, len(plan), first=(expected_kind,))


@lab_test(points=2, number="5.4")
def test_repeated_action_is_detected(learner, fake_llm, tools, lab_seed):
    (task,) = draw(lab_seed, salt=4)
    fake_llm.on(ReactModel(repeat_forever=True).respond)
    trace = run(learner, task.question, tools, max_steps=8)
    sent = sdk_bodies(fake_llm)
    assert len(sent) == 3, (
        f"the model repeats its first action forever: expected 3 model calls, saw {len(sent)}"
    )
    assert len(tools.calls) == 1, (
        f"a repeated action must not run again; the tool ran {len(tools.calls)} times"
    )
    check_trace_shape(trace, "run_agent")
    assert_same(trace.stop_reason, "loop", "Trace.stop_reason")
    assert_same(trace.answer, None, "Trace.answer")
    assert_same(kinds(trace), ["action", "repeat", "repeat"], "the kinds of the steps")
    talk = conversations(fake_llm)
    repeat_note = talk[2][-1][1]
    not_a_repeat_note = (
        f"the observation after a repeat should say it was a repeat, got {repeat_note!r}"
    )
    assert repeat_note.startswith("Observation:"), not_a_repeat_note
    assert repeat_note != talk[1][-1][1], not_a_repeat_note


@lab_test(points=2, number="5.5")
def test_step_cap_counted_on_the_wire(learner, fake_llm, tools, lab_seed):
    (task,) = draw(lab_seed, salt=5)
    fake_llm.on(ReactModel(never_finish=True).respond)
    cap = random.Random(lab_seed).randint(3, 6)
    trace = run(learner, task.question, tools, max_steps=cap)
    assert_same(len(sdk_bodies(fake_llm)), cap, f"model calls with max_steps={cap}")
    check_trace_shape(trace, "run_agent")
    assert_same(trace.stop_reason, "max_steps", "Trace.stop_reason")
    assert_same(trace.answer, None, "Trace.answer")
    assert_same(len(trace.steps), cap, "the number of steps in the trace")
    assert_same(len(tools.calls), cap - 1, "tool calls (the last action is not run)")
    fake_llm.journal.clear()
    run(learner, task.question, tools)
    assert_same(
        len(sdk_bodies(fake_llm)), 8, "model calls with the default max_steps (MAX_STEPS = 8)"
    )


@lab_test(points=2, number="5.6")
def test_trace_records_every_step(learner, fake_llm, tools, lab_seed):
    rng = random.Random(lab_seed)
    a, b = rng.randint(100, 999), rng.randint(2, 9)
    usage = [(rng.randint(200, 400), rng.randint(10, 40)) for _ in range(3)]
    fake_llm.script(
        reply.text("Thought: First the price.\nAction: sql\nAction Input: SELECT boom").with_usage(
            *usage[0]
        ),
        reply.text(
            f"Thought: Now compute.\nAction: calculator\nAction Input: {a} * {b}"
        ).with_usage(*usage[1]),
        reply.text(f"Thought: I now know the final answer.\nFinal Answer: {a * b}").with_usage(
            *usage[2]
        ),
    )
    mapping = tools.mapping()

    def broken_sql(query: str) -> str:
        raise RuntimeError("database is locked")

    mapping["sql"] = broken_sql
    agent = learner.import_module("agent")
    trace = agent.run_agent(
        make.client("openai", max_retries=0), "What is it?", mapping, model=config.chat_model()
    )
    check_trace_shape(trace, "run_agent")
    records = [fields(s, "each step of Trace.steps (a StepRecord)") for s in trace.steps]
    assert len(records) == 3, f"expected 3 steps, got {len(records)}"
    assert records[0]["observation"].startswith("Error"), (
        f"a tool that raises should give an 'Error: ...' observation with its message, got {records[0]['observation']!r}"
    )
    assert "database is locked" in records[0]["observation"], (
        f"a tool that raises should give an 'Error: ...' observation with its message, got {records[0]['observation']!r}"
    )
    got = [
        (
            r["step"],
            r["kind"],
            r["thought"],
            r["action"],
            r["input"],
            r["input_tokens"],
            r["output_tokens"],
        )
        for r in records
    ]
    assert_same(
        got,
        [
            (1, "action", "First the price.", "sql", "SELECT boom", *usage[0]),
            (2, "action", "Now compute.", "calculator", f"{a} * {b}", *usage[1]),
            (3, "final", "I now know the final answer.", None, None, *usage[2]),
        ],
        "the steps (step, kind, thought, action, input, input_tokens, output_tokens)",
    )
    assert_same(records[1]["observation"], str(a * b), "the calculator's observation")
    assert_same(records[2]["observation"], None, "a final answer's observation")
    assert all(type(r["ms"]) is float and r["ms"] >= 0 for r in records), "ms must be a float >= 0"
    assert_same(trace.answer, str(a * b), "Trace.answer")
    lines = [json.loads(line) for line in trace.to_jsonl().splitlines()]
    assert_same([line["type"] for line in lines], ["step", "step", "step", "end"], "the JSON lines")


@lab_test(points=2, number="6.1")
def test_agent_with_your_own_tools(learner, fake_llm, tools, lab_seed):
    own = learner.import_module("tools")
    agent = learner.import_module("agent")
    client = learner.new(make.client("openai", max_retries=0))  # one client, kept in the worker
    for task in draw(lab_seed, 2, salt=6):
        # YOUR tools stay in the worker: the mapping's functions come back as handles, and
        # passing them to run_agent hands the worker its own originals.
        trace = agent.run_agent(
            client, task.question, own.default_tools(str(tools.db)), model=config.chat_model()
        )
        check_answer(trace, task, "run_agent with your tools")
        check_kinds(trace, len(task.steps))


# --------------------------------------------------------------------------- task 7: native


@lab_test(points=2, number="7.1")
def test_native_agent_answers_tasks(learner, fake_llm, tools, lab_seed):
    for task in draw(lab_seed, 2, salt=7):
        tools.calls.clear()
        fake_llm.journal.clear()
        trace = run_native(learner, task.question, tools)
        check_answer(trace, task, "run_agent_native")
        plan = plan_calls(task, tools)
        assert_same(tools.calls, plan, f"{task.question!r}: the tool calls made")
        sent = sdk_bodies(fake_llm)
        assert len(sent) == len(plan) + 1, f"expected {len(plan) + 1} model calls, saw {len(sent)}"
        for body in sent:
            names = [t.get("function", {}).get("name") for t in body.get("tools") or []]
            assert_same(names, TOOL_NAMES, "the tools offered on every request")
        last = sent[1]["messages"]
        call = last[-2].get("tool_calls") or [{}]
        assert last[-1].get("role") == "tool", (
            "after a tool call, send the assistant turn back and one role 'tool' message with its id"
        )
        assert last[-1].get("tool_call_id") == call[0].get("id"), (
            "after a tool call, send the assistant turn back and one role 'tool' message with its id"
        )
        assert_same(
            last[-1].get("content"), getattr(tools, plan[0][0])(plan[0][1]), "the tool result sent"
        )
        check_kinds(trace, len(plan))


@lab_test(points=2, number="7.2")
def test_native_agent_survives_a_misbehaving_model(learner, fake_llm, tools, lab_seed):
    (task,) = draw(lab_seed, salt=8)
    plan = plan_calls(task, tools)
    for knob, kind in (("unknown_tool", "unknown_tool"), ("malformed_action", "parse_error")):
        tools.calls.clear()
        fake_llm.journal.clear()
        flags: dict[str, Any] = {knob: True}
        fake_llm.on(ReactModel(**flags).respond)
        trace = run_native(learner, task.question, tools)
        check_answer(trace, task, f"run_agent_native ({knob})")
        result = sdk_bodies(fake_llm)[1]["messages"][-1]
        no_error = (
            f"({knob}) the bad call must be answered with an 'Error: ...' tool result, got {result}"
        )
        assert result.get("role") == "tool", no_error
        assert str(result.get("content", "")).startswith("Error"), no_error
        missing = [n for n in TOOL_NAMES if n not in str(result.get("content"))]
        assert not missing, f"({knob}) the error must list the valid tools, missing {missing}"
        assert_same(tools.calls, plan, f"({knob}) the tool calls run")
        check_kinds(trace, len(plan), first=(kind,), what=f"({knob}) the kinds of the steps")
    fake_llm.journal.clear()
    fake_llm.on(ReactModel(repeat_forever=True).respond)
    trace = run_native(learner, task.question, tools)
    assert_same(
        (len(sdk_bodies(fake_llm)), trace.stop_reason),
        (3, "loop"),
        "(repeat) model calls, stop_reason",
    )
    fake_llm.journal.clear()
    fake_llm.on(ReactModel(never_finish=True).respond)
    trace = run_native(learner, task.question, tools, max_steps=4)
    assert_same(
        (len(sdk_bodies(fake_llm)), trace.stop_reason),
        (4, "max_steps"),
        "(never finishing) model calls, stop_reason",
    )


# --------------------------------------------------------------------------- task 8: comparison


@lab_test(points=2, number="8.1")
def test_summarise(learner, lab_seed):
    agent = learner.import_module("agent")
    native = learner.import_module("native")
    rng = random.Random(lab_seed)
    traces, expected = [], []
    want_failures: dict[str, int] = {}
    want_errors: dict[str, int] = {}
    steps_total = tokens_total = 0
    ms_total = 0.0
    for n in range(6):
        outcome = rng.choice(["right", "wrong_answer", "max_steps", "loop"])
        value = rng.randint(10, 999)
        step_kinds = rng.sample(
            ["action", "action", "parse_error", "unknown_tool", "repeat"], rng.randint(1, 4)
        )
        records = []
        for i, kind in enumerate(step_kinds, 1):
            tin, tout, ms = rng.randint(50, 500), rng.randint(5, 60), rng.randint(1, 900) / 8
            tool_error = kind == "action" and rng.random() < 0.5
            observation = "Error: no such table" if tool_error else "ok"
            records.append(agent.StepRecord(i, kind, "t", "sql", "q", observation, tin, tout, ms))
            steps_total += 1
            tokens_total += tin + tout
            ms_total += ms
            label = "tool_error" if tool_error else kind
            if label != "action":
                want_errors[label] = want_errors.get(label, 0) + 1
        answer = {"right": f"It is {value}.", "wrong_answer": f"It is {value + 1}."}.get(outcome)
        stop = "answer" if answer is not None else outcome
        traces.append(agent.Trace(f"q{n}", records, answer, stop))
        expected.append(str(value))
        if outcome != "right":
            want_failures[outcome] = want_failures.get(outcome, 0) + 1
    summary = native.summarise(traces, expected)
    successes = 6 - sum(want_failures.values())
    got = fields(summary, "summarise(...) (a Summary)")
    assert_same(
        {k: got.get(k) for k in ("tasks", "successes", "failures", "step_errors")},
        {
            "tasks": 6,
            "successes": successes,
            "failures": dict(sorted(want_failures.items())),
            "step_errors": dict(sorted(want_errors.items())),
        },
        "summarise(...)",
    )
    assert_same(
        [
            got.get("success_rate"),
            got.get("mean_steps"),
            got.get("mean_tokens"),
            got.get("mean_ms"),
        ],
        [successes / 6, steps_total / 6, tokens_total / 6, ms_total / 6],
        "summarise(...) success_rate, mean_steps, mean_tokens, mean_ms",
        rel_tol=1e-9,
    )
