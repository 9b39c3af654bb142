"""The local provider: the fake provider's app answering with the real local model (SmolLM2).

``LABKIT_PROVIDER=local`` and ``labkit serve --local`` use it. The model itself is
:mod:`labkit.models.local_llm`; this module adapts it to the fakellm behaviour chain and starts the
in-process server that :func:`labkit.config.openai_client` points at. ``labkit.config`` sits below
the fake provider, so it does not import this module: it finds :func:`local_server_url` through the
``labkit.in_process_providers`` entry point declared in pyproject.toml.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from labkit.fakellm.server import FakeLLM
from labkit.fakellm.types import Reply
from labkit.models.local_chat import LocalChatModel, Messages, Sampling
from labkit.models.local_llm import get_local_llm


def to_local_messages(request: Any) -> Messages:
    """Flatten a normalised ChatRequest into the plain role/content turns SmolLM2 understands.

    The small model has no tool-call format, so tool calls and tool results become text turns
    (it can still read a tool's output and answer from it).
    """
    turns: list[dict[str, str]] = []
    if request.system:
        turns.append({"role": "system", "content": request.system})
    for message in request.messages:
        parts = [message.text] if message.text else []
        parts += [f"(called {c.name} with {c.arguments})" for c in message.tool_calls]
        parts += [f"Tool result: {r.content}" for r in message.tool_results]
        role = "assistant" if message.role == "assistant" else "user"
        turns.append({"role": role, "content": "\n".join(parts)})
    return turns


class _FinishingStream:
    """A local model stream that, once exhausted, tells the fake why it ended.

    The fake provider reads ``finish_reason`` from a lazy stream after the last piece, so a reply
    cut by ``max_tokens`` reaches the client as ``length`` / ``max_tokens``, as from a real API.
    """

    def __init__(self, llm: LocalChatModel, messages: Messages, options: Sampling) -> None:
        self._llm, self._messages, self._options = llm, messages, options
        self._info: dict[str, Any] = {}

    @property
    def finish_reason(self) -> str:
        """``length`` if generation hit the token limit, else ``stop``."""
        return "length" if self._info.get("finish_reason") == "length" else "stop"

    def __iter__(self) -> Iterator[str]:
        return self._llm.stream(self._messages, finish=self._info, **self._options)


class LocalModelBehaviour:
    """A fakellm behaviour that answers every request with the real local model.

    Streaming requests get a lazily generated ``text_stream`` so tokens reach the client as
    llama.cpp produces them; other requests get the whole completion with its finish reason.
    """

    def __init__(self, llm: LocalChatModel | None = None, default_max_tokens: int = 256) -> None:
        self._llm = llm
        self.default_max_tokens = default_max_tokens

    @property
    def llm(self) -> LocalChatModel:
        """The model (loaded on the first request, not when the server starts): the packaged
        SmolLM2, a fine-tuned model (``LABKIT_LOCAL_MODEL``), or one handed in."""
        if self._llm is None:
            self._llm = get_local_llm()
        return self._llm

    def respond(self, request: Any) -> Any:
        """Generate the reply to ``request`` (a labkit.fakellm ChatRequest)."""
        messages = to_local_messages(request)
        options: Sampling = {
            "max_tokens": request.max_tokens or self.default_max_tokens,
            "temperature": request.temperature if request.temperature is not None else 0.0,
            "seed": request.seed if request.seed is not None else 0,
            "stop": list(request.stop) or None,  # OpenAI `stop` / Anthropic `stop_sequences`
        }
        if request.stream:
            return Reply(text_stream=_FinishingStream(self.llm, messages, options))
        done = self.llm.complete(messages, **options)
        return Reply(
            text=done.text, finish_reason="length" if done.finish_reason == "length" else "stop"
        )


def behaviours() -> list[Any]:
    """The behaviour chain of ``labkit serve --local``: the local model answers everything."""
    return [LocalModelBehaviour()]


_server_lock = threading.Lock()
_server: Any = None


def local_server_url() -> str:
    """URL of this process's local-model server, started on a free port on first use.

    ``LABKIT_PROVIDER=local`` needs no second terminal: the first client asked for starts the
    fakellm app with :class:`LocalModelBehaviour` in a background thread, so both SDKs (and
    streaming) work against a real model exactly as they do against the fake.
    """
    global _server
    with _server_lock:
        if _server is None:
            _server = FakeLLM(behaviours=behaviours()).start(port=0)
        return str(_server.url)
