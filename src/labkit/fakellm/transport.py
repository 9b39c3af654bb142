"""How bytes leave the server: JSON bodies, server-sent events, and deliberate faults.

Starlette's own responses always finish cleanly, but the fake must also misbehave on purpose:
pause between chunks, send an error event in mid-stream, or close the connection half-way. These
small ASGI response classes do that; uvicorn closes the socket when an app returns without
finishing its response, which is exactly a dropped connection as a client sees it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

FrameKind = Literal["head", "content", "tail"]

# uvicorn logs this at ERROR level whenever an app returns mid-response. In this app that only
# happens for a scripted connection drop, which is not an error worth a log line in a test run.
_DROP_MESSAGE = "ASGI callable returned without completing response."


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DROP_MESSAGE


def quiet_deliberate_drops() -> None:
    """Install (once) the log filter that hides uvicorn's message about our deliberate drops."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())


def dumps(value: Any) -> bytes:
    """Compact JSON bytes (what real APIs send)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A plain JSON response."""
    return Response(
        dumps(body), status_code=status, headers=dict(headers or {}), media_type="application/json"
    )


def sse_data(payload: Any) -> bytes:
    """An OpenAI-style ``data:``-only SSE frame."""
    data = payload if isinstance(payload, str) else dumps(payload).decode("utf-8")
    return f"data: {data}\n\n".encode()


def sse_event(event: str, payload: Any) -> bytes:
    """A named SSE frame (Anthropic, Responses API)."""
    return f"event: {event}\ndata: {dumps(payload).decode('utf-8')}\n\n".encode()


class DroppedResponse(Response):
    """Send the headers and the first half of ``body``, then close the connection."""

    def __init__(
        self, body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(
            body, status_code=status, headers=dict(headers or {}), media_type="application/json"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        half = self.body[: len(self.body) // 2]
        if half:
            await send({"type": "http.response.body", "body": half, "more_body": True})
        # Returning without the final body message makes uvicorn close the socket.


@dataclass
class Faults:
    """What to do to a stream: wait ``delay`` s before each content frame; after ``error_after``
    content frames send ``error_frame`` and end; after ``drop_after`` content frames close the
    connection."""

    delay: float = 0.0
    error_after: int | None = None
    error_frame: bytes = b""
    drop_after: int | None = None


class EventStream(Response):
    """A server-sent-events response driven by an async iterator of (kind, frame) pairs.

    ``content`` frames are the ones faults count and delays separate; ``head`` frames go out
    immediately; the first ``tail`` frame (finish reason, usage, [DONE], message_stop) triggers a
    pending error or drop, so "fail after N chunks" with fewer chunks still fails before the end.

    With ``watch_disconnect`` (lazy model output, or delays between chunks) iteration stops as
    soon as the client disconnects, so a real model stops generating. Instant streams skip the
    watcher: it costs a task group per request and they finish in microseconds anyway.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncIterator[tuple[FrameKind, bytes]],
        faults: Faults,
        headers: Mapping[str, str] | None = None,
        on_drop: Any = None,
        *,
        watch_disconnect: bool = True,
    ) -> None:
        self.frames = frames
        self.watch_disconnect = watch_disconnect
        self.faults = faults
        self.on_drop = on_drop
        self.status_code = 200
        self.background = None
        self.init_headers({"cache-control": "no-cache", **dict(headers or {})})
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-type"] + [
            (b"content-type", b"text/event-stream; charset=utf-8")
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stream() -> None:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            sent = 0
            f = self.faults
            async for kind, frame in self.frames:
                if kind in ("content", "tail"):
                    if f.drop_after is not None and (sent >= f.drop_after or kind == "tail"):
                        if self.on_drop is not None:
                            self.on_drop()
                        return
                    if f.error_after is not None and (sent >= f.error_after or kind == "tail"):
                        await send(
                            {"type": "http.response.body", "body": f.error_frame, "more_body": True}
                        )
                        break
                if kind == "content":
                    if f.delay > 0:
                        await asyncio.sleep(f.delay)
                    sent += 1
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        if not self.watch_disconnect:
            await stream()
        else:
            async with anyio.create_task_group() as group:

                async def run_stream() -> None:
                    await stream()
                    group.cancel_scope.cancel()

                async def watch_disconnect() -> None:
                    while True:
                        message = await receive()
                        if message["type"] == "http.disconnect":
                            group.cancel_scope.cancel()
                            return

                group.start_soon(run_stream)
                group.start_soon(watch_disconnect)
        close = getattr(self.frames, "aclose", None)
        if close is not None:
            await close()
