"""The local chat-model interface: what ``LABKIT_PROVIDER=local`` serves, whatever runs the model.

Two backends answer it: :class:`labkit.models.local_llm.LocalLLM` (the packaged SmolLM2 through
llama.cpp) and :class:`labkit.models.smollm2.TransformersLLM` (a saved transformers model, e.g.
ft-01's merged fine-tune). The local provider (:mod:`labkit.fakellm.local`) only knows
:class:`LocalChatModel`. A backend subclasses :class:`LocalChatBase` and writes one method,
:meth:`~LocalChatBase.generate`; the public ``complete``/``stream``, their defaults, the
one-generation-at-a-time lock and the thread that turns a blocking generation into an iterator
live here, once.
"""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, Unpack

Messages = list[dict[str, str]]
"""OpenAI-style chat turns: ``{"role": ..., "content": ...}`` strings."""


class Sampling(TypedDict, total=False):
    """The generation options a caller may pass to ``complete``/``stream`` (defaults:
    :class:`Generation`)."""

    max_tokens: int
    temperature: float
    seed: int | None
    stop: list[str] | None


@dataclass(frozen=True)
class Generation:
    """One generation request with every option resolved: greedy, seeded, 256 tokens at most."""

    messages: Messages
    max_tokens: int = 256
    temperature: float = 0.0
    seed: int | None = 0
    stop: list[str] | None = None  # end at any of these strings, left out of the text


@dataclass
class Completion:
    """A finished local completion."""

    text: str
    finish_reason: str  # "stop" or "length"
    prompt_tokens: int
    completion_tokens: int


class LocalChatModel(Protocol):
    """What the local provider calls: a whole reply, or the reply's text pieces as produced.

    ``stream`` fills ``finish`` (if given) with ``finish_reason``, ``prompt_tokens`` and
    ``completion_tokens`` once the stream ends.
    """

    def complete(self, messages: Messages, **options: Unpack[Sampling]) -> Completion: ...

    def stream(
        self,
        messages: Messages,
        *,
        finish: dict[str, Any] | None = None,
        **options: Unpack[Sampling],
    ) -> Iterator[str]: ...


class LocalChatBase(ABC):
    """``complete`` and ``stream`` for a backend that implements :meth:`generate`.

    Calls are serialised: one model, one generation at a time (llama.cpp's context has a single
    slot; a transformers model is not safe to share between threads).
    """

    thread_name = "labkit-local-llm"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @abstractmethod
    def generate(self, request: Generation, emit: Callable[[str], None] | None) -> Completion:
        """Run one generation; if ``emit`` is given, pass it each text piece as it is produced."""

    def complete(self, messages: Messages, **options: Unpack[Sampling]) -> Completion:
        """Generate a whole reply to ``messages``, ending at any of the ``stop`` strings (not
        included in the text)."""
        with self._lock:
            return self.generate(Generation(messages, **options), None)

    def stream(
        self,
        messages: Messages,
        *,
        finish: dict[str, Any] | None = None,
        **options: Unpack[Sampling],
    ) -> Iterator[str]:
        """Yield the reply's text pieces as the backend produces them.

        Generation blocks (llama.cpp calls back, transformers ``generate`` returns at the end), so
        it runs on a worker thread that feeds a queue; the caller iterates at its own pace and an
        error in generation is raised to it.
        """
        request = Generation(messages, **options)
        pieces: queue.Queue[str | BaseException | None] = queue.Queue()

        def emit(text: str) -> None:
            if text:
                pieces.put(text)

        def run() -> None:
            try:
                with self._lock:
                    done = self.generate(request, emit)
                if finish is not None:
                    finish["finish_reason"] = done.finish_reason
                    finish["prompt_tokens"] = done.prompt_tokens
                    finish["completion_tokens"] = done.completion_tokens
            except BaseException as exc:  # surface generation errors to the consumer
                pieces.put(exc)
            finally:
                pieces.put(None)

        threading.Thread(target=run, name=self.thread_name, daemon=True).start()
        while True:
            item = pieces.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
