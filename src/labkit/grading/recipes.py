"""Recipes: live objects a test needs inside the worker, built there from a name and plain data.

A test cannot hand learner code an SDK client or an exception carrying an HTTP response: those are
live objects, and only data crosses the boundary. It names a recipe instead,
``learner.make.client("openai", max_retries=0)``, and the worker builds the object with the
function of that name below. Arguments are data, other recipes, or handles to worker objects.

Add a recipe here (a typed function, a docstring) when a new lab needs one; it runs in the worker,
next to learner code, so it must never read anything a learner may not see.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import sys
from collections.abc import Callable
from typing import Any


def client(sdk: str | None = None, **kwargs: Any) -> Any:
    """``labkit.config.client(sdk, **kwargs)``: an SDK client pointed at the fake provider."""
    from labkit import config

    return config.client(sdk, **kwargs)  # type: ignore[arg-type]


def sdk_client(sdk: str, **kwargs: Any) -> Any:
    """``openai.OpenAI(**kwargs)`` or ``anthropic.Anthropic(**kwargs)`` exactly as given."""
    if sdk == "openai":
        import openai

        return openai.OpenAI(**kwargs)
    import anthropic

    return anthropic.Anthropic(**kwargs)


def status_error(status: int, headers: dict[str, str] | None = None) -> Any:
    """The OpenAI SDK's exception for an HTTP ``status`` (RateLimitError for 429, ...)."""
    import httpx
    import openai

    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(status, headers=headers or {}, request=request, json={"error": {}})
    classes: dict[int, type[openai.APIStatusError]] = {
        400: openai.BadRequestError,
        401: openai.AuthenticationError,
        403: openai.PermissionDeniedError,
        404: openai.NotFoundError,
        409: openai.ConflictError,
        422: openai.UnprocessableEntityError,
        429: openai.RateLimitError,
    }
    cls = classes.get(
        status, openai.InternalServerError if status >= 500 else openai.APIStatusError
    )
    return cls(f"HTTP {status}", response=response, body=None)


def connection_error(timeout: bool = False) -> Any:
    """The OpenAI SDK's APIConnectionError (or APITimeoutError with ``timeout=True``)."""
    import httpx
    import openai

    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    if timeout:
        return openai.APITimeoutError(request=request)
    return openai.APIConnectionError(request=request)


def chat_call(client: Any, model: str | None = None, content: str = "ping") -> Callable[[], Any]:
    """A no-argument function making one chat request with ``client`` (what a caller of a retry
    helper passes)."""
    from labkit import config

    chosen = model or config.chat_model()
    return lambda: client.chat.completions.create(
        model=chosen, messages=[{"role": "user", "content": content}]
    )


class _RecordingConnection(sqlite3.Connection):
    """A connection that remembers the SQL text of every statement run through it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statements: list[str] = []

    def take_statements(self) -> list[str]:
        """The SQL run since the last call (and forget it)."""
        taken, self.statements = self.statements, []
        return taken

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self.statements.append(sql)
        return super().execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self.statements.append(sql)
        return super().executemany(sql, *args)

    def executescript(self, script: str) -> sqlite3.Cursor:
        self.statements.append(script)
        return super().executescript(script)

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(_RecordingCursor)


class _RecordingCursor(sqlite3.Cursor):
    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection.statements.append(sql)  # type: ignore[attr-defined]
        return super().execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection.statements.append(sql)  # type: ignore[attr-defined]
        return super().executemany(sql, *args)

    def executescript(self, script: str) -> sqlite3.Cursor:
        self.connection.statements.append(script)  # type: ignore[attr-defined]
        return super().executescript(script)


def sqlite(path: str, record: bool = False) -> sqlite3.Connection:
    """A WRITABLE sqlite3 connection to ``path`` with rows as ``sqlite3.Row``; with ``record``,
    it remembers the SQL text it runs (``take_statements()``)."""
    factory = _RecordingConnection if record else sqlite3.Connection
    conn = sqlite3.connect(path, factory=factory)
    conn.row_factory = sqlite3.Row
    return conn


def span_recorder() -> Any:
    """An in-memory OpenTelemetry span exporter in the worker
    (:class:`labkit.grading.spans.SpanRecorder`): attach it to a tracer provider, then read the
    finished spans as dicts with ``span_dicts()``. Use ``learner.new(...)`` to keep one."""
    from labkit.grading.spans import SpanRecorder

    return SpanRecorder()


def tracer_provider(*exporters: Any) -> Any:
    """A plain OpenTelemetry SDK ``TracerProvider`` (not the global one) sending each finished
    span to every exporter given, through a ``SimpleSpanProcessor`` each."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    for exporter in exporters:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def mcp_probe(server: Any) -> Any:
    """An MCP client for ``server`` (an ``MCPServer`` built by learner code, or a URL), in the
    worker: ``list_tools()`` / ``call_tool(name, arguments)`` open an in-memory session there and
    return plain data (``labkit.mcp_testing.tools.McpProbe``)."""
    from labkit.mcp_testing.tools import McpProbe

    return McpProbe(server)


def mcp_http(server: Any) -> Any:
    """Serve ``server`` (an ``MCPServer`` living in the worker) over streamable HTTP on a loopback
    port of the worker, so a client in the judge can reach it: the handle's ``.url``, and
    ``.stop()`` when done (``labkit.mcp_testing.http.HttpMcpServer``, already started)."""
    from labkit.mcp_testing.http import HttpMcpServer

    return HttpMcpServer(server).start()


def smollm2_tokenizer() -> Any:
    """The SmolLM2-135M-Instruct tokenizer with its chat template
    (``labkit.models.smollm2.tokenizer``)."""
    from labkit.models import smollm2

    return smollm2.tokenizer()


def tiny_llama(seed: int = 0) -> Any:
    """A randomly initialised 2-layer, width-64 Llama with SmolLM2's vocabulary, the same for the
    same ``seed`` (``labkit.models.smollm2.tiny_model``): what ft-01's tests train."""
    from labkit.models import smollm2

    return smollm2.tiny_model(seed)


def module_summary(model: Any) -> dict[str, Any]:
    """A torch module as plain data, for a test to read: ``{"class": type name, "parameters":
    {name: {"shape": [...], "trainable": bool}}, "modules": {name: type name}}`` (every
    parameter and submodule by its dotted name). Shared tensors appear once, under their first
    name, as ``named_parameters`` lists them."""
    return {
        "class": type(model).__name__,
        "parameters": {
            name: {"shape": list(p.shape), "trainable": bool(p.requires_grad)}
            for name, p in model.named_parameters()
        },
        "modules": {name: type(m).__name__ for name, m in model.named_modules() if name},
    }


RECIPES: dict[str, Callable[..., Any]] = {
    "smollm2_tokenizer": smollm2_tokenizer,
    "tiny_llama": tiny_llama,
    "module_summary": module_summary,
    "sqlite": sqlite,
    "client": client,
    "sdk_client": sdk_client,
    "status_error": status_error,
    "connection_error": connection_error,
    "chat_call": chat_call,
    "span_recorder": span_recorder,
    "tracer_provider": tracer_provider,
    "mcp_probe": mcp_probe,
    "mcp_http": mcp_http,
}


def build(name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Build recipe ``name`` (in the worker)."""
    recipe = RECIPES.get(name)
    if recipe is None:
        raise ValueError(f"no recipe called {name!r} (see labkit.grading.recipes)")
    return recipe(*args, **kwargs)


# --- the judge's side: naming a recipe ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A live object the worker builds (``learner.make.<name>(...)``, see ``recipes.py``)."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class Make:
    """``learner.make.client("openai", max_retries=0)``: name a recipe from ``recipes.py``."""

    def __getattr__(self, name: str) -> Callable[..., Recipe]:
        if name.startswith("_") or name not in RECIPES:
            raise AttributeError(f"no recipe called {name!r} (see labkit.grading.recipes)")

        def recipe(*args: Any, **kwargs: Any) -> Recipe:
            return Recipe(name, args, kwargs)

        recipe.__doc__ = RECIPES[name].__doc__
        return recipe


make = Make()


def client_recipe(value: Any) -> Recipe | None:
    """A test written before the worker may hand learner code an SDK client it built itself
    (``config.client("openai", max_retries=0)``): the worker gets an equal client of its own,
    built from the client's settings (base URL, key, retries, timeout)."""
    for sdk in ("openai", "anthropic"):
        module = sys.modules.get(sdk)
        kind = getattr(module, "OpenAI" if sdk == "openai" else "Anthropic", None)
        if isinstance(kind, type) and type(value) is kind:
            client: Any = value
            timeout = getattr(client, "timeout", None)
            settings: dict[str, Any] = {
                "api_key": str(client.api_key),
                "base_url": str(client.base_url),
                "max_retries": int(client.max_retries),
            }
            if isinstance(timeout, int | float):
                settings["timeout"] = float(timeout)
            return Recipe("sdk_client", (sdk,), settings)
    return None
