"""labkit.config: one place decides provider, URL, models; errors are one clear line."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import anthropic
import openai
import pytest

from labkit import config
from labkit.errors import ConfigError, ProviderNotRunning

ENV_VARS = (
    "LABKIT_PROVIDER",
    "LABKIT_BASE_URL",
    "LABKIT_MODEL",
    "LABKIT_EMBEDDING_MODEL",
    "LABKIT_SDK",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


def test_default_is_fake_provider_on_the_make_serve_port() -> None:
    client = config.openai_client()
    assert isinstance(client, openai.OpenAI)
    assert str(client.base_url) == "http://127.0.0.1:8787/v1/"
    aclient = config.anthropic_client()
    assert isinstance(aclient, anthropic.Anthropic)
    assert str(aclient.base_url).rstrip("/") == "http://127.0.0.1:8787"
    assert config.chat_model() == config.MODELS["fake"]["chat"]
    assert config.default_sdk() == "openai"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9999", "http://127.0.0.1:9999/v1", "http://127.0.0.1:9999/"]
)
def test_base_url_with_or_without_v1(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("LABKIT_BASE_URL", url)
    assert str(config.openai_client().base_url) == "http://127.0.0.1:9999/v1/"
    assert str(config.anthropic_client().base_url).rstrip("/") == "http://127.0.0.1:9999"


@pytest.mark.parametrize(
    ("provider", "var"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")]
)
def test_missing_key_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, provider: str, var: str
) -> None:
    monkeypatch.setenv("LABKIT_PROVIDER", provider)
    with pytest.raises(ConfigError) as info:
        config.client()
    message = str(info.value)
    assert var in message
    assert "\n" not in message


def test_real_providers_use_their_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    client = config.openai_client(max_retries=0)
    assert client.api_key == "sk-test"
    assert client.max_retries == 0
    assert config.chat_model() == config.MODELS["openai"]["chat"]
    with pytest.raises(ConfigError, match="openai_client"):
        config.anthropic_client()


def test_compatible_defaults_to_ollama_and_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_PROVIDER", "compatible")
    client = config.openai_client()
    assert str(client.base_url).startswith(config.DEFAULT_COMPATIBLE_URL)
    with pytest.raises(ConfigError):
        config.anthropic_client()


def test_model_override_and_unknown_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_MODEL", "my-model")
    assert config.chat_model() == "my-model"
    monkeypatch.setenv("LABKIT_PROVIDER", "gemini")
    with pytest.raises(ConfigError, match="fake, openai, anthropic, local, compatible"):
        config.settings()
    monkeypatch.setenv("LABKIT_PROVIDER", "fake")
    monkeypatch.setenv("LABKIT_SDK", "cohere")
    with pytest.raises(ConfigError, match="LABKIT_SDK"):
        config.settings()


def test_client_picks_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(config.client("anthropic"), anthropic.Anthropic)
    monkeypatch.setenv("LABKIT_SDK", "anthropic")
    assert isinstance(config.client(), anthropic.Anthropic)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


NOT_RUNNING = (
    "labkit: nothing listens at http://127.0.0.1:{port} (the fake provider): start it with "
    "`make serve` in another terminal, or set LABKIT_BASE_URL to where it runs"
)


def test_fake_provider_not_running_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """14.0: without `make serve`, both SDKs stop at once with one line saying what to do."""
    port = free_port()
    monkeypatch.setenv("LABKIT_BASE_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(ProviderNotRunning) as caught:
        config.openai_client().chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    assert str(caught.value) == NOT_RUNNING.format(port=port)
    with pytest.raises(ProviderNotRunning):
        config.anthropic_client().messages.create(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )


def test_a_script_without_make_serve_prints_one_line(tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "hello.py"
    script.write_text(
        "from labkit import config\n"
        "client = config.openai_client()\n"
        "client.chat.completions.create(model=config.chat_model(), "
        "messages=[{'role': 'user', 'content': 'Hello!'}])\n"
    )
    env = {"PATH": "/usr/bin:/bin", "LABKIT_BASE_URL": f"http://127.0.0.1:{port}"}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 1
    assert done.stderr.strip() == NOT_RUNNING.format(port=port)
