"""Rendering a settled completion in Anthropic's shapes: the ``message`` object, its named-event
stream, and the model list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from labkit.fakellm.completion import Completion
from labkit.fakellm.transport import FrameKind, sse_event
from labkit.fakellm.types import ChatRequest, ToolCall

MODEL_CREATED_AT = "2025-01-01T00:00:00Z"
FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def _input_object(call: ToolCall) -> dict[str, Any]:
    """A tool_use ``input`` must be an object: arguments that do not decode to one are sent as
    ``{"raw_arguments": "<the text>"}`` (only streaming can carry truly invalid JSON)."""
    parsed = call.parsed_arguments()
    return parsed if isinstance(parsed, dict) else {"raw_arguments": call.arguments}


def _stop_reason(comp: Completion) -> str:
    if comp.stop_sequence is not None:
        return "stop_sequence"
    return FINISH_TO_STOP[comp.finish]


def _usage(input_tokens: int, output_tokens: int, cached: int = 0) -> dict[str, Any]:
    # Anthropic's input_tokens excludes what was read from the prompt cache.
    return {
        "input_tokens": input_tokens - cached,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "service_tier": "standard",
    }


def message_body(req: ChatRequest, comp: Completion, message_id: str) -> dict[str, Any]:
    """A ``message`` object."""
    text = comp.full_text()
    content: list[dict[str, Any]] = []
    if text or not comp.tool_calls:
        content.append({"type": "text", "text": text or ""})
    for c in comp.tool_calls:
        content.append({"type": "tool_use", "id": c.id, "name": c.name, "input": _input_object(c)})
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": req.model,
        "content": content,
        "stop_reason": _stop_reason(comp),
        "stop_sequence": comp.stop_sequence,
        "usage": _usage(comp.prompt_tokens, comp.completion_tokens(), comp.cached_tokens),
    }


Frames = AsyncIterator[tuple[FrameKind, bytes]]


def _block_event(kind: str, index: int, **payload: Any) -> bytes:
    """A ``content_block_start`` / ``_delta`` / ``_stop`` event for block ``index``."""
    return sse_event(kind, {"type": kind, "index": index, **payload})


async def message_frames(req: ChatRequest, comp: Completion, message_id: str) -> Frames:
    """Named SSE events: message_start, per block content_block_start → deltas → stop (a ping
    after the first block starts, as the real API sends), message_delta, message_stop."""
    start: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": req.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(comp.prompt_tokens, 1, comp.cached_tokens),
    }
    yield "head", sse_event("message_start", {"type": "message_start", "message": start})
    index = 0
    if comp.lazy is not None or bool(comp.text) or not comp.tool_calls:
        async for frame in _text_block_frames(comp):
            yield frame
        index = 1
    for offset, c in enumerate(comp.tool_calls):
        i = index + offset
        block: dict[str, Any] = {"type": "tool_use", "id": c.id, "name": c.name, "input": {}}
        yield "content", _block_event("content_block_start", i, content_block=block)
        for piece in comp.argument_pieces(c):
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield "content", _block_event("content_block_delta", i, delta=delta)
        yield "content", _block_event("content_block_stop", i)
    end = {"stop_reason": _stop_reason(comp), "stop_sequence": comp.stop_sequence}
    usage = {"output_tokens": comp.completion_tokens()}
    yield (
        "tail",
        sse_event("message_delta", {"type": "message_delta", "delta": end, "usage": usage}),
    )
    yield "tail", sse_event("message_stop", {"type": "message_stop"})


async def _text_block_frames(comp: Completion) -> Frames:
    """The text block at index 0, with the ping after its start."""
    text_block = {"type": "text", "text": ""}
    yield "head", _block_event("content_block_start", 0, content_block=text_block)
    yield "head", sse_event("ping", {"type": "ping"})
    async for piece in comp.atext_pieces():
        delta = {"type": "text_delta", "text": piece}
        yield "content", _block_event("content_block_delta", 0, delta=delta)
    yield "tail", _block_event("content_block_stop", 0)


def model_info(model_id: str) -> dict[str, Any]:
    """One Anthropic ``model`` object."""
    return {
        "type": "model",
        "id": model_id,
        "display_name": f"{model_id} (labkit fake)",
        "created_at": MODEL_CREATED_AT,
        "lifecycle": "active",
    }


def models_body(model_ids: list[str]) -> dict[str, Any]:
    """``GET /v1/models`` for the Anthropic SDK: one page, ``has_more: false`` so pagination ends."""
    data = [model_info(m) for m in model_ids]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
