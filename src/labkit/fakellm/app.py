"""The ASGI application: the route table over the handlers.

The handlers are in :mod:`labkit.fakellm.routes`, generation and rendering in
:mod:`labkit.fakellm.generate`, the providers' error dialects in :mod:`labkit.fakellm.dialect`
and the journal middleware in :mod:`labkit.fakellm.middleware`.

``create_app(state)`` returns a Starlette app that speaks both wire protocols. OpenAI paths are
served under ``/v1`` and at the root (the openai SDK joins relative paths to whatever base URL it
was given); ``/v1/models`` answers in Anthropic's shape when the request carries an
``anthropic-version`` header (the Anthropic SDK always does), else in OpenAI's.

Control endpoints (not journaled), for a server in another process (``labkit serve``):
``GET /__labkit/journal[?path=...]``, ``POST /__labkit/reset``, ``POST /__labkit/script``
(``{"replies": [<Reply.to_dict()>...], "times": 1}``), ``GET /__labkit/status``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from starlette.applications import Starlette
from starlette.routing import Route

from labkit.fakellm.behaviours import Behaviour
from labkit.fakellm.middleware import JournalMiddleware
from labkit.fakellm.routes import Routes
from labkit.fakellm.state import ProviderState


def create_app(
    state: ProviderState | None = None,
    *,
    behaviours: Iterable[Behaviour] | None = None,
    stream_delay: float = 0.0,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    control: bool = True,
) -> Starlette:
    """The fake provider as an ASGI app (serve it with uvicorn, or use :class:`FakeLLM`).

    Pass ``state`` to share it with a controller, or ``behaviours`` (e.g. a local-model
    behaviour first) and ``stream_delay`` to build a fresh one. ``embed`` replaces the packaged
    MiniLM for ``/v1/embeddings`` (a function from texts to an (n, d) float32 array).
    ``control=False`` leaves out the ``/__labkit/*`` endpoints: while grading, the judge drives
    the provider in-process, and learner code must not reset or script it over HTTP.
    """
    st = state if state is not None else ProviderState(behaviours, stream_delay)
    r = Routes(st, embed)
    routes = [
        Route("/v1/messages", r.messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", r.count_tokens, methods=["POST"]),
    ]
    if control:
        routes += [
            Route("/__labkit/journal", r.journal, methods=["GET"]),
            Route("/__labkit/reset", r.reset, methods=["POST"]),
            Route("/__labkit/script", r.script, methods=["POST"]),
            Route("/__labkit/status", r.status, methods=["GET"]),
        ]
    for prefix in ("/v1", ""):
        routes += [
            Route(f"{prefix}/chat/completions", r.chat_completions, methods=["POST"]),
            Route(f"{prefix}/responses", r.responses, methods=["POST"]),
            Route(f"{prefix}/embeddings", r.embeddings, methods=["POST"]),
            Route(f"{prefix}/models", r.list_models, methods=["GET"]),
            Route(f"{prefix}/models/{{model_id:path}}", r.get_model, methods=["GET"]),
        ]
    app = Starlette(
        routes=routes,
        exception_handlers={404: r.not_found, 405: r.not_found, Exception: r.crashed},
    )
    app.state.provider = st
    app.add_middleware(JournalMiddleware, state=st)
    return app
