"""labkit.config: one place decides provider, URL, models; errors are one clear line."""

from __future__ import annotations

import anthropic
import openai
import pytest

from labkit import config
from labkit.errors import ConfigError

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


@pytest.mark.parametrize("url", ["http://127.0.0.1:9999", "http://127.0.0.1:9999/v1", "http://127.0.0.1:9999/"])
def test_base_url_with_or_without_v1(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("LABKIT_BASE_URL", url)
    assert str(config.openai_client().base_url) == "http://127.0.0.1:9999/v1/"
    assert str(config.anthropic_client().base_url).rstrip("/") == "http://127.0.0.1:9999"


@pytest.mark.parametrize(("provider", "var"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")])
def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch, provider: str, var: str) -> None:
    monkeypatch.setenv("LABKIT_PROVIDER", provider)
    with pytest.raises(ConfigError) as info:
        config.client()
    message = str(info.value)
    assert var in message and "\n" not in message


def test_real_providers_use_their_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    client = config.openai_client(max_retries=0)
    assert client.api_key == "sk-test" and client.max_retries == 0
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
