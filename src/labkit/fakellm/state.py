"""The provider's mutable state, shared by the ASGI app and the in-process controller.

One :class:`ProviderState` holds the script, the handler hook, the behaviour chain, the journal
and the id counters. It decides the reply to a request in the documented order — script, then
handler, then behaviours — and is what ``FakeLLM.reset()`` resets between tests.
"""

from __future__ import annotations

import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from labkit.fakellm.behaviours import Behaviour, chain_reply, default_behaviours
from labkit.fakellm.journal import Journal
from labkit.fakellm.script import Script
from labkit.fakellm.types import Api, ChatRequest, Endpoint, Message, Reply

Handler = Callable[[ChatRequest], Reply | None]

# Responses are stamped with this fixed time (2025-01-01T00:00:00Z) rather than the clock, so the
# same request always gets the same response body.
CREATED = 1_735_689_600


class HandlerFailed(Exception):
    """A test's ``fake.on(...)`` handler raised: reported to the client as a 500 that names it."""


class ProviderState:
    """Script + handler + behaviours + journal + counters (see module doc)."""

    def __init__(
        self, behaviours: Iterable[Behaviour] | None = None, stream_delay: float = 0.0
    ) -> None:
        self.journal = Journal()
        self.script = Script()
        self.handler: Handler | None = None
        self.behaviours: list[Behaviour] = (
            list(behaviours) if behaviours is not None else default_behaviours()
        )
        self.stream_delay = float(stream_delay)
        self._lock = threading.Lock()
        self._counter = 0
        # Responses API conversation state (previous_response_id), bounded.
        self._responses: OrderedDict[str, list[Message]] = OrderedDict()

    def next_id(self, prefix: str) -> str:
        """A fresh id such as ``chatcmpl-labkit000001``: a per-server counter, reset by reset(),
        so a test run produces the same ids every time."""
        with self._lock:
            self._counter += 1
            return f"{prefix}labkit{self._counter:06d}"

    def reset(self) -> None:
        """Forget script, handler, journal, ids and stored responses (behaviours are kept)."""
        self.script.clear()
        self.handler = None
        self.journal.clear()
        with self._lock:
            self._counter = 0
            self._responses.clear()

    def resolve(self, request: ChatRequest) -> tuple[Reply, str]:
        """The reply to a generation request and what produced it (``script``, ``handler``,
        ``behaviour:<Class>``)."""
        scripted = self.script.take(request.api, request.endpoint)
        if scripted is not None:
            return scripted, "script"
        return self.resolve_unscripted(request)

    @property
    def runs_inline(self) -> bool:
        """Whether replies may be computed on the server's event loop: only when there is no
        handler and every behaviour declares ``blocking = False`` (pure ones that take
        microseconds, such as the persona reply). Anything else — a test's handler, a local
        model, the extractive answerer (it may embed sentences with MiniLM) — runs in a worker
        thread so a slow reply never stalls other requests."""
        return self.handler is None and all(
            getattr(b, "blocking", True) is False for b in self.behaviours
        )

    def resolve_unscripted(self, request: ChatRequest) -> tuple[Reply, str]:
        """The handler, then the behaviour chain (the script was already consulted)."""
        if self.handler is not None:
            try:
                handled = self.handler(request)
            except Exception as exc:
                raise HandlerFailed(
                    f"the fake_llm handler raised {type(exc).__name__}: {exc}\n"
                    + "".join(traceback.format_exception(exc)[-3:])
                ) from exc
            if handled is not None:
                if not isinstance(handled, Reply):
                    raise HandlerFailed(
                        f"the fake_llm handler returned {type(handled).__name__}, expected Reply or None"
                    )
                return handled, "handler"
        chosen = chain_reply(self.behaviours, request)
        if chosen is not None:
            return chosen[0], f"behaviour:{chosen[1]}"
        return Reply(text=""), "empty"

    def take_scripted(self, api: Api, endpoint: Endpoint) -> Reply | None:
        """A scripted reply for a non-generation endpoint (embeddings), if one is queued."""
        return self.script.take(api, endpoint)

    def remember_response(self, response_id: str, messages: list[Message]) -> None:
        """Keep a Responses-API conversation so ``previous_response_id`` can continue it."""
        with self._lock:
            self._responses[response_id] = messages
            while len(self._responses) > 256:
                self._responses.popitem(last=False)

    def recall_response(self, response_id: str) -> list[Message] | None:
        """The conversation stored under ``response_id`` (None when unknown)."""
        with self._lock:
            found = self._responses.get(response_id)
            return list(found) if found is not None else None

    def describe(self) -> dict[str, Any]:
        """A small status summary (``GET /__labkit/status``)."""
        return {
            "pending_replies": len(self.script),
            "journal_entries": len(self.journal),
            "handler": self.handler is not None,
            "behaviours": [type(b).__name__ for b in self.behaviours],
            "stream_delay": self.stream_delay,
        }
