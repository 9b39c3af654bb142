"""Answering a parsed chat request: take the scripted reply or ask the behaviour chain, then
render the completion in the endpoint's wire format, plain or streamed, with the reply's faults
(delay, mid-stream error, dropped connection)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from labkit.fakellm.anthropic import errors as anthropic_errors
from labkit.fakellm.anthropic import response as anthropic_response
from labkit.fakellm.completion import Completion
from labkit.fakellm.dialect import ANTHROPIC, OPENAI, Dialect
from labkit.fakellm.journal import JournalEntry
from labkit.fakellm.openai import chat as openai_chat
from labkit.fakellm.openai import errors as openai_errors
from labkit.fakellm.openai import responses as openai_responses
from labkit.fakellm.openai import responses_stream as openai_stream
from labkit.fakellm.state import HandlerFailed, ProviderState
from labkit.fakellm.transport import (
    DroppedResponse,
    EventStream,
    Faults,
    FrameKind,
    dumps,
    json_response,
)
from labkit.fakellm.types import ChatRequest, Reply
from labkit.fakellm.types import Message as ChatMessage

Frames = AsyncIterator[tuple[FrameKind, bytes]]


def _nothing() -> None:
    return None


@dataclass
class Rendering:
    """How one endpoint renders one completion: its body, its frames, its mid-stream error frame,
    and what to do once the whole completion is out (the Responses API stores the turn)."""

    comp: Completion
    dialect: Dialect
    body: Callable[[], dict[str, Any]]
    frames: Callable[[], Frames]
    error_frame: Callable[[str, str | None], bytes]
    done: Callable[[], None] = field(default=_nothing)


@dataclass(frozen=True)
class _Wire:
    """An endpoint whose body and frames need only the completion and its id."""

    dialect: Dialect
    call_prefix: str  # of tool call ids
    id_prefix: str  # of the completion / message id
    body: Callable[[ChatRequest, Completion, str], dict[str, Any]]
    frames: Callable[[ChatRequest, Completion, str], Frames]
    error_frame: Callable[[str, str | None], bytes]


_CHAT = _Wire(
    OPENAI,
    "call_",
    "chatcmpl-",
    openai_chat.chat_body,
    openai_chat.chat_frames,
    openai_errors.stream_error_frame,
)
_MESSAGES = _Wire(
    ANTHROPIC,
    "toolu_",
    "msg_",
    anthropic_response.message_body,
    anthropic_response.message_frames,
    anthropic_errors.stream_error_frame,
)


def mark_dropped(entry: JournalEntry | None) -> Callable[[], None]:
    """A callback that marks the journal entry as a dropped connection."""

    def mark() -> None:
        if entry is not None:
            entry.dropped = True

    return mark


class Generator:
    """Chat, Responses and Messages generation over one provider state."""

    def __init__(self, state: ProviderState) -> None:
        self.st = state

    async def generate(
        self, req: ChatRequest, dialect: Dialect, entry: JournalEntry | None
    ) -> Response:
        """The response to a parsed request: scripted reply first, else the behaviour chain."""
        st = self.st
        if entry is not None:
            entry.chat = req
        base_headers = {dialect.request_id_header: st.next_id("req_")}
        try:
            scripted = st.script.take(req.api, req.endpoint)
            if scripted is not None:
                reply, responder = scripted, "script"
            elif st.runs_inline:
                reply, responder = st.resolve_unscripted(req)
            else:
                reply, responder = await run_in_threadpool(st.resolve_unscripted, req)
        except HandlerFailed as exc:
            return dialect.error(500, str(exc), headers={**base_headers, "x-should-retry": "false"})
        if entry is not None:
            entry.responder = responder
        if reply.delay > 0:
            await asyncio.sleep(reply.delay)
        if reply.error is not None:
            return dialect.scripted_error(reply.error, base_headers)
        if req.endpoint == "responses":
            rendering = self._responses(req, reply)
        else:
            wire = _MESSAGES if req.endpoint == "messages" else _CHAT
            rendering = self._rendering(req, reply, wire)
        return await self._render(rendering, req, reply, base_headers, entry)

    def _rendering(self, req: ChatRequest, reply: Reply, wire: _Wire) -> Rendering:
        comp = Completion.build(req, reply, self.st, wire.call_prefix)
        object_id = self.st.next_id(wire.id_prefix)
        return Rendering(
            comp,
            wire.dialect,
            lambda: wire.body(req, comp, object_id),
            lambda: wire.frames(req, comp, object_id),
            wire.error_frame,
        )

    def _responses(self, req: ChatRequest, reply: Reply) -> Rendering:
        st = self.st
        comp = Completion.build(req, reply, st, "call_")
        response_id = st.next_id("resp_")
        ids = openai_responses.response_ids(comp, st.next_id)

        def remember() -> None:
            text = comp.text if comp.lazy is None else "".join(comp.streamed_text)
            turn = ChatMessage("assistant", text or "", tool_calls=tuple(comp.tool_calls))
            st.remember_response(response_id, [*req.messages, turn])

        return Rendering(
            comp,
            OPENAI,
            lambda: openai_responses.response_body(req, comp, response_id, ids),
            lambda: openai_stream.response_frames(req, comp, response_id, ids),
            openai_errors.response_error_frame,
            remember,
        )

    async def _render(
        self,
        out: Rendering,
        req: ChatRequest,
        reply: Reply,
        headers: dict[str, str],
        entry: JournalEntry | None,
    ) -> Response:
        comp = out.comp
        if not req.stream:
            await run_in_threadpool(comp.full_text)
            out.done()
            return _finish_plain(out.body(), reply, headers, entry, out.dialect)

        async def frames() -> Frames:
            async for frame in out.frames():
                yield frame
            out.done()

        err = reply.stream_error
        faults = Faults(
            delay=comp.chunk_delay,
            error_after=err.after if err is not None else None,
            error_frame=out.error_frame(err.message, err.type) if err is not None else b"",
            drop_after=reply.drop_after,
        )
        # Only streams that can take a while need to notice a client that went away.
        slow = comp.lazy is not None or comp.chunk_delay > 0
        return EventStream(frames(), faults, headers, mark_dropped(entry), watch_disconnect=slow)


def _finish_plain(
    body: dict[str, Any],
    reply: Reply,
    headers: dict[str, str],
    entry: JournalEntry | None,
    dialect: Dialect,
) -> Response:
    """A non-streamed body, or the reply's fault in its place."""
    if reply.stream_error is not None:
        err = reply.stream_error
        return dialect.error(
            500, err.message, type=err.type, headers={**headers, "x-should-retry": "false"}
        )
    if reply.drop_after is not None:
        mark_dropped(entry)()
        return DroppedResponse(dumps(body), headers=headers)
    return json_response(body, headers=headers)
