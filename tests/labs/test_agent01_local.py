"""agent-01 on the real local model: the reference agent ends cleanly (never graded).

SmolLM2-135M cannot follow the ReAct format (see the lab README): it writes its own
"Observation:" lines, invents tools and repeats itself. What must hold is what the lab teaches —
the stop sequence reaches llama.cpp, the parser never crashes, and the caps end the run. The test
is kept small (one question, two steps, short replies) because a 135M model on two busy cores
still takes seconds per call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from labkit.fakellm import local
from labkit.fakellm.types import ChatRequest, Message
from labkit.models.local_chat import Completion, Generation, LocalChatBase

ROOT = Path(__file__).resolve().parents[2]


class _RecordingLLM(LocalChatBase):
    """Stands in for LocalLLM: records the request each call made."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Generation] = []

    def generate(self, request: Generation, emit: Callable[[str], None] | None) -> Completion:
        self.calls.append(request)
        return Completion("Thought: ok", "stop", 3, 2)


def test_local_provider_passes_stop_to_the_model() -> None:
    llm = _RecordingLLM()
    behaviour = local.LocalModelBehaviour(llm)
    request = ChatRequest(
        api="openai",
        endpoint="chat",
        model="m",
        messages=[Message("user", "hi")],
        stop=["Observation:"],
    )
    behaviour.respond(request)
    request.stop = []
    behaviour.respond(request)
    assert [call.stop for call in llm.calls] == [["Observation:"], None]


@pytest.mark.slow
def test_agent01_reference_terminates_with_the_local_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from labkit import config
    from labkit.retrieval.labfolder import load_modules

    monkeypatch.setenv("LABKIT_PROVIDER", "local")
    modules = load_modules(ROOT / "solutions" / "agent-01", ["tools", "agent"])
    agent, tools = modules["agent"], modules["tools"]
    trace = agent.run_agent(
        config.openai_client(),
        "What is 17 * 23?",
        tools.default_tools(),
        model=config.chat_model(),
        max_steps=2,
        max_tokens=32,
    )
    assert trace.stop_reason in ("answer", "max_steps", "loop")
    assert 1 <= len(trace.steps) <= 2
    assert all(
        s.kind in ("action", "final", "parse_error", "unknown_tool", "repeat") for s in trace.steps
    )
    server = local._server
    assert server is not None
    sent = [e.body for e in server.journal.requests("/v1/chat/completions")]
    assert sent and all(body.get("stop") == ["Observation:"] for body in sent)
