"""Which provider, model and base URL a lab talks to — the one place that decides it.

Learner code never hard-codes keys or URLs; it asks for a configured client::

    from labkit import config
    client = config.openai_client()          # an openai.OpenAI, pointed wherever LABKIT_PROVIDER says
    reply = client.chat.completions.create(model=config.chat_model(), messages=[...])

Environment variables (all optional; the default runs offline against the fake provider):

- ``LABKIT_PROVIDER``: ``fake`` (default) | ``openai`` | ``anthropic`` | ``local`` | ``compatible``
- ``LABKIT_BASE_URL``: where the fake provider (``make serve``) or a compatible server listens
- ``LABKIT_MODEL`` / ``LABKIT_EMBEDDING_MODEL``: override the model ids in :data:`MODELS`
- ``LABKIT_SDK``: ``openai`` | ``anthropic``: which SDK a lab that supports both should use
- ``LABKIT_LOCAL_MODEL``: with ``local``, a saved transformers model folder to serve instead of
  the packaged SmolLM2 (lab ft-01's merged fine-tune; :func:`labkit.models.local_llm.get_local_llm`)
- ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``: for the real providers only
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from labkit.errors import ConfigError, ProviderNotRunning

if TYPE_CHECKING:
    import anthropic
    import openai

Provider = Literal["fake", "openai", "anthropic", "local", "compatible"]
Sdk = Literal["openai", "anthropic"]
PROVIDERS: tuple[Provider, ...] = ("fake", "openai", "anthropic", "local", "compatible")

DEFAULT_FAKE_URL = "http://127.0.0.1:8787"
DEFAULT_COMPATIBLE_URL = "http://127.0.0.1:11434/v1"  # Ollama's OpenAI-compatible endpoint
FAKE_API_KEY = "sk-fake-labkit-no-key-needed"

# Model ids live here and nowhere else. "chat" is what labs send as `model=`; "embedding" is the
# embeddings model. The fake and local providers accept any id but report these back.
MODELS: dict[Provider, dict[str, str]] = {
    "fake": {"chat": "fake-gpt", "embedding": "fake-embed-minilm"},
    "local": {"chat": "smollm2-135m-instruct", "embedding": "fake-embed-minilm"},
    "openai": {"chat": "gpt-4o-mini", "embedding": "text-embedding-3-small"},
    "anthropic": {"chat": "claude-3-5-haiku-latest", "embedding": ""},
    "compatible": {"chat": "llama3.2", "embedding": "nomic-embed-text"},
}

_KEY_VARS: dict[Provider, str] = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration: what provider, where, which models, which SDK by default."""

    provider: Provider
    base_url: str | None
    chat_model: str
    embedding_model: str
    sdk: Sdk


def provider() -> Provider:
    """The provider chosen by ``LABKIT_PROVIDER`` (default ``fake``)."""
    value = os.environ.get("LABKIT_PROVIDER", "fake").strip().lower() or "fake"
    if value not in PROVIDERS:
        raise ConfigError(
            f"LABKIT_PROVIDER={value!r} is not known; use one of: {', '.join(PROVIDERS)}"
        )
    return value


def settings() -> Settings:
    """Resolve the whole configuration from the environment (read fresh on every call)."""
    prov = provider()
    models = MODELS[prov]
    chat = os.environ.get("LABKIT_MODEL") or models["chat"]
    embed = os.environ.get("LABKIT_EMBEDDING_MODEL") or models["embedding"]
    sdk_default: Sdk = "anthropic" if prov == "anthropic" else "openai"
    sdk = os.environ.get("LABKIT_SDK", sdk_default).strip().lower()
    if sdk not in ("openai", "anthropic"):
        raise ConfigError(f"LABKIT_SDK={sdk!r} is not known; use openai or anthropic")
    if (prov, sdk) in (("openai", "anthropic"), ("anthropic", "openai")):
        raise ConfigError(f"LABKIT_PROVIDER={prov} cannot be used with LABKIT_SDK={sdk}")
    base_url: str | None
    if prov == "fake":
        base_url = os.environ.get("LABKIT_BASE_URL", DEFAULT_FAKE_URL)
    elif prov == "compatible":
        base_url = os.environ.get("LABKIT_BASE_URL", DEFAULT_COMPATIBLE_URL)
    elif prov == "local":
        base_url = None  # resolved lazily: the local model server is started on first use
    else:
        base_url = os.environ.get("LABKIT_BASE_URL") or None
    return Settings(prov, base_url, chat, embed, sdk)  # type: ignore[arg-type]


def chat_model() -> str:
    """The chat model id to send as ``model=`` for the configured provider."""
    return settings().chat_model


def embedding_model() -> str:
    """The embeddings model id for the configured provider."""
    return settings().embedding_model


def default_sdk() -> Sdk:
    """Which SDK a lab that supports both should use (``LABKIT_SDK``)."""
    return settings().sdk


def _api_key(prov: Provider) -> str:
    var = _KEY_VARS[prov]
    key = os.environ.get(var, "").strip()
    if not key:
        raise ConfigError(
            f"LABKIT_PROVIDER={prov} needs an API key: set {var} "
            f"(or unset LABKIT_PROVIDER to use the offline fake provider)"
        )
    return key


def _root_url(s: Settings) -> str:
    """Base URL without a trailing /v1 (the Anthropic SDK adds /v1/... itself)."""
    if s.provider == "local":
        return _in_process_server_url("local")
    assert s.base_url is not None
    url = s.base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


IN_PROCESS_PROVIDERS = "labkit.in_process_providers"


def _in_process_server_url(provider: Provider) -> str:
    """URL of the server this process runs for ``provider``, started on first use.

    The local provider is the fake provider's app serving the local model
    (:func:`labkit.fakellm.local.local_server_url`), two layers above this module: config never
    imports it (docs/DESIGN.md, "Layers"). pyproject.toml declares it under the
    ``labkit.in_process_providers`` entry point instead, and config looks it up by name here.
    """
    from importlib.metadata import entry_points

    found = entry_points(group=IN_PROCESS_PROVIDERS, name=provider)
    if not found:
        raise ConfigError(
            f"LABKIT_PROVIDER={provider}: no {IN_PROCESS_PROVIDERS} entry point named {provider!r}; "
            "reinstall labkit with `make setup`"
        )
    start = next(iter(found)).load()
    return str(start())


@cache
def ssl_context(sdk: Sdk) -> ssl.SSLContext:
    """The TLS context the SDK's HTTP library would build, made once per process and SDK.

    httpx builds a fresh one for every client, loading the CA bundle (15-30 ms each); graders and
    learner code create many clients (one per extraction in chat-03), and the grading zygote makes
    this one before it forks, so no learner process pays for it. Same settings as the default.
    """
    if sdk == "openai":
        import httpx

        return httpx.create_ssl_context()
    import httpx2

    return httpx2.create_ssl_context()


def _fake_http_client(sdk: Sdk, url: str) -> object:
    """The SDK's own default HTTP client, except that a refused connection to the fake provider
    raises :class:`~labkit.errors.ProviderNotRunning` (one line: start ``make serve``) instead of
    retrying and ending in a long SDK traceback. Other failures are untouched."""
    base: type[Any]
    refused: type[Exception]
    if sdk == "openai":
        import httpx
        import openai

        base, refused = openai.DefaultHttpxClient, httpx.ConnectError
    else:  # the anthropic SDK is built on httpx2, whose exception classes are its own
        import anthropic
        import httpx2

        base, refused = anthropic.DefaultHttpxClient, httpx2.ConnectError

    class _Client(base):  # one subclass for either SDK's client class
        def send(self, request: Any, **kwargs: Any) -> Any:
            try:
                return super().send(request, **kwargs)
            except refused:
                raise ProviderNotRunning(url) from None

    return _Client(verify=ssl_context(sdk))


def openai_client(**kwargs: object) -> openai.OpenAI:
    """A real ``openai.OpenAI`` client configured for the current provider.

    Extra keyword arguments (``max_retries``, ``timeout``...) are passed to the constructor, so a
    lab can, for instance, switch the SDK's own retries off and write its own.
    """
    import openai

    s = settings()
    if s.provider == "anthropic":
        raise ConfigError(
            "LABKIT_PROVIDER=anthropic has no OpenAI-protocol endpoint; use anthropic_client() "
            "or set LABKIT_PROVIDER=openai"
        )
    if s.provider == "openai":
        opts: dict[str, object] = {"api_key": _api_key("openai")}
        if s.base_url:
            opts["base_url"] = s.base_url
    elif s.provider == "compatible":
        opts = {"api_key": os.environ.get("OPENAI_API_KEY") or "not-needed", "base_url": s.base_url}
    else:
        opts = {"api_key": FAKE_API_KEY, "base_url": _root_url(s) + "/v1"}
        if s.provider == "fake" and "http_client" not in kwargs:
            opts["http_client"] = _fake_http_client("openai", _root_url(s))
    opts.update(kwargs)
    return openai.OpenAI(**opts)  # type: ignore[arg-type]


def anthropic_client(**kwargs: object) -> anthropic.Anthropic:
    """A real ``anthropic.Anthropic`` client configured for the current provider."""
    import anthropic

    s = settings()
    if s.provider in ("openai", "compatible"):
        raise ConfigError(
            f"LABKIT_PROVIDER={s.provider} speaks only the OpenAI protocol; use openai_client() "
            "or set LABKIT_PROVIDER=anthropic"
        )
    if s.provider == "anthropic":
        opts: dict[str, object] = {"api_key": _api_key("anthropic")}
        if s.base_url:
            opts["base_url"] = s.base_url
    else:
        opts = {"api_key": FAKE_API_KEY, "base_url": _root_url(s)}
        if s.provider == "fake" and "http_client" not in kwargs:
            opts["http_client"] = _fake_http_client("anthropic", _root_url(s))
    opts.update(kwargs)
    return anthropic.Anthropic(**opts)  # type: ignore[arg-type]


def client(sdk: Sdk | None = None, **kwargs: object) -> openai.OpenAI | anthropic.Anthropic:
    """A client for ``sdk`` (default: ``LABKIT_SDK`` / the provider's natural SDK)."""
    chosen = sdk or default_sdk()
    return openai_client(**kwargs) if chosen == "openai" else anthropic_client(**kwargs)
