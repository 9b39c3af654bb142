"""A ReAct agent written by hand: Thought → Action → Observation, until a Final Answer.

The model never runs anything. It writes text in an agreed format; YOUR code reads that text,
runs the tool it names, and sends the result back as the next message. Everything that can go
wrong lives in that text — bold labels, code fences, a tool that does not exist, an
``Observation:`` the model made up itself, the same action forever — so the parser is tolerant,
the loop is capped, and every mistake goes back to the model as an observation it can read.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tools import TOOL_DESCRIPTIONS, Tool, default_tools

from labkit import config

if TYPE_CHECKING:
    import anthropic
    import openai

Sdk = Literal["openai", "anthropic"]
StopReason = Literal["answer", "max_steps", "loop"]
StepKind = Literal["action", "final", "parse_error", "unknown_tool", "repeat"]

MAX_STEPS = 8
MAX_TOKENS = 400
STOP = ["Observation:"]


# --- given: the contract between the parts (tests build and read these) -----------------------


@dataclass(frozen=True)
class Action:
    """The model asked to run ``tool`` with ``input``."""

    tool: str
    input: str
    thought: str = ""


@dataclass(frozen=True)
class FinalAnswer:
    """The model is done: ``answer`` is for the user."""

    answer: str
    thought: str = ""


@dataclass(frozen=True)
class ParseError:
    """The model's turn could not be read; ``message`` says why (it goes back to the model)."""

    message: str


Step = Action | FinalAnswer | ParseError


@dataclass(frozen=True)
class ModelTurn:
    """One model call: the text it returned and the tokens it cost."""

    text: str
    input_tokens: int
    output_tokens: int


@dataclass
class StepRecord:
    """One step of a run: one model call, and what the agent did with its reply.

    ``kind``: ``action`` (a tool ran), ``final`` (the answer), ``parse_error``, ``unknown_tool``,
    ``repeat`` (an action already taken). ``observation`` is what was sent back (None when
    nothing was: a final answer, or a step the run stopped at).
    """

    step: int
    kind: StepKind
    thought: str
    action: str | None
    input: str | None
    observation: str | None
    input_tokens: int
    output_tokens: int
    ms: float


@dataclass
class Trace:
    """A whole run: every step, the answer (None if there was none) and why it stopped."""

    question: str
    steps: list[StepRecord] = field(default_factory=list)
    answer: str | None = None
    stop_reason: StopReason = "answer"

    @property
    def tokens(self) -> int:
        """Input + output tokens of every model call."""
        return sum(s.input_tokens + s.output_tokens for s in self.steps)

    @property
    def ms(self) -> float:
        """Time spent in model calls and tools."""
        return sum(s.ms for s in self.steps)

    def to_jsonl(self) -> str:
        """GIVEN. One JSON object per step, then one for the outcome (``"type": "end"``)."""
        lines = [json.dumps({"type": "step", **asdict(s)}) for s in self.steps]
        end = {
            "type": "end",
            "question": self.question,
            "answer": self.answer,
            "stop_reason": self.stop_reason,
            "steps": len(self.steps),
            "tokens": self.tokens,
        }
        return "\n".join([*lines, json.dumps(end)]) + "\n"

    def write_jsonl(self, path: str | Path) -> None:
        """GIVEN. Append this trace to a JSON-lines file (one file can hold many runs)."""
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(self.to_jsonl())


def system_prompt(tool_names: list[str]) -> str:
    """GIVEN. The ReAct instructions: the tools, the format, and when to stop."""
    listed = "\n".join(f"- {name}: {TOOL_DESCRIPTIONS.get(name, 'a tool')}" for name in tool_names)
    return (
        "Answer the question. You can use these tools:\n"
        f"{listed}\n\n"
        "Use exactly this format:\n\n"
        "Thought: what you need to find out next\n"
        f"Action: the tool to use, one of [{', '.join(tool_names)}]\n"
        "Action Input: the input for the tool, on one line\n"
        "Observation: the tool's result (written for you: never write it yourself)\n"
        "... (Thought/Action/Action Input/Observation can repeat)\n"
        "Thought: I now know the final answer\n"
        "Final Answer: the answer to the question\n\n"
        "Write one Action per reply, then stop and wait for its Observation."
    )


def valid_tools_message(tools: Mapping[str, Tool]) -> str:
    """GIVEN. The sentence every error observation ends with."""
    return f"Valid tools: {', '.join(tools)}."


# --- task 4: reading one model turn ------------------------------------------------------------

_LABEL = r"(?:\*\*|__)?\s*{name}\s*(?:\*\*|__)?\s*:\s*(?:\*\*|__)?"
_OBSERVATION = re.compile(r"^\s*" + _LABEL.format(name="Observation"), re.I | re.M)
_FENCE = re.compile(r"^\s*```[\w-]*\s*$", re.M)
_THOUGHT = re.compile(_LABEL.format(name="Thought") + r"(.*)", re.I)
_ACTION = re.compile(r"^\s*" + _LABEL.format(name="Action") + r"[ \t]*(.*)$", re.I | re.M)
_INPUT = re.compile(r"^\s*" + _LABEL.format(name=r"Action\s*Input") + r"[ \t]*(.*)$", re.I | re.M)
_FINAL = re.compile(
    r"^\s*" + _LABEL.format(name=r"Final\s*Answer") + r"\s*(.*)", re.I | re.M | re.S
)
_WRAPPERS = "`'\"*_[]() \t"


def _clean(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "`'\"":
        value = value[1:-1]
    return value.strip("*").strip()


def parse_step(text: str) -> Step:
    """Read one model turn as an Action, a FinalAnswer or a ParseError. Never raises.

    Tolerates markdown bold (``**Action:**``), code fences, extra whitespace and text after the
    action; stops reading at an ``Observation:`` the model wrote itself (everything after it is
    invented). When both an action and a final answer are present, the earlier one counts.

    Args:
        text: the model's reply.

    Returns:
        ``Action(tool, input, thought)``, ``FinalAnswer(answer, thought)`` or
        ``ParseError(message)``.
    """
    if not isinstance(text, str):
        return ParseError("the reply was not text")
    cut = _OBSERVATION.search(text)
    body = text[: cut.start()] if cut else text
    body = _FENCE.sub("", body)
    thought_match = _THOUGHT.search(body)
    thought = ""
    if thought_match:
        thought = _clean(thought_match.group(1).split("\n", 1)[0])
    action = _ACTION.search(body)
    final = _FINAL.search(body)
    if final and (action is None or final.start() < action.start()):
        answer = _clean(final.group(1))
        if not answer:
            return ParseError("'Final Answer:' is empty")
        return FinalAnswer(answer, thought)
    if action is None:
        if _INPUT.search(body):
            return ParseError("found 'Action Input:' but no 'Action:' line naming the tool")
        return ParseError("found neither 'Action:' nor 'Final Answer:'")
    tool = action.group(1).strip().strip(_WRAPPERS).strip()
    tool = tool.split()[0] if tool else ""
    if not tool:
        return ParseError("'Action:' does not name a tool")
    after = body[action.end() :]
    given = _INPUT.search(after)
    if given is None:
        return ParseError(f"'Action: {tool}' has no 'Action Input:' line")
    value = given.group(1).strip()
    if not value:  # the input may start on the next line
        rest = after[given.end() :].lstrip("\n").split("\n\n", 1)[0]
        value = rest.strip()
    return Action(tool, _clean(value), thought)


# --- task 5: one model call, either SDK --------------------------------------------------------


def call_model(
    client: openai.OpenAI | anthropic.Anthropic,
    system: str,
    messages: list[dict[str, str]],
    *,
    model: str,
    max_tokens: int = MAX_TOKENS,
    stop: list[str] | None = None,
) -> ModelTurn:
    """Send the conversation; return the reply's text and token counts.

    Args:
        client: an ``openai.OpenAI`` (Chat Completions) or an ``anthropic.Anthropic`` (Messages).
        system: the system prompt (OpenAI: a first ``system`` message; Anthropic: ``system=``).
        messages: the turns so far, ``{"role": "user" | "assistant", "content": str}``.
        model: the model id.
        max_tokens: the most tokens the reply may have.
        stop: stop sequences (OpenAI ``stop=``, Anthropic ``stop_sequences=``); default
            :data:`STOP`.

    Returns:
        ``ModelTurn(text, input_tokens, output_tokens)``.
    """
    import anthropic

    stops = list(STOP if stop is None else stop)
    if isinstance(client, anthropic.Anthropic):
        response = client.messages.create(
            model=model,
            max_tokens=max_tokens,
            system=system,
            messages=messages,  # type: ignore[arg-type]
            stop_sequences=stops,
        )
        text = "".join(block.text for block in response.content if block.type == "text")
        return ModelTurn(text, response.usage.input_tokens, response.usage.output_tokens)
    completion = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": system}, *messages],  # type: ignore[list-item]
        max_tokens=max_tokens,
        stop=stops,
    )
    usage = completion.usage
    return ModelTurn(
        completion.choices[0].message.content or "",
        usage.prompt_tokens if usage else 0,
        usage.completion_tokens if usage else 0,
    )


# --- task 6: the loop --------------------------------------------------------------------------


def _run_tool(tools: Mapping[str, Tool], name: str, value: str) -> str:
    try:
        observation = tools[name](value)
    except Exception as exc:  # a tool's bug is the model's observation, not our crash
        return f"Error: {name} failed: {type(exc).__name__}: {exc}"
    return str(observation) if str(observation).strip() else "(no output)"


def run_agent(
    client: openai.OpenAI | anthropic.Anthropic,
    question: str,
    tools: Mapping[str, Tool],
    *,
    model: str,
    max_steps: int = MAX_STEPS,
    max_tokens: int = MAX_TOKENS,
) -> Trace:
    """Answer ``question`` with the ReAct loop.

    Each step is one model call (:func:`call_model` with ``stop=STOP``) whose reply is read with
    :func:`parse_step`, then appended as an ``assistant`` message; what the agent sends back
    follows as a ``user`` message ``"Observation: ..."``:

    - an Action on a known tool: the tool's output (a tool that raises → ``Error: ...``);
    - an unknown tool: ``Error: unknown tool '<name>'.`` + :func:`valid_tools_message`;
    - a ParseError: ``Invalid format: <message>. Write 'Action:' and 'Action Input:' lines, or
      'Final Answer:'.`` + :func:`valid_tools_message`;
    - the same (tool, input) as an earlier action: the tool is NOT run again; the observation
      says so (kind ``repeat``). A second repeat in the same run stops it (``loop``).

    The run ends with a FinalAnswer (``answer``), a second repeat (``loop``) or after
    ``max_steps`` model calls (``max_steps``; the last action is not run: its observation could
    never reach the model).

    Args:
        client: an ``openai.OpenAI`` or ``anthropic.Anthropic``.
        question: the user's question (sent as ``"Question: <question>"``).
        tools: tool name → function(str) -> str.
        model: the model id.
        max_steps: the most model calls.
        max_tokens: the most tokens per reply.

    Returns:
        The :class:`Trace`, one :class:`StepRecord` per model call.
    """
    system = system_prompt(list(tools))
    messages: list[dict[str, str]] = [{"role": "user", "content": f"Question: {question}"}]
    trace = Trace(question)
    done: set[tuple[str, str]] = set()
    repeats = 0
    for number in range(1, max_steps + 1):
        started = time.perf_counter()
        turn = call_model(client, system, messages, model=model, max_tokens=max_tokens, stop=STOP)
        step = parse_step(turn.text)
        last = number == max_steps
        record = StepRecord(
            number, "action", "", None, None, None, turn.input_tokens, turn.output_tokens, 0.0
        )
        trace.steps.append(record)
        if isinstance(step, FinalAnswer):
            record.kind, record.thought = "final", step.thought
            record.ms = (time.perf_counter() - started) * 1000
            trace.answer, trace.stop_reason = step.answer, "answer"
            return trace
        observation: str | None
        if isinstance(step, ParseError):
            record.kind = "parse_error"
            observation = (
                f"Invalid format: {step.message}. Write 'Action:' and 'Action Input:' lines, or "
                f"'Final Answer:'. {valid_tools_message(tools)}"
            )
        else:
            record.thought, record.action, record.input = step.thought, step.tool, step.input
            key = (step.tool, " ".join(step.input.split()))
            if step.tool not in tools:
                record.kind = "unknown_tool"
                observation = f"Error: unknown tool '{step.tool}'. {valid_tools_message(tools)}"
            elif key in done:
                record.kind = "repeat"
                repeats += 1
                if repeats >= 2:
                    record.ms = (time.perf_counter() - started) * 1000
                    trace.stop_reason = "loop"
                    return trace
                observation = (
                    f"You already ran {step.tool} with this input; its result is above. Use it, "
                    "try a different input, or give your Final Answer."
                )
            elif last:
                observation = None  # it could never reach the model
            else:
                done.add(key)
                observation = _run_tool(tools, step.tool, step.input)
        record.observation = None if last else observation
        record.ms = (time.perf_counter() - started) * 1000
        if last:
            break
        messages.append({"role": "assistant", "content": turn.text})
        messages.append({"role": "user", "content": f"Observation: {observation}"})
    trace.stop_reason = "max_steps"
    return trace


# --- given: one question, everything environment-specific as a parameter ----------------------


def answer(
    question: str,
    *,
    db_path: str | Path | None = None,
    client: openai.OpenAI | anthropic.Anthropic | None = None,
    sdk: Sdk | None = None,
    model: str | None = None,
    max_steps: int = MAX_STEPS,
) -> Trace:
    """GIVEN. Run the agent with the three tools (the shop database at ``db_path``)."""
    chosen: Sdk = sdk or config.default_sdk()  # type: ignore[assignment]
    return run_agent(
        client if client is not None else config.client(chosen),
        question,
        default_tools(db_path),
        model=model or config.chat_model(),
        max_steps=max_steps,
    )


def summary_line(trace: Trace) -> str:
    """GIVEN. ``3 steps, 812 tokens, answer`` — for the CLI."""
    return f"{len(trace.steps)} steps, {trace.tokens} tokens, {trace.stop_reason}"
