"""The agent task set (``datasets/agent-tasks/tasks.jsonl``): multi-step questions for agent-01.

Each task is a question over the Tessaline knowledge base and the shop database that needs two or
three tool calls (``search_docs``, ``sql``, ``calculator``), its expected answer (derived from the
data by ``make_tasks.py``) and the plan a careful agent follows. The fake provider's ReAct model
(:mod:`labkit.fakellm.react`) plays these plans; graders and benchmarks check answers with
:func:`answer_matches`::

    from labkit.datasets import load_agent_tasks, answer_matches
    tasks = load_agent_tasks(split="test")
    answer_matches(tasks[0].answer, "The total is $164.49.")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, cast

from labkit.datasets.files import read_jsonl
from labkit.datasets.paths import datasets_dir, display_path
from labkit.errors import LabkitError

ToolName = Literal["calculator", "search_docs", "sql"]
TOOL_NAMES: tuple[str, ...] = ("calculator", "search_docs", "sql")
Split = Literal["dev", "test"]


@dataclass(frozen=True)
class PlanStep:
    """One step of a task's plan: call ``tool`` with ``input`` (``{name}`` placeholders are values
    read from earlier observations), then read a value from the observation and keep it as
    ``save``. A search_docs step reads group 1 of ``pattern`` (the fact lives in document
    ``doc``); a sql step reads the first column of the first row; a calculator step reads the
    result."""

    tool: ToolName
    input: str
    save: str
    thought: str
    doc: str | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class AgentTask:
    """A multi-step question, its expected answer and the plan that derives it.

    ``final`` is the final-answer template (``{name}`` = values read by the plan);
    ``example_answer`` is that template filled with the real values.
    """

    id: str
    question: str
    answer: str
    final: str
    example_answer: str
    tools: tuple[ToolName, ...]
    steps: tuple[PlanStep, ...]
    split: Split


def tasks_path() -> Path:
    """``datasets/agent-tasks/tasks.jsonl``."""
    return datasets_dir() / "agent-tasks" / "tasks.jsonl"


def _parse(record: object, path: Path, line: int) -> AgentTask:
    where = f"{display_path(path)} line {line}"
    if not isinstance(record, dict):
        raise LabkitError(f"{where} is not a JSON object — regenerate it with make_tasks.py")
    try:
        steps = tuple(
            PlanStep(
                tool=cast(ToolName, s["tool"]),
                input=str(s["input"]),
                save=str(s["save"]),
                thought=str(s.get("thought", "")),
                doc=s.get("doc"),
                pattern=s.get("pattern"),
            )
            for s in record["steps"]
        )
        task = AgentTask(
            id=str(record["id"]),
            question=str(record["question"]),
            answer=str(record["answer"]),
            final=str(record["final"]),
            example_answer=str(record["example_answer"]),
            tools=tuple(cast(ToolName, t) for t in record["tools"]),
            steps=steps,
            split=cast(Split, record["split"]),
        )
    except (KeyError, TypeError) as exc:
        raise LabkitError(f"{where} lacks field {exc} — regenerate it with make_tasks.py") from None
    bad = [s.tool for s in steps if s.tool not in TOOL_NAMES]
    if bad or task.split not in ("dev", "test") or not steps:
        raise LabkitError(
            f"{where} has an unknown tool or split — regenerate it with make_tasks.py"
        )
    return task


@lru_cache(maxsize=4)
def _load(path: Path) -> tuple[AgentTask, ...]:
    hint = "restore it with git checkout, or run python datasets/agent-tasks/make_tasks.py"
    return tuple(_parse(record, path, number) for number, record in read_jsonl(path, hint=hint))


def load_agent_tasks(split: Split | None = None, path: Path | str | None = None) -> list[AgentTask]:
    """The agent tasks, in file order; ``split`` keeps only ``dev`` or ``test``."""
    if split is not None and split not in ("dev", "test"):
        raise LabkitError(f"unknown split {split!r}: use 'dev' or 'test'")
    tasks = _load(Path(path) if path is not None else tasks_path())
    return [t for t in tasks if split is None or t.split == split]


def _normalise(question: str) -> str:
    return " ".join(question.lower().split())


def find_agent_task(question: str) -> AgentTask | None:
    """The task whose question is ``question`` (case and spacing ignored), if any."""
    wanted = _normalise(question)
    for task in load_agent_tasks():
        if _normalise(task.question) == wanted:
            return task
    return None


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def answer_matches(expected: str, answer: str | None) -> bool:
    """Whether a final answer gives the expected value.

    A numeric expectation matches when some number in the answer (thousands commas ignored)
    equals it to within 0.005; anything else matches when it occurs in the answer, ignoring case.
    """
    if not answer:
        return False
    try:
        want = float(expected)
    except ValueError:
        return expected.lower() in answer.lower()
    for m in _NUMBER.finditer(answer):
        try:
            if abs(float(m.group(0).replace(",", "")) - want) < 0.005:
                return True
        except ValueError:
            continue
    return False
