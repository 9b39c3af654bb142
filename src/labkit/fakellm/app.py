"""The ASGI application: routes, the journal middleware and the control endpoints.

``create_app(state)`` returns a Starlette app that speaks both wire protocols. OpenAI paths are
served under ``/v1`` and at the root (the openai SDK joins relative paths to whatever base URL it
was given); ``/v1/models`` answers in Anthropic's shape when the request carries an
``anthropic-version`` header (the Anthropic SDK always does), else in OpenAI's.

Control endpoints (not journaled), for a server in another process (``labkit serve``):
``GET /__labkit/journal[?path=...]``, ``POST /__labkit/reset``, ``POST /__labkit/script``
(``{"replies": [<Reply.to_dict()>...], "times": 1}``), ``GET /__labkit/status``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labkit import config
from labkit.fakellm.anthropic import errors as anthropic_errors
from labkit.fakellm.anthropic import request as anthropic_request
from labkit.fakellm.anthropic import response as anthropic_response
from labkit.fakellm.behaviours import Behaviour
from labkit.fakellm.completion import Completion, prompt_tokens
from labkit.fakellm.journal import JournalEntry
from labkit.fakellm.openai import chat as openai_chat
from labkit.fakellm.openai import embeddings as openai_embeddings
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
from labkit.fakellm.types import Api, ChatRequest, HttpError, Reply, RequestError
from labkit.fakellm.types import Message as ChatMessage
from labkit.tokens import count_tokens, decode

EMBEDDING_DIMENSION = 384


def served_models() -> list[str]:
    """Model ids the fake lists: the fake and local chat/embedding ids from labkit.config."""
    ids: list[str] = []
    for provider in ("fake", "local"):
        for kind in ("chat", "embedding"):
            model_id = config.MODELS[provider][kind]  # type: ignore[index]
            if model_id and model_id not in ids:
                ids.append(model_id)
    return ids


def _chat_models() -> list[str]:
    return [config.MODELS["fake"]["chat"], config.MODELS["local"]["chat"]]


# --------------------------------------------------------------------------- journal middleware


class JournalMiddleware:
    """Record every non-control request in the journal before the app sees it.

    The body is read here (and replayed to the app) so even a request the app rejects, or one
    whose connection the fake drops on purpose, is in the journal with its parsed JSON.
    """

    def __init__(self, app: ASGIApp, state: ProviderState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__labkit"):
            await self.app(scope, receive, send)
            return
        parts: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        entry = self.state.journal.record(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            raw_body=body,
            time=time.time(),
            monotonic=time.monotonic(),
        )
        scope.setdefault("state", {})["journal_entry"] = entry
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = int(message["status"])
            await send(message)

        await self.app(scope, replay, record_status)


# --------------------------------------------------------------------------- dialects


@dataclass(frozen=True)
class Dialect:
    """How one endpoint renders errors and request ids."""

    api: Api
    request_id_header: str

    def error(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """An error response in this provider's shape."""
        if self.api == "anthropic":
            if param and not message.startswith(param.split(".")[0]):
                message = f"{param}: {message}"
            body = anthropic_errors.error_body(status, message, type=type)
        else:
            body = openai_errors.error_body(status, message, type=type, param=param)
        return json_response(body, status, headers)

    def scripted_error(self, error: HttpError, headers: dict[str, str]) -> Response:
        """A scripted HTTP error (its headers merged over the request-id header)."""
        body = (
            anthropic_errors.http_error_body(error)
            if self.api == "anthropic"
            else openai_errors.http_error_body(error)
        )
        return json_response(body, error.status, {**headers, **dict(error.headers)})


OPENAI = Dialect("openai", "x-request-id")
ANTHROPIC = Dialect("anthropic", "request-id")


def _dialect_for(request: Request) -> Dialect:
    return ANTHROPIC if request.headers.get("anthropic-version") else OPENAI


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise RequestError(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
            "using your HTTP library correctly. The API expects a JSON payload.)"
        ) from exc


def _check_openai_auth(headers: dict[str, str]) -> None:
    auth = headers.get("authorization", "")
    if not auth.lower().startswith("bearer ") or not auth[7:].strip():
        raise RequestError(
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            status=401,
        )


def _entry(request: Request) -> JournalEntry | None:
    found = request.scope.get("state", {}).get("journal_entry")
    return found if isinstance(found, JournalEntry) else None


# --------------------------------------------------------------------------- the app


def create_app(
    state: ProviderState | None = None,
    *,
    behaviours: Iterable[Behaviour] | None = None,
    stream_delay: float = 0.0,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> Starlette:
    """The fake provider as an ASGI app (serve it with uvicorn, or use :class:`FakeLLM`).

    Pass ``state`` to share it with a controller, or ``behaviours`` (e.g. a local-model
    behaviour first) and ``stream_delay`` to build a fresh one. ``embed`` replaces the packaged
    MiniLM for ``/v1/embeddings`` (a function from texts to an (n, d) float32 array).
    """
    st = state if state is not None else ProviderState(behaviours, stream_delay)
    embedder = embed

    def embed_texts(texts: list[str]) -> np.ndarray:
        if embedder is not None:
            return embedder(texts)
        from labkit.models.embedder import get_embedder

        return get_embedder().embed(texts)

    # -- generation ---------------------------------------------------------------------------

    async def generate(request: Request, req: ChatRequest, dialect: Dialect) -> Response:
        entry = _entry(request)
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
        if req.endpoint == "messages":
            return await render_messages(req, reply, base_headers, entry)
        if req.endpoint == "responses":
            return await render_responses(req, reply, base_headers, entry)
        return await render_chat(req, reply, base_headers, entry)

    def mark_dropped(entry: JournalEntry | None) -> Callable[[], None]:
        def mark() -> None:
            if entry is not None:
                entry.dropped = True

        return mark

    def finish_plain(
        body: dict[str, Any],
        reply: Reply,
        headers: dict[str, str],
        entry: JournalEntry | None,
        dialect: Dialect,
    ) -> Response:
        if reply.stream_error is not None:
            err = reply.stream_error
            return dialect.error(
                500, err.message, type=err.type, headers={**headers, "x-should-retry": "false"}
            )
        if reply.drop_after is not None:
            mark_dropped(entry)()
            return DroppedResponse(dumps(body), headers=headers)
        return json_response(body, headers=headers)

    def slow_stream(comp: Completion) -> bool:
        # Only streams that can take a while need to notice a client that went away.
        return comp.lazy is not None or comp.chunk_delay > 0

    def faults(
        comp: Completion, reply: Reply, error_frame: Callable[[str, str | None], bytes]
    ) -> Faults:
        err = reply.stream_error
        return Faults(
            delay=comp.chunk_delay,
            error_after=err.after if err is not None else None,
            error_frame=error_frame(err.message, err.type) if err is not None else b"",
            drop_after=reply.drop_after,
        )

    async def render_chat(
        req: ChatRequest, reply: Reply, headers: dict[str, str], entry: JournalEntry | None
    ) -> Response:
        comp = Completion.build(req, reply, st, "call_")
        completion_id = st.next_id("chatcmpl-")
        if not req.stream:
            await run_in_threadpool(comp.full_text)
            return finish_plain(
                openai_chat.chat_body(req, comp, completion_id), reply, headers, entry, OPENAI
            )
        frames = openai_chat.chat_frames(req, comp, completion_id)
        return EventStream(
            frames,
            faults(comp, reply, openai_errors.stream_error_frame),
            headers,
            mark_dropped(entry),
            watch_disconnect=slow_stream(comp),
        )

    async def render_responses(
        req: ChatRequest, reply: Reply, headers: dict[str, str], entry: JournalEntry | None
    ) -> Response:
        comp = Completion.build(req, reply, st, "call_")
        response_id = st.next_id("resp_")
        ids = openai_responses.response_ids(comp, st.next_id)

        def remember() -> None:
            text = comp.text if comp.lazy is None else "".join(comp.streamed_text)
            st.remember_response(
                response_id,
                [
                    *req.messages,
                    ChatMessage("assistant", text or "", tool_calls=tuple(comp.tool_calls)),
                ],
            )

        if not req.stream:
            await run_in_threadpool(comp.full_text)
            remember()
            return finish_plain(
                openai_responses.response_body(req, comp, response_id, ids),
                reply,
                headers,
                entry,
                OPENAI,
            )

        async def frames() -> AsyncIterator[tuple[FrameKind, bytes]]:
            async for frame in openai_stream.response_frames(req, comp, response_id, ids):
                yield frame
            remember()

        return EventStream(
            frames(),
            faults(comp, reply, openai_errors.response_error_frame),
            headers,
            mark_dropped(entry),
            watch_disconnect=slow_stream(comp),
        )

    async def render_messages(
        req: ChatRequest, reply: Reply, headers: dict[str, str], entry: JournalEntry | None
    ) -> Response:
        comp = Completion.build(req, reply, st, "toolu_")
        message_id = st.next_id("msg_")
        if not req.stream:
            await run_in_threadpool(comp.full_text)
            return finish_plain(
                anthropic_response.message_body(req, comp, message_id),
                reply,
                headers,
                entry,
                ANTHROPIC,
            )
        frames = anthropic_response.message_frames(req, comp, message_id)
        return EventStream(
            frames,
            faults(comp, reply, anthropic_errors.stream_error_frame),
            headers,
            mark_dropped(entry),
            watch_disconnect=slow_stream(comp),
        )

    # -- OpenAI routes ----------------------------------------------------------------------------

    async def chat_completions(request: Request) -> Response:
        headers = _headers(request)
        try:
            _check_openai_auth(headers)
            req = openai_chat.parse_chat(await _json_body(request), headers)
        except RequestError as exc:
            return OPENAI.error(exc.status, exc.message, param=exc.param, type=exc.kind)
        return await generate(request, req, OPENAI)

    async def responses(request: Request) -> Response:
        headers = _headers(request)
        try:
            _check_openai_auth(headers)
            body = await _json_body(request)
            previous = None
            if isinstance(body, dict) and body.get("previous_response_id"):
                previous = st.recall_response(str(body["previous_response_id"]))
                if previous is None:
                    raise RequestError(
                        f"Previous response with id '{body['previous_response_id']}' not found.",
                        param="previous_response_id",
                    )
            req = openai_responses.parse_responses(body, headers, previous)
        except RequestError as exc:
            return OPENAI.error(exc.status, exc.message, param=exc.param, type=exc.kind)
        return await generate(request, req, OPENAI)

    async def embeddings(request: Request) -> Response:
        headers = _headers(request)
        try:
            _check_openai_auth(headers)
            ereq = openai_embeddings.parse_embeddings(
                await _json_body(request), decode, EMBEDDING_DIMENSION
            )
        except RequestError as exc:
            return OPENAI.error(exc.status, exc.message, param=exc.param, type=exc.kind)
        base_headers = {"x-request-id": st.next_id("req_")}
        reply = st.take_scripted("openai", "embeddings")
        entry = _entry(request)
        if reply is not None:
            if entry is not None:
                entry.responder = "script"
            if reply.delay > 0:
                await asyncio.sleep(reply.delay)
            if reply.error is not None:
                return OPENAI.scripted_error(reply.error, base_headers)
        try:
            vectors = await run_in_threadpool(embed_texts, ereq.texts)
        except Exception as exc:  # the model package missing or broken: say so, do not retry
            return OPENAI.error(
                503,
                f"the fake provider could not embed: {exc}",
                headers={**base_headers, "x-should-retry": "false"},
            )
        tokens = sum(count_tokens(t) for t in ereq.texts)
        body = openai_embeddings.embeddings_body(ereq, vectors, tokens)
        if reply is not None and reply.drop_after is not None:
            mark_dropped(entry)()
            return DroppedResponse(dumps(body), headers=base_headers)
        return json_response(body, headers=base_headers)

    async def list_models(request: Request) -> Response:
        dialect = _dialect_for(request)
        if dialect is ANTHROPIC:
            try:
                anthropic_request.check_headers(_headers(request))
            except RequestError as exc:
                return ANTHROPIC.error(exc.status, exc.message, type=exc.kind)
            return json_response(
                anthropic_response.models_body(_chat_models()),
                headers={"request-id": st.next_id("req_")},
            )
        return json_response(
            openai_embeddings.models_body(served_models()),
            headers={"x-request-id": st.next_id("req_")},
        )

    async def get_model(request: Request) -> Response:
        dialect = _dialect_for(request)
        model_id = request.path_params["model_id"]
        known = _chat_models() if dialect is ANTHROPIC else served_models()
        if model_id not in known:
            return dialect.error(
                404, f"The model '{model_id}' does not exist", param="model", type=None
            )
        body = (
            anthropic_response.model_info(model_id)
            if dialect is ANTHROPIC
            else openai_embeddings.model_object(model_id)
        )
        return json_response(body)

    # -- Anthropic routes ---------------------------------------------------------------------

    async def messages(request: Request) -> Response:
        headers = _headers(request)
        try:
            anthropic_request.check_headers(headers)
            req = anthropic_request.parse_messages(await _json_body(request), headers)
        except RequestError as exc:
            return ANTHROPIC.error(exc.status, exc.message, type=exc.kind)
        return await generate(request, req, ANTHROPIC)

    async def count_tokens_route(request: Request) -> Response:
        headers = _headers(request)
        try:
            anthropic_request.check_headers(headers)
            req = anthropic_request.parse_messages(
                await _json_body(request), headers, require_max_tokens=False
            )
        except RequestError as exc:
            return ANTHROPIC.error(exc.status, exc.message, type=exc.kind)
        entry = _entry(request)
        if entry is not None:
            entry.chat = req
        return json_response(
            {"input_tokens": prompt_tokens(req)}, headers={"request-id": st.next_id("req_")}
        )

    # -- control ------------------------------------------------------------------------------

    async def journal(request: Request) -> Response:
        path = request.query_params.get("path")
        return json_response({"entries": st.journal.to_list(path)})

    async def reset(request: Request) -> Response:
        st.reset()
        return json_response({"ok": True})

    async def script(request: Request) -> Response:
        try:
            raw = await request.body()
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise RequestError("the body must be JSON") from exc
            queued = st.script.add_json(body)
        except RequestError as exc:
            return json_response({"error": {"message": exc.message, "param": exc.param}}, 400)
        return json_response({"queued": queued, "pending": len(st.script)})

    async def status(request: Request) -> Response:
        return json_response(st.describe())

    # -- errors -------------------------------------------------------------------------------

    async def not_found(request: Request, exc: Exception) -> Response:
        dialect = _dialect_for(request)
        status_code = int(getattr(exc, "status_code", 404))
        message = (
            f"Invalid URL ({request.method} {request.url.path})"
            if status_code == 404
            else f"Method {request.method} is not allowed on {request.url.path}"
        )
        return dialect.error(
            status_code, message, type="not_found_error" if status_code == 404 else None
        )

    async def crashed(request: Request, exc: Exception) -> Response:
        # A bug in the fake itself: say so, and tell the SDK not to retry it three times.
        return _dialect_for(request).error(
            500,
            f"the fake provider failed: {type(exc).__name__}: {exc}",
            headers={"x-should-retry": "false"},
        )

    routes = [
        Route("/__labkit/journal", journal, methods=["GET"]),
        Route("/__labkit/reset", reset, methods=["POST"]),
        Route("/__labkit/script", script, methods=["POST"]),
        Route("/__labkit/status", status, methods=["GET"]),
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens_route, methods=["POST"]),
    ]
    for prefix in ("/v1", ""):
        routes += [
            Route(f"{prefix}/chat/completions", chat_completions, methods=["POST"]),
            Route(f"{prefix}/responses", responses, methods=["POST"]),
            Route(f"{prefix}/embeddings", embeddings, methods=["POST"]),
            Route(f"{prefix}/models", list_models, methods=["GET"]),
            Route(f"{prefix}/models/{{model_id:path}}", get_model, methods=["GET"]),
        ]
    app = Starlette(
        routes=routes,
        exception_handlers={404: not_found, 405: not_found, Exception: crashed},
    )
    app.state.provider = st
    app.add_middleware(JournalMiddleware, state=st)
    return app
