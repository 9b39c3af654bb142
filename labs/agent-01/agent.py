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
    raise NotImplementedError("not implemented yet — see task 4")


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
    raise NotImplementedError("not implemented yet — see task 5")


# --- task 6: the loop --------------------------------------------------------------------------


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
    raise NotImplementedError("not implemented yet — see task 6")


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
