"""The agent task set: up to date with its generator, well formed, answers derivable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from labkit.datasets import answer_matches, find_agent_task, load_agent_tasks, load_documents

ROOT = Path(__file__).resolve().parents[2]


def test_tasks_file_matches_its_generator() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "datasets" / "agent-tasks" / "make_tasks.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_tasks_are_multi_step_and_split() -> None:
    tasks = load_agent_tasks()
    assert len(tasks) >= 40
    assert len({t.id for t in tasks}) == len(tasks)
    assert len({t.question for t in tasks}) == len(tasks)
    dev, test = load_agent_tasks(split="dev"), load_agent_tasks(split="test")
    assert len(dev) + len(test) == len(tasks)
    assert len(test) >= 20
    for task in tasks:
        assert len(task.steps) >= 2, task.id
        assert set(task.tools) == {s.tool for s in task.steps}
        assert answer_matches(task.answer, task.example_answer), task.id
        assert find_agent_task("  " + task.question.upper() + " ") == task


def test_every_search_step_finds_its_fact_in_its_document() -> None:
    docs = {d.id: d.text for d in load_documents()}
    for task in load_agent_tasks():
        for step in task.steps:
            if step.tool == "search_docs":
                assert step.doc in docs, task.id
                assert step.pattern, task.id
                assert re.search(step.pattern, docs[step.doc]), (task.id, step.pattern)


def test_answer_matches() -> None:
    assert answer_matches("23400", "It costs $23,400 per year.")
    assert answer_matches("164.49", "The total was $164.49.")
    assert not answer_matches("164.49", "The total was $164.50.")
    assert answer_matches("Munich", "They live in munich.")
    assert not answer_matches("30", None)
    assert not answer_matches("30", "thirty")
