"""agent-01, task 4: parse_step reads one model turn, whatever shape it comes in.

The turns are written here from ``lab_seed`` (tool, input, thought) in the shapes real models
produce; parse_step gets a plain string and its result is compared as plain data.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from labkit.grading import Remote, assert_same, lab_test

TOOLS = ["calculator", "search_docs", "sql"]


def as_data(step: Any) -> tuple[Any, ...]:
    """A parse_step result as plain data: (kind, fields...). The learner's dataclass arrives as a
    Record (a handle for any other object); its class name is ``type_name``."""
    kind = step.type_name if isinstance(step, Remote) else type(step).__name__
    if kind == "Action":
        return (kind, step.tool, step.input, step.thought)
    if kind == "FinalAnswer":
        return (kind, step.answer, step.thought)
    if kind == "ParseError":
        return (kind,)
    pytest.fail(f"parse_step must return an Action, FinalAnswer or ParseError, got {step!r}")


def check_step(step: Any, expected: tuple[Any, ...], what: str) -> None:
    """The kind first (a readable message when it differs), then every field, exact types."""
    got = as_data(step)
    if got[0] != expected[0]:
        fields = ", ".join(repr(v) for v in expected[1:])
        pytest.fail(f"{what}: returned {step!r}, expected {expected[0]}({fields})")
    assert_same(got, expected, f"{what}: (kind, fields...)")


def draw(rng: random.Random) -> tuple[str, str, str]:
    tool = rng.choice(TOOLS)
    value = {
        "calculator": f"{rng.randint(10, 999)} * {rng.randint(2, 30)}",
        "search_docs": rng.choice(["2024 lodging cap", "on-call stipend", "API v1 rate limit"]),
        "sql": f"SELECT price_cents FROM products WHERE sku = 'KIT-10{rng.randint(1, 5)}'",
    }[tool]
    thought = rng.choice(["I need the price first.", "Let me look that up.", "Compute it."])
    return tool, value, thought


def shapes(tool: str, value: str, thought: str) -> dict[str, str]:
    return {
        "plain": f"Thought: {thought}\nAction: {tool}\nAction Input: {value}",
        "bold": f"**Thought:** {thought}\n**Action:** {tool}\n**Action Input:** {value}",
        "bold outside the colon": f"**Thought**: {thought}\n**Action**: {tool}\n**Action Input**: {value}",
        "fenced": f"```\nThought: {thought}\nAction: {tool}\nAction Input: {value}\n```",
        "fenced with a language": f"```text\nThought: {thought}\nAction: {tool}\nAction Input: {value}\n```",
        "extra whitespace": f"\n  Thought:   {thought}  \n\nAction:    {tool}   \nAction Input:    {value}   \n\n",
        "trailing text": f"Thought: {thought}\nAction: {tool}\nAction Input: {value}\n\nI will wait for the result.",
        "backticks": f"Thought: {thought}\nAction: `{tool}`\nAction Input: `{value}`",
        "input on the next line": f"Thought: {thought}\nAction: {tool}\nAction Input:\n{value}",
    }


@lab_test(points=3, number="4.1")
def test_parse_step_tolerates_formatting(learner, lab_seed):
    agent = learner.import_module("agent")
    rng = random.Random(lab_seed)
    for _ in range(2):
        tool, value, thought = draw(rng)
        for shape, text in shapes(tool, value, thought).items():
            check_step(
                agent.parse_step(text),
                ("Action", tool, value, thought),
                f"parse_step of a {shape} turn {text!r}",
            )


@lab_test(points=3, number="4.2")
def test_parse_step_final_answers_invented_observations_and_garbage(learner, lab_seed):
    agent = learner.import_module("agent")
    rng = random.Random(lab_seed)
    tool, value, thought = draw(rng)
    answer = f"${rng.randint(100, 99999)} per year."
    invented = (
        f"Thought: {thought}\nAction: {tool}\nAction Input: {value}\n"
        f"Observation: 42\nThought: I now know the final answer.\nFinal Answer: 42"
    )
    check_step(
        agent.parse_step(invented),
        ("Action", tool, value, thought),
        "parse_step of a turn with an invented Observation (read up to 'Observation:' only)",
    )
    bold_invented = invented.replace("Observation:", "**Observation:**")
    check_step(
        agent.parse_step(bold_invented),
        ("Action", tool, value, thought),
        "parse_step of a turn with an invented **Observation:**",
    )
    final = f"Thought: I now know the final answer.\nFinal Answer: {answer}"
    check_step(
        agent.parse_step(final),
        ("FinalAnswer", answer, "I now know the final answer."),
        f"parse_step({final!r})",
    )
    check_step(
        agent.parse_step(f"**Final Answer:** {answer}\n"),
        ("FinalAnswer", answer, ""),
        "parse_step of a bold final answer",
    )
    for text in [
        "",
        "   ",
        f"I think the answer is {answer}",
        f"Thought: {thought}\nAction Input: {value}",
        f"Thought: {thought}\nAction: {tool}",
        "Action:\nAction Input: 5",
        "Final Answer:",
        "Observation: 42\nFinal Answer: 42",
        "```\n```",
    ]:
        got = agent.parse_step(text)
        check_step(got, ("ParseError",), f"parse_step({text!r})")
        no_message = f"parse_step({text!r}): a ParseError needs a message the model can read"
        assert isinstance(got.message, str), no_message
        assert got.message.strip(), no_message
