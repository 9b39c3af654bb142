"""Fixtures for the fake-provider tests: real SDK clients pointed at the session's fake.

The clients are built once per session (building one costs an SSL context and a connection pool)
and handed out through function-scoped fixtures that depend on ``fake_llm``, so every test still
starts from a reset server. test_fake_server.py checks that labkit.config points at the same URL.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest
from fakellm_wire import Raw

from labkit import config
from labkit.fakellm import FakeLLM


@pytest.fixture(scope="session")
def _clients(fake_llm_server: FakeLLM) -> Iterator[tuple[openai.OpenAI, anthropic.Anthropic, Raw]]:
    env = fake_llm_server.env()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        oai = config.openai_client(max_retries=0)
        claude = config.anthropic_client(max_retries=0)
    raw = Raw(fake_llm_server.url)
    yield oai, claude, raw
    oai.close()
    claude.close()
    raw.close()


@pytest.fixture
def oai(
    fake_llm: FakeLLM, _clients: tuple[openai.OpenAI, anthropic.Anthropic, Raw]
) -> openai.OpenAI:
    """An openai client built by labkit.config for the fake, without SDK retries."""
    return _clients[0]


@pytest.fixture
def claude(
    fake_llm: FakeLLM, _clients: tuple[openai.OpenAI, anthropic.Anthropic, Raw]
) -> anthropic.Anthropic:
    """An anthropic client built by labkit.config for the fake, without SDK retries."""
    return _clients[1]


@pytest.fixture
def raw(fake_llm: FakeLLM, _clients: tuple[openai.OpenAI, anthropic.Anthropic, Raw]) -> Raw:
    """Plain HTTP access to the fake."""
    return _clients[2]
