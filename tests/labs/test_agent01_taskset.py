"""agent-01's acceptance bar on the held-out split: the reference ReAct agent, the fake's default
ReAct model and the reference tools answer >= 90% of the test tasks, never above the step cap."""

from __future__ import annotations

from pathlib import Path

from labkit import config
from labkit.datasets import answer_matches, load_agent_tasks
from labkit.retrieval.labfolder import load_modules

ROOT = Path(__file__).resolve().parents[2]
MAX_STEPS = 6


def test_reference_react_agent_on_the_test_split(fake_llm) -> None:
    modules = load_modules(ROOT / "solutions" / "agent-01", ["tools", "agent"])
    tools, agent = modules["tools"].default_tools(), modules["agent"]
    client = config.openai_client(max_retries=0)
    tasks = load_agent_tasks(split="test")
    right = []
    for task in tasks:
        trace = agent.run_agent(
            client, task.question, tools, model=config.chat_model(), max_steps=MAX_STEPS
        )
        assert len(trace.steps) <= MAX_STEPS
        right.append(trace.stop_reason == "answer" and answer_matches(task.answer, trace.answer))
    requests = fake_llm.journal.requests("/v1/chat/completions")
    assert len(requests) == sum(len(t.steps) + 1 for t in tasks)  # one call per step, no retries
    assert sum(right) >= 0.9 * len(tasks), f"{sum(right)}/{len(tasks)} answered"
