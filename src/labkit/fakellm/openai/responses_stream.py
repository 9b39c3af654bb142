"""The Responses API's streaming: named SSE events, each with a ``sequence_number``, and the
mid-stream ``error`` event."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from labkit.fakellm.completion import Completion
from labkit.fakellm.openai.responses import response_body, response_status
from labkit.fakellm.transport import FrameKind, sse_event
from labkit.fakellm.types import ChatRequest, ToolCall

Frames = AsyncIterator[tuple[FrameKind, bytes]]


class _Events:
    """Numbers the events of one stream."""

    def __init__(self) -> None:
        self.seq = 0

    def __call__(self, kind: str, payload: dict[str, Any]) -> bytes:
        frame = sse_event(kind, {"type": kind, "sequence_number": self.seq, **payload})
        self.seq += 1
        return frame


async def response_frames(
    req: ChatRequest, comp: Completion, response_id: str, ids: dict[str, str]
) -> Frames:
    """Named SSE events of a streamed Responses call: created, in_progress, the message item
    (when there is text) with its text deltas, one function_call item per call, then completed
    (or incomplete)."""
    event = _Events()
    empty = response_body(req, None, response_id, ids, status="in_progress")
    yield "head", event("response.created", {"response": empty})
    yield "head", event("response.in_progress", {"response": empty})
    index = 0
    if comp.lazy is not None or bool(comp.text) or not comp.tool_calls:
        async for frame in _message_frames(event, comp, ids["message"]):
            yield frame
        index = 1
    for offset, call in enumerate(comp.tool_calls):
        for frame in _call_frames(event, comp, call, ids[f"fc:{call.id}"], index + offset):
            yield frame
    final = response_body(req, comp, response_id, ids)
    kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    yield "tail", event(kind, {"response": final})


async def _message_frames(event: _Events, comp: Completion, item_id: str) -> Frames:
    """The message item at output index 0: added, its text part, deltas, done."""
    at = {"item_id": item_id, "output_index": 0, "content_index": 0}
    message_item: dict[str, Any] = {
        "type": "message",
        "id": item_id,
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    yield "head", event("response.output_item.added", {"output_index": 0, "item": message_item})
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    yield "head", event("response.content_part.added", {**at, "part": part})
    async for piece in comp.atext_pieces():
        yield (
            "content",
            event("response.output_text.delta", {**at, "delta": piece, "logprobs": []}),
        )
    text = "".join(comp.streamed_text)
    yield "tail", event("response.output_text.done", {**at, "text": text, "logprobs": []})
    done_part = {**part, "text": text}
    yield "tail", event("response.content_part.done", {**at, "part": done_part})
    done_item = {**message_item, "status": response_status(comp), "content": [done_part]}
    yield "tail", event("response.output_item.done", {"output_index": 0, "item": done_item})


def _call_frames(
    event: _Events, comp: Completion, call: ToolCall, fc_id: str, out_index: int
) -> Iterator[tuple[FrameKind, bytes]]:
    """One function_call item: added, its argument deltas, done."""
    item: dict[str, Any] = {
        "type": "function_call",
        "id": fc_id,
        "call_id": call.id,
        "name": call.name,
        "arguments": "",
        "status": "in_progress",
    }
    yield (
        "content",
        event("response.output_item.added", {"output_index": out_index, "item": item}),
    )
    at = {"item_id": fc_id, "output_index": out_index}
    for piece in comp.argument_pieces(call):
        yield "content", event("response.function_call_arguments.delta", {**at, "delta": piece})
    yield (
        "tail",
        event(
            "response.function_call_arguments.done",
            {**at, "name": call.name, "arguments": call.arguments},
        ),
    )
    done_item = {**item, "arguments": call.arguments, "status": "completed"}
    yield "tail", event("response.output_item.done", {"output_index": out_index, "item": done_item})
