"""The fake's ReAct model: when it applies, what it writes, and each misbehaviour knob."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from labkit.datasets import load_agent_tasks
from labkit.fakellm import default_behaviours
from labkit.fakellm.fleet import Fleet
from labkit.fakellm.react import (
    GAVE_UP,
    INVENTED_OBSERVATION,
    UNKNOWN_TOOL,
    ReactModel,
    is_react_prompt,
    react_tool_names,
)
from labkit.fakellm.types import ChatRequest, Message, ToolCall, ToolResult, ToolSpec

SYSTEM = (
    "Answer the question. You can use these tools:\n"
    "- calculator: arithmetic\n- search_docs: search\n- sql: one SELECT\n\n"
    "Thought: ...\nAction: the tool, one of [calculator, search_docs, sql]\nAction Input: ...\n"
    "Observation: ...\nFinal Answer: ..."
)
TASK = next(
    t for t in load_agent_tasks(split="dev") if t.steps[0].tool == "sql" and len(t.steps) == 2
)


def text_request(*turns: str, system: str = SYSTEM) -> ChatRequest:
    """A ReAct conversation: question, then alternating assistant turns and observations."""
    messages = [Message("user", f"Question: {TASK.question}")]
    for i, turn in enumerate(turns):
        messages.append(Message("assistant" if i % 2 == 0 else "user", turn))
    return ChatRequest(api="openai", endpoint="chat", model="m", system=system, messages=messages)


def observe(step_input: str) -> str:
    """What the reference sql tool returns for the task's first step."""
    import sqlite3

    from labkit.datasets.paths import datasets_dir

    conn = sqlite3.connect(datasets_dir() / "shop" / "shop.sqlite")
    cursor = conn.execute(step_input)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    conn.close()
    return json.dumps({"rows": rows, "truncated": False})


def test_recognises_a_react_prompt_and_its_tools() -> None:
    assert is_react_prompt(SYSTEM)
    assert not is_react_prompt("You are a helpful assistant.")
    assert react_tool_names(SYSTEM) == ["calculator", "search_docs", "sql"]
    assert react_tool_names("Tools:\n- `lookup`: x\n- math (expr): y\n") == ["lookup", "math"]
    assert ReactModel().respond(text_request(system="You are Ada.")) is None


def test_follows_the_plan_and_reads_observations() -> None:
    model = ReactModel()
    first = model.respond(text_request())
    assert first is not None
    assert first.text == (
        f"Thought: {TASK.steps[0].thought}\nAction: sql\nAction Input: {TASK.steps[0].input}"
    )
    observation = observe(TASK.steps[0].input)
    second = model.respond(text_request(first.text, f"Observation: {observation}"))
    assert second is not None
    assert "Action: calculator" in (second.text or "")
    calc_input = (second.text or "").split("Action Input: ")[1]
    final = model.respond(
        text_request(first.text, observation, second.text or "", "Observation: 12345")
    )
    assert final is not None
    assert (final.text or "").splitlines()[-1].startswith("Final Answer: ")
    assert "12345" in (final.text or "")
    assert calc_input
    broken = model.respond(text_request(first.text, "Observation: Error: no such table"))
    assert broken is not None
    assert GAVE_UP in (broken.text or "")
    assert model.respond(text_request()) == first  # deterministic


@pytest.mark.parametrize(
    ("knobs", "check"),
    [
        ({"format": "bold"}, lambda t: t.startswith("**Thought:**") and "**Action:** sql" in t),
        ({"format": "fenced"}, lambda t: t.startswith("```text\n") and t.endswith("```")),
        (
            {"hallucinate_observation": True},
            lambda t: f"Observation: {INVENTED_OBSERVATION}" in t and "Final Answer:" in t,
        ),
        ({"unknown_tool": True}, lambda t: f"Action: {UNKNOWN_TOOL}" in t),
        ({"malformed_action": True}, lambda t: "Action Input:" in t and "\nAction:" not in t),
        ({"wrong_tool": True}, lambda t: "Action: calculator" in t and "SELECT" in t),
        ({"never_finish": True}, lambda t: "Action: search_docs" in t and "(attempt 1)" in t),
    ],
)
def test_each_knob_changes_the_first_turn(knobs: dict[str, Any], check) -> None:
    got = ReactModel(**knobs).respond(text_request())
    assert got is not None, got
    assert check(got.text or ""), got


def test_recovering_knobs_follow_the_plan_from_the_second_turn() -> None:
    plain = ReactModel().respond(text_request())
    for knob in ("unknown_tool", "malformed_action", "wrong_tool"):
        flags: dict[str, Any] = {knob: True}
        model = ReactModel(**flags)
        first = model.respond(text_request())
        assert first is not None
        second = model.respond(text_request(first.text or "", "Observation: Error: nope"))
        assert second == plain, knob


def test_repeat_forever_and_never_finish_ignore_observations() -> None:
    repeat = ReactModel(repeat_forever=True)
    first = repeat.respond(text_request())
    assert first is not None
    assert (
        repeat.respond(
            text_request(first.text or "", "Observation: 1", first.text or "", "Observation: 1")
        )
        == first
    )
    endless = ReactModel(never_finish=True)
    later = endless.respond(text_request("a", "Observation: b", "c", "Observation: d"))
    assert later is not None
    assert "(attempt 3)" in (later.text or "")


def test_native_tool_calls_for_task_questions_only() -> None:
    tools = [
        ToolSpec(n, "", {"type": "object", "properties": {"input": {"type": "string"}}})
        for n in ("calculator", "search_docs", "sql")
    ]
    request = ChatRequest(
        api="openai",
        endpoint="chat",
        model="m",
        tools=tools,
        messages=[Message("user", TASK.question)],
    )
    reply = ReactModel().respond(request)
    assert reply is not None
    assert reply.tool_calls == (ToolCall("sql", json.dumps({"input": TASK.steps[0].input})),)
    request.messages += [
        Message("assistant", tool_calls=(ToolCall("sql", "{}", "c1"),)),
        Message("tool", tool_results=(ToolResult("c1", observe(TASK.steps[0].input)),)),
    ]
    nxt = ReactModel().respond(request)
    assert nxt is not None
    assert nxt.tool_calls
    assert nxt.tool_calls[0].name == "calculator"
    other = ChatRequest(
        api="openai",
        endpoint="chat",
        model="m",
        tools=tools,
        messages=[Message("user", "Show customer C-1002.")],
    )
    assert ReactModel().respond(other) is None  # left to ToolPolicy
    bad = ReactModel(malformed_action=True).respond(
        ChatRequest(
            api="openai",
            endpoint="chat",
            model="m",
            tools=tools,
            messages=[Message("user", TASK.question)],
        )
    )
    assert bad is not None
    assert bad.tool_calls[0].parsed_arguments() is None


def test_in_the_default_chain_and_cut_at_stop_on_the_wire(oai: openai.OpenAI, fake_llm) -> None:
    # First after the fleet (which only answers fleet model ids, eval-02): ahead of every general
    # behaviour that could answer a ReAct prompt.
    chain = [b for b in default_behaviours() if not isinstance(b, Fleet)]
    assert isinstance(chain[0], ReactModel), chain
    fake_llm.on(ReactModel(hallucinate_observation=True).respond)
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TASK.question}]
    cut = oai.chat.completions.create(model="m", messages=messages, stop=["Observation:"])  # type: ignore[arg-type]
    whole = oai.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert "Observation:" not in (cut.choices[0].message.content or "")
    assert cut.choices[0].message.content.rstrip().endswith(TASK.steps[0].input)  # type: ignore[union-attr]
    assert f"Final Answer: {INVENTED_OBSERVATION}" in (whole.choices[0].message.content or "")
