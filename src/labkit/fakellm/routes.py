"""The route handlers: OpenAI and Anthropic endpoints, the control endpoints, the error pages.

Each handler parses the request in its provider's dialect and hands generation to
:class:`~labkit.fakellm.generate.Generator`; :func:`labkit.fakellm.app.create_app` maps paths
to them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from labkit import config
from labkit.fakellm.anthropic import request as anthropic_request
from labkit.fakellm.anthropic import response as anthropic_response
from labkit.fakellm.completion import prompt_tokens
from labkit.fakellm.dialect import (
    ANTHROPIC,
    OPENAI,
    check_openai_auth,
    dialect_for,
    headers_of,
    journal_entry,
    json_body,
)
from labkit.fakellm.generate import Generator, mark_dropped
from labkit.fakellm.openai import chat as openai_chat
from labkit.fakellm.openai import embeddings as openai_embeddings
from labkit.fakellm.openai import responses as openai_responses
from labkit.fakellm.state import ProviderState
from labkit.fakellm.transport import DroppedResponse, dumps, json_response
from labkit.fakellm.types import RequestError
from labkit.tokens import count_tokens, decode

EMBEDDING_DIMENSION = 384


def served_models() -> list[str]:
    """Model ids the fake lists: the fake and local chat/embedding ids from labkit.config."""
    ids: list[str] = []
    for provider in ("fake", "local"):
        for kind in ("chat", "embedding"):
            model_id = config.MODELS[provider][kind]
            if model_id and model_id not in ids:
                ids.append(model_id)
    return ids


def _chat_models() -> list[str]:
    return [config.MODELS["fake"]["chat"], config.MODELS["local"]["chat"]]


class Routes:
    """The handlers of one app, over one provider state."""

    def __init__(
        self, state: ProviderState, embed: Callable[[list[str]], np.ndarray] | None
    ) -> None:
        self.st = state
        self.embedder = embed
        self.generator = Generator(state)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Vectors from the ``embed`` function given to the app, else the packaged MiniLM."""
        if self.embedder is not None:
            return self.embedder(texts)
        from labkit.models.embedder import get_embedder

        return get_embedder().embed(texts)

    # -- OpenAI -----------------------------------------------------------------------------

    async def chat_completions(self, request: Request) -> Response:
        """``POST /v1/chat/completions``."""
        headers = headers_of(request)
        try:
            check_openai_auth(headers)
            req = openai_chat.parse_chat(await json_body(request), headers)
        except RequestError as exc:
            return OPENAI.error(exc.status, exc.message, param=exc.param, type=exc.kind)
        return await self.generator.generate(req, OPENAI, journal_entry(request))

    async def responses(self, request: Request) -> Response:
        """``POST /v1/responses`` (``previous_response_id`` resolved from the stored turns)."""
        headers = headers_of(request)
        try:
            check_openai_auth(headers)
            body = await json_body(request)
            previous = None
            if isinstance(body, dict) and body.get("previous_response_id"):
                previous = self.st.recall_response(str(body["previous_response_id"]))
                if previous is None:
                    raise RequestError(
                        f"Previous response with id '{body['previous_response_id']}' not found.",
                        param="previous_response_id",
                    )
            req = openai_responses.parse_responses(body, headers, previous)
        except RequestError as exc:
            return OPENAI.error(exc.status, exc.message, param=exc.param, type=exc.kind)
        return await self.generator.generate(req, OPENAI, journal_entry(request))

    async def embeddings(self, request: Request) -> Response:
        """``POST /v1/embeddings`` (a scripted reply may delay, fail or drop it)."""
        st = self.st
        headers = headers_of(request)
        try:
            check_openai_auth(headers)
            ereq = openai_embeddings.parse_embeddings(
                await json_body(request), decode, EMBEDDING_DIMENSION
            )
        except RequestError as exc:
            return OPENAI.error(exc.status, exc.message, param=exc.param, type=exc.kind)
        base_headers = {"x-request-id": st.next_id("req_")}
        reply = st.take_scripted("openai", "embeddings")
        entry = journal_entry(request)
        if reply is not None:
            if entry is not None:
                entry.responder = "script"
            if reply.delay > 0:
                await asyncio.sleep(reply.delay)
            if reply.error is not None:
                return OPENAI.scripted_error(reply.error, base_headers)
        try:
            vectors = await run_in_threadpool(self.embed_texts, ereq.texts)
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

    async def list_models(self, request: Request) -> Response:
        """``GET /v1/models`` in the shape of the SDK asking."""
        if dialect_for(request) is ANTHROPIC:
            try:
                anthropic_request.check_headers(headers_of(request))
            except RequestError as exc:
                return ANTHROPIC.error(exc.status, exc.message, type=exc.kind)
            return json_response(
                anthropic_response.models_body(_chat_models()),
                headers={"request-id": self.st.next_id("req_")},
            )
        return json_response(
            openai_embeddings.models_body(served_models()),
            headers={"x-request-id": self.st.next_id("req_")},
        )

    async def get_model(self, request: Request) -> Response:
        """``GET /v1/models/{model_id}`` in the shape of the SDK asking."""
        dialect = dialect_for(request)
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

    # -- Anthropic --------------------------------------------------------------------------

    async def messages(self, request: Request) -> Response:
        """``POST /v1/messages``."""
        headers = headers_of(request)
        try:
            anthropic_request.check_headers(headers)
            req = anthropic_request.parse_messages(await json_body(request), headers)
        except RequestError as exc:
            return ANTHROPIC.error(exc.status, exc.message, type=exc.kind)
        return await self.generator.generate(req, ANTHROPIC, journal_entry(request))

    async def count_tokens(self, request: Request) -> Response:
        """``POST /v1/messages/count_tokens``."""
        headers = headers_of(request)
        try:
            anthropic_request.check_headers(headers)
            req = anthropic_request.parse_messages(
                await json_body(request), headers, require_max_tokens=False
            )
        except RequestError as exc:
            return ANTHROPIC.error(exc.status, exc.message, type=exc.kind)
        entry = journal_entry(request)
        if entry is not None:
            entry.chat = req
        return json_response(
            {"input_tokens": prompt_tokens(req)}, headers={"request-id": self.st.next_id("req_")}
        )

    # -- control (not journaled) ------------------------------------------------------------

    async def journal(self, request: Request) -> Response:
        """``GET /__labkit/journal[?path=...]``."""
        path = request.query_params.get("path")
        return json_response({"entries": self.st.journal.to_list(path)})

    async def reset(self, request: Request) -> Response:
        """``POST /__labkit/reset``."""
        self.st.reset()
        return json_response({"ok": True})

    async def script(self, request: Request) -> Response:
        """``POST /__labkit/script``: queue replies."""
        try:
            raw = await request.body()
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise RequestError("the body must be JSON") from exc
            queued = self.st.script.add_json(body)
        except RequestError as exc:
            return json_response({"error": {"message": exc.message, "param": exc.param}}, 400)
        return json_response({"queued": queued, "pending": len(self.st.script)})

    async def status(self, request: Request) -> Response:
        """``GET /__labkit/status``."""
        return json_response(self.st.describe())

    # -- errors -----------------------------------------------------------------------------

    async def not_found(self, request: Request, exc: Exception) -> Response:
        """404 and 405 in the dialect of the SDK asking."""
        dialect = dialect_for(request)
        status_code = int(getattr(exc, "status_code", 404))
        message = (
            f"Invalid URL ({request.method} {request.url.path})"
            if status_code == 404
            else f"Method {request.method} is not allowed on {request.url.path}"
        )
        return dialect.error(
            status_code, message, type="not_found_error" if status_code == 404 else None
        )

    async def crashed(self, request: Request, exc: Exception) -> Response:
        """A bug in the fake itself: say so, and tell the SDK not to retry it three times."""
        return dialect_for(request).error(
            500,
            f"the fake provider failed: {type(exc).__name__}: {exc}",
            headers={"x-should-retry": "false"},
        )
