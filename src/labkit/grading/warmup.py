"""Warm the zygote past the SDKs' lazy first use, so no learner process pays for it again.

Importing ``openai`` or ``anthropic`` is half the cost: the first request then imports the
resource modules, builds the response types' parsers and the SSE decoder, and the first
``count_tokens`` reads the tokenizer's 1.7 MB vocabulary. A process forked from the zygote paid
all of that again, each time (a chat-01 grade forks a worker and three CLI runs): measured here,
a CLI run forked after this warm-up took 0.1-0.27 s instead of 0.4 s.

So the zygote, before it forks anything, makes one plain and one streamed request with each SDK it
preloaded, answered in-process by the HTTP library's own mock transport with canned responses
(no socket, no network, nothing learner-provided), and counts one token. What stays behind is
only what any first request leaves (imported modules, cached parsers, the loaded vocabulary),
the same for every submission. A warm-up that fails (a new SDK release changed a shape) only
costs speed: it is skipped and grading goes on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

_OPENAI_REPLY = {
    "id": "warm",
    "object": "chat.completion",
    "created": 0,
    "model": "warm",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
_OPENAI_CHUNK = {
    "id": "warm",
    "object": "chat.completion.chunk",
    "created": 0,
    "model": "warm",
    "choices": [
        {"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}
    ],
}
_ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "warm",
    "type": "message",
    "role": "assistant",
    "model": "warm",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
_ANTHROPIC_EVENTS: list[dict[str, Any]] = [
    {"type": "message_start", "message": {**_ANTHROPIC_MESSAGE, "content": []}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 1},
    },
    {"type": "message_stop"},
]


def _sse(events: list[tuple[str | None, Any]]) -> bytes:
    lines = []
    for name, data in events:
        if name:
            lines.append(f"event: {name}")
        lines.append(f"data: {data if isinstance(data, str) else json.dumps(data)}")
        lines.append("")
    return ("\n".join(lines) + "\n").encode()


def _openai() -> None:
    import httpx
    import openai

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content or b"{}").get("stream"):
            body = _sse([(None, _OPENAI_CHUNK), (None, "[DONE]")])
            return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=_OPENAI_REPLY)

    http = httpx.Client(transport=httpx.MockTransport(answer))
    client = openai.OpenAI(api_key="warm", base_url="http://warm.invalid/v1", http_client=http)
    messages: Any = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model="warm", messages=messages)
    for _ in client.chat.completions.create(model="warm", messages=messages, stream=True):
        pass
    client.close()
    from labkit.config import ssl_context

    ssl_context("openai")  # what every client made through labkit.config shares


def _anthropic() -> None:
    import anthropic
    import httpx2

    def answer(request: Any) -> Any:
        if json.loads(request.content or b"{}").get("stream"):
            body = _sse([(e["type"], e) for e in _ANTHROPIC_EVENTS])
            return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=_ANTHROPIC_MESSAGE)

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    client = anthropic.Anthropic(api_key="warm", base_url="http://warm.invalid", http_client=http)
    messages: Any = [{"role": "user", "content": "hi"}]
    client.messages.create(model="warm", max_tokens=1, messages=messages)
    with client.messages.stream(model="warm", max_tokens=1, messages=messages) as stream:
        for _ in stream.text_stream:
            pass
    client.close()
    from labkit.config import ssl_context

    ssl_context("anthropic")


def _tokens() -> None:
    from labkit.tokens import count_tokens

    count_tokens("warm")


def _transformers() -> None:
    # ``import transformers`` is lazy: the model and tokenizer classes are what cost seconds.
    # Imports only: running a torch op here would start its thread pool, which a fork cannot keep.
    from transformers import (  # noqa: F401
        AutoModelForCausalLM,
        AutoTokenizer,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    import labkit.models.smollm2  # noqa: F401


def _peft() -> None:
    from peft import LoraConfig, PeftModel, get_peft_model  # noqa: F401


def _scipy() -> None:
    from scipy import stats  # noqa: F401


# preloaded name -> what warms it past first use
WARMERS: dict[str, Callable[[], None]] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "labkit.tokens": _tokens,
    "transformers": _transformers,
    "peft": _peft,
    "scipy": _scipy,
}


def warm(preloaded: list[str]) -> list[str]:
    """Run the warmers of the preloaded packages; returns what failed (``"name: error"``).

    ``LABKIT_NO_WARMUP=1`` skips them (benchmarks compare with and without).
    """
    if os.environ.get("LABKIT_NO_WARMUP"):
        return []
    failed = []
    for name in preloaded:
        warmer = WARMERS.get(name)
        if warmer is None:
            continue
        try:
            warmer()
        except Exception as exc:  # speed only: grading goes on without this warm-up
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    return failed
