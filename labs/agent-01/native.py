"""The same agent with the provider's native tool calling — and a comparison of the two.

With native tool calling the model never writes ``Action:`` lines: it returns structured tool
calls (chat-02), so there is no format to parse and no ``Observation:`` to invent. The loop, the
step cap, loop detection and the trace stay exactly the same. :func:`compare` runs both agents on
the same tasks so you can see what the text protocol costs and where it breaks.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent import MAX_STEPS, MAX_TOKENS, StepRecord, Trace, run_agent, valid_tools_message
from tools import TOOL_DESCRIPTIONS, Tool

from labkit.datasets import AgentTask, answer_matches

if TYPE_CHECKING:
    import openai

NATIVE_SYSTEM_PROMPT = (
    "Answer the question. Use the tools to look things up and to compute; never guess a number. "
    "Call one tool at a time, then answer briefly."
)


def tool_schemas(tool_names: Sequence[str]) -> list[dict[str, Any]]:
    """GIVEN. OpenAI ``tools=``: each tool takes one string, ``input`` (like an Action Input)."""
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": TOOL_DESCRIPTIONS.get(name, "a tool"),
                "parameters": {
                    "type": "object",
                    "properties": {"input": {"type": "string", "description": "the tool's input"}},
                    "required": ["input"],
                    "additionalProperties": False,
                },
                "strict": True,
            },
        }
        for name in tool_names
    ]


# --- task 7: the native agent --------------------------------------------------------------------


def run_agent_native(
    client: openai.OpenAI,
    question: str,
    tools: Mapping[str, Tool],
    *,
    model: str,
    max_steps: int = MAX_STEPS,
    max_tokens: int = MAX_TOKENS,
) -> Trace:
    """Answer ``question`` with OpenAI Chat Completions tool calling and the same rules as
    :func:`agent.run_agent`.

    Each step is one ``chat.completions.create`` call with ``tools=tool_schemas(...)`` and the
    system prompt :data:`NATIVE_SYSTEM_PROMPT`. A reply without tool calls is the final answer.
    Every tool call of a reply is answered with a ``role: tool`` message paired by id (the API
    requires it); the step's record keeps the FIRST call (``action``, ``input``, ``observation``,
    ``kind``). Arguments that are not ``{"input": str}`` JSON → kind ``parse_error``; an unknown
    tool → ``unknown_tool``; both are answered with ``Error: ...`` + ``valid_tools_message``. A
    repeated (tool, input) is not run again (kind ``repeat``); a second repeat stops the run
    (``loop``). After ``max_steps`` calls: ``max_steps``, the last calls not run.

    Returns:
        The :class:`agent.Trace`.
    """
    raise NotImplementedError("not implemented yet — see task 7")


# --- task 8: the comparison ---------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """How one agent did on a task set.

    ``failures``: for each task NOT answered correctly, why — its ``stop_reason`` (``max_steps``
    or ``loop``), or ``wrong_answer`` when it did answer. ``step_errors``: how many steps of all
    runs were of kind ``parse_error``, ``unknown_tool`` or ``repeat``, plus ``tool_error`` for
    ``action`` steps whose observation starts with ``Error``.
    """

    tasks: int
    successes: int
    success_rate: float
    mean_steps: float
    mean_tokens: float
    mean_ms: float
    failures: dict[str, int] = field(default_factory=dict)
    step_errors: dict[str, int] = field(default_factory=dict)


def summarise(traces: Sequence[Trace], expected: Sequence[str]) -> Summary:
    """Score runs against expected answers (:func:`labkit.datasets.answer_matches`).

    Args:
        traces: one run per task.
        expected: the expected answer of each task, same order.

    Returns:
        The :class:`Summary`; means are over all runs (0.0 for no runs); ``failures`` and
        ``step_errors`` hold only the kinds that occurred, keys sorted.
    """
    raise NotImplementedError("not implemented yet — see task 8")


def compare(
    client: openai.OpenAI,
    tasks: Sequence[AgentTask],
    tools: Mapping[str, Tool],
    *,
    model: str,
    max_steps: int = MAX_STEPS,
) -> dict[str, Summary]:
    """GIVEN. Run both agents on every task: ``{"react": Summary, "native": Summary}``."""
    agents: dict[str, Callable[..., Trace]] = {"react": run_agent, "native": run_agent_native}
    out: dict[str, Summary] = {}
    for name, run in agents.items():
        traces = [run(client, t.question, tools, model=model, max_steps=max_steps) for t in tasks]
        out[name] = summarise(traces, [t.answer for t in tasks])
    return out


def table(summaries: Mapping[str, Summary]) -> str:
    """GIVEN. The comparison as a markdown table."""
    rows = [
        "| agent | success | mean steps | mean tokens | mean ms | failures | step errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        rows.append(
            f"| {name} | {s.successes}/{s.tasks} ({s.success_rate:.0%}) | {s.mean_steps:.2f} | "
            f"{s.mean_tokens:.0f} | {s.mean_ms:.1f} | "
            f"{', '.join(f'{k} {v}' for k, v in s.failures.items()) or '-'} | "
            f"{', '.join(f'{k} {v}' for k, v in s.step_errors.items()) or '-'} |"
        )
    return "\n".join(rows)
