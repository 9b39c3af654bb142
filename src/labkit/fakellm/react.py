"""The fake provider plays a ReAct agent model — and, on request, misbehaves like a real one.

A ReAct model writes ``Thought:`` / ``Action:`` / ``Action Input:`` lines, waits for the client to
run the tool and send back ``Observation: ...``, and ends with ``Final Answer: ...``.
:class:`ReactModel` does that deterministically (same conversation, same reply):

**When it applies.** *Text ReAct*: the system prompt describes the format (it mentions
``Action:``, ``Action Input:``, ``Observation:`` and ``Final Answer:``) and no native tools are
offered. *Native tool calling*: tools are offered and the first user message is a question of the
agent task set (:mod:`labkit.datasets.agent_tasks`) whose plan only uses offered tools. Otherwise
it returns None and the rest of the chain answers.

**Which tools.** In text mode the tool names are read from the system prompt: a ``one of [a, b]``
list, else list items such as ``- calculator: ...``.

**What it does.** The question is the first user message (a ``Question:`` prefix is dropped). For
a task-set question it follows the task's plan: one action per turn, each input filled with values
read from the observations the client sent back (a ``search_docs`` step reads its pattern, a
``sql`` step the first cell of the first row of the JSON rows, a ``calculator`` step the result),
then ``Final Answer:`` from the task's template. An observation that starts with ``Error`` or lacks
the value ends the run with a final answer saying it could not find it. Any other question gets one
action — the calculator for an arithmetic expression, ``sql`` for an order/customer/product id,
else ``search_docs`` with the question — and a final answer quoting the observation.

The conversation is read back turn by turn: each assistant message is one of its turns (text, or a
tool call in native mode) and the message after it is that turn's observation (a user message,
``Observation:`` prefix optional, or the tool results).

**Misbehaving on purpose** (one knob each; tests install one with ``fake.on(ReactModel(...).respond)``):

- ``format="bold"`` / ``"fenced"``: labels as ``**Action:**``, or the turn inside a code fence.
- ``hallucinate_observation``: every action turn goes on with an invented ``Observation:``, a
  ``Thought:`` and a wrong ``Final Answer:`` (a client that sends ``stop=["Observation:"]`` never
  sees them: the fake cuts at stop sequences like a real API).
- ``unknown_tool``: the first turn calls ``web_search``, which was never offered; then it recovers.
- ``malformed_action``: the first turn has an ``Action Input:`` but no ``Action:`` line (native:
  arguments that are not valid JSON); then it recovers.
- ``wrong_tool``: the first turn sends the first step's input to another offered tool; then it
  recovers.
- ``repeat_forever``: every turn repeats the first action, whatever came back.
- ``never_finish``: every turn searches again with a new input; it never answers.

"Recovers" means: from its second turn on it follows the plan as if the first turn had not happened.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from labkit.fakellm import extract
from labkit.fakellm.types import ChatRequest, Message, Reply, ToolCall

__all__ = ["ENDLESS", "MISBEHAVIOURS", "ReactModel", "is_react_prompt", "react_tool_names"]

Format = Literal["plain", "bold", "fenced"]

_LABELS = ("action:", "action input:", "observation:", "final answer:")
_ONE_OF = re.compile(r"one of\s*\[([^\]\n]+)\]", re.IGNORECASE)
_TOOL_ITEM = re.compile(
    r"^\s*(?:[-*+]|\d+[.)])\s*`?([A-Za-z_][\w-]*)`?\s*(?:\([^)]*\))?\s*[:\-–—]", re.M
)
_QUESTION_PREFIX = re.compile(r"^\s*(?:\*\*)?question(?:\*\*)?\s*:\s*(?:\*\*)?\s*", re.IGNORECASE)
_OBSERVATION_PREFIX = re.compile(r"^\s*(?:\*\*)?observation(?:\*\*)?\s*:\s*(?:\*\*)?\s*", re.I)
_IDS = (
    (re.compile(r"\bO-\d{4}\b"), "SELECT * FROM orders WHERE order_id = '{}'"),
    (re.compile(r"\bC-\d{4}\b"), "SELECT * FROM customers WHERE customer_id = '{}'"),
    (re.compile(r"\b[A-Z]{3}-\d{3}\b"), "SELECT * FROM products WHERE sku = '{}'"),
)
INVENTED_OBSERVATION = "42"
UNKNOWN_TOOL = "web_search"
GAVE_UP = "I could not find the answer: an observation did not contain what I needed."


def is_react_prompt(system: str) -> bool:
    """Whether a system prompt asks for the ReAct text format."""
    lowered = system.lower().replace("*", "")
    return all(label in lowered for label in _LABELS)


def react_tool_names(system: str) -> list[str]:
    """The tool names a ReAct system prompt offers (``one of [...]``, else list items)."""
    m = _ONE_OF.search(system)
    if m:
        names = [n.strip().strip("`'\" ") for n in m.group(1).split(",")]
        return [n for n in names if n]
    seen: list[str] = []
    for name in _TOOL_ITEM.findall(system):
        if name not in seen and name.lower() not in ("thought", "action", "observation", "final"):
            seen.append(name)
    return seen


@dataclass(frozen=True)
class _Act:
    tool: str
    input: str
    thought: str


@dataclass(frozen=True)
class _Final:
    answer: str
    thought: str = "I now know the final answer."


@dataclass(frozen=True)
class ReactModel:
    """A deterministic ReAct agent model with one knob per classic failure (see module doc)."""

    format: Format = "plain"
    hallucinate_observation: bool = False
    unknown_tool: bool = False
    malformed_action: bool = False
    wrong_tool: bool = False
    repeat_forever: bool = False
    never_finish: bool = False

    blocking = False  # pure and fast: a lookup in a 50-task file and some regular expressions

    # -- entry point ---------------------------------------------------------------------------

    def respond(self, request: ChatRequest) -> Reply | None:
        """The next ReAct turn, or None when the request is not an agent conversation."""
        if request.response_format != "text" or request.forced_tool:
            return None
        if request.tools:
            if request.tool_choice == "none":
                return None
            return self._native(request)
        if not is_react_prompt(request.system):
            return None
        return self._text(request)

    # -- the two protocols ---------------------------------------------------------------------

    def _text(self, request: ChatRequest) -> Reply | None:
        question, rest = _split_question(request.messages)
        if question is None:
            return None
        turns, observations = _text_history(rest)
        tools = react_tool_names(request.system)
        move = self._decide(question, tools, len(turns), observations)
        if isinstance(move, str):  # a malformed turn, already written
            return Reply(text=move)
        return Reply(text=self._render(move))

    def _native(self, request: ChatRequest) -> Reply | None:
        from labkit.datasets.agent_tasks import find_agent_task

        question, rest = _split_question(request.messages)
        if question is None or (request.last_message and request.last_message.role == "assistant"):
            return None
        task = find_agent_task(question)
        offered = [t.name for t in request.tools]
        if task is None or not {s.tool for s in task.steps} <= set(offered):
            return None
        turns, observations = _native_history(rest)
        move = self._decide(question, offered, turns, observations)
        if isinstance(move, str):  # malformed: a call whose arguments are not JSON
            return Reply(tool_calls=(ToolCall(task.steps[0].tool, '{"input": "' + question),))
        if isinstance(move, _Final):
            return Reply(text=move.answer)
        spec = request.tool(move.tool)
        param = "input"
        if spec is not None:
            props = list((spec.parameters.get("properties") or {}).keys())
            param = props[0] if props else "input"
        return Reply(tool_calls=(ToolCall(move.tool, json.dumps({param: move.input})),))

    # -- the policy --------------------------------------------------------------------------

    def _decide(
        self, question: str, tools: Sequence[str], turn: int, observations: Sequence[str]
    ) -> _Act | _Final | str:
        """What to do at ``turn`` (0-based), given the observations of the earlier turns."""
        plan = _plan(question, tools)
        first = plan[0] if plan else _Act("search_docs", question, "I should search the documents.")
        if self.never_finish:
            tool = "search_docs" if "search_docs" in tools or not tools else tools[0]
            return _Act(tool, f"{question} (attempt {turn + 1})", "I should look a little further.")
        if self.repeat_forever:
            return first
        offset = 0
        if self.unknown_tool or self.malformed_action or self.wrong_tool:
            offset = 1
            if turn == 0:
                if self.unknown_tool:
                    return _Act(UNKNOWN_TOOL, question, "I will search the web.")
                if self.malformed_action:
                    return self._malformed(first)
                others = [t for t in tools if t != first.tool] or ["calculator"]
                return _Act(others[0], first.input, f"I will use {others[0]}.")
        return _follow(question, tools, turn - offset, observations[offset:])

    # -- writing a turn ------------------------------------------------------------------------

    def _label(self, name: str) -> str:
        return f"**{name}:**" if self.format == "bold" else f"{name}:"

    def _render(self, move: _Act | _Final) -> str:
        if isinstance(move, _Final):
            lines = [
                f"{self._label('Thought')} {move.thought}",
                f"{self._label('Final Answer')} {move.answer}",
            ]
        else:
            lines = [
                f"{self._label('Thought')} {move.thought}",
                f"{self._label('Action')} {move.tool}",
                f"{self._label('Action Input')} {move.input}",
            ]
        body = "\n".join(lines)
        if self.format == "fenced":
            body = f"```text\n{body}\n```"
        if isinstance(move, _Act) and self.hallucinate_observation:
            body += (
                f"\n{self._label('Observation')} {INVENTED_OBSERVATION}\n"
                f"{self._label('Thought')} I now know the final answer.\n"
                f"{self._label('Final Answer')} {INVENTED_OBSERVATION}"
            )
        return body

    def _malformed(self, first: _Act) -> str:
        return (
            f"{self._label('Thought')} {first.thought} I will look it up with the "
            f"{first.tool} tool.\n{self._label('Action Input')} {first.input}"
        )


# --------------------------------------------------------------------------- reading the history


#: One model per classic failure, by name, in the order the module doc lists them: what the
#: agent-01 grader and ``benchmarks/agents_bench.py`` put a learner's agent through.
MISBEHAVIOURS: dict[str, ReactModel] = {
    "bold": ReactModel(format="bold"),
    "fenced": ReactModel(format="fenced"),
    "invented-observation": ReactModel(hallucinate_observation=True),
    "unknown-tool": ReactModel(unknown_tool=True),
    "malformed-action": ReactModel(malformed_action=True),
    "wrong-tool": ReactModel(wrong_tool=True),
    "repeat-forever": ReactModel(repeat_forever=True),
    "never-finish": ReactModel(never_finish=True),
}
#: The two that never answer: only the agent's loop check or step cap ends them.
ENDLESS = ("repeat-forever", "never-finish")


def _split_question(messages: Sequence[Message]) -> tuple[str | None, list[Message]]:
    for i, message in enumerate(messages):
        if message.role == "user" and message.text.strip():
            return _QUESTION_PREFIX.sub("", message.text.strip(), count=1).strip(), list(
                messages[i + 1 :]
            )
    return None, []


def _text_history(messages: Sequence[Message]) -> tuple[list[str], list[str]]:
    """(assistant turns, observations): the observation of turn k is the user text after it."""
    turns: list[str] = []
    observations: list[str] = []
    for message in messages:
        if message.role == "assistant":
            turns.append(message.text)
        elif message.role == "user" and len(observations) < len(turns):
            observations.append(_OBSERVATION_PREFIX.sub("", message.text.strip(), count=1))
        elif message.role == "tool" and len(observations) < len(turns):
            observations.append("\n".join(r.content for r in message.tool_results))
    return turns, observations


def _native_history(messages: Sequence[Message]) -> tuple[int, list[str]]:
    """(number of tool-calling turns, the first tool result after each)."""
    turns = 0
    observations: list[str] = []
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            turns += 1
        elif message.tool_results and len(observations) < turns:
            observations.append(message.tool_results[0].content)
    return turns, observations


# --------------------------------------------------------------------------- plans


def _plan(question: str, tools: Sequence[str]) -> list[_Act]:
    """The first action(s) the model would take (inputs of later task steps need values)."""
    from labkit.datasets.agent_tasks import find_agent_task

    task = find_agent_task(question)
    if task is not None:
        step = task.steps[0]
        return [_Act(step.tool, step.input, step.thought)]
    return [_fallback_action(question, tools)]


def _fallback_action(question: str, tools: Sequence[str]) -> _Act:
    found = extract.expressions(question)
    if found and "calculator" in tools:
        return _Act("calculator", found[0].value, "This is arithmetic: I will use the calculator.")
    if "sql" in tools:
        for pattern, query in _IDS:
            m = pattern.search(question)
            if m:
                return _Act(
                    "sql", query.format(m.group(0)), "I will look this up in the shop database."
                )
    tool = "search_docs" if "search_docs" in tools or not tools else tools[0]
    return _Act(tool, question, "I will search the documentation.")


def _follow(
    question: str, tools: Sequence[str], turn: int, observations: Sequence[str]
) -> _Act | _Final:
    """Plan step ``turn`` (or the final answer) after the plan's earlier observations."""
    from labkit.datasets.agent_tasks import find_agent_task

    task = find_agent_task(question)
    if task is None:
        if turn <= 0:
            return _fallback_action(question, tools)
        observation = observations[0] if observations else ""
        return _Final(_quote(observation))
    saved: dict[str, str] = {}
    for k, step in enumerate(task.steps[: max(turn, 0)]):
        if k >= len(observations):
            break
        value = read_value(step.tool, observations[k], step.pattern, step.doc)
        if value is None:
            return _Final(GAVE_UP)
        saved[step.save] = value
    if turn < len(task.steps):
        step = task.steps[turn]
        try:
            text = step.input.format(**saved)
        except (KeyError, IndexError):
            return _Final(GAVE_UP)
        return _Act(step.tool, text, step.thought)
    try:
        return _Final(task.final.format(**saved))
    except (KeyError, IndexError):
        return _Final(GAVE_UP)


def _quote(observation: str) -> str:
    text = " ".join(observation.split())
    if not text:
        return "I could not find anything."
    return text if len(text) <= 300 else text[:297] + "..."


def read_value(
    tool: str, observation: str, pattern: str | None = None, doc: str | None = None
) -> str | None:
    """The value a plan step reads from its observation (None when it is not there).

    A search step reads its pattern from a result labelled with the step's document when one
    matches (a careful model notices which document it is quoting), else from the first match
    anywhere — so a near-duplicate (last year's price list) ranked above the right document
    misleads it only when the right one was not retrieved at all.
    """
    text = observation.strip()
    if not text or text.lower().startswith("error"):
        return None
    if tool == "search_docs":
        if not pattern:
            return None
        regex = re.compile(pattern.replace(" ", r"\s+"))
        labelled = [line for line in text.splitlines() if doc and f"({doc})" in line]
        m = next((found for line in labelled if (found := regex.search(line))), None)
        m = m or regex.search(text)
        if m is None:
            return None
        value = m.group(1)
        return value.replace(",", "") if re.fullmatch(r"[\d,.]+", value) else value
    if tool == "sql":
        try:
            data = json.loads(text)
        except ValueError:
            return None
        rows = data.get("rows") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not rows:
            return None
        row = rows[0]
        cell = (
            next(iter(row.values()), None)
            if isinstance(row, dict)
            else (row[0] if isinstance(row, list) and row else None)
        )
        if cell is None:
            return None
        if isinstance(cell, float) and cell.is_integer():
            cell = int(cell)
        return str(cell)
    m = re.fullmatch(r"-?\d+(?:\.\d+)?", text)
    return m.group(0) if m else None
