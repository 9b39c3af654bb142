"""The reference chatbot (chat-01) streams a real reply from the bundled local model.

Graders never use the local model (a 135M model is not deterministic enough to grade against);
this proves the lab code a learner writes also runs unchanged on a real model, as the README says.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from labkit.config import Sdk

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_chat01_reference_streams_a_real_local_reply(
    sdk: Sdk, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labkit import config

    monkeypatch.setenv("LABKIT_PROVIDER", "local")
    spec = importlib.util.spec_from_file_location(
        "chat01_reference_chatbot", ROOT / "solutions" / "chat-01" / "chatbot.py"
    )
    assert spec is not None and spec.loader is not None
    chatbot = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, chatbot)
    spec.loader.exec_module(chatbot)

    session = chatbot.ChatSession(config.client(sdk), sdk=sdk, max_tokens=24, temperature=0.0)
    pieces = list(session.send("Say hello in five words."))
    assert len(pieces) > 1, f"expected a reply streamed in several pieces, got {pieces!r}"
    assert "".join(pieces).strip()
    assert [m["role"] for m in session.history] == ["user", "assistant"]
