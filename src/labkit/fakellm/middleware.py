"""The journal middleware: every non-control request is in the journal before the app sees it."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labkit.fakellm.state import ProviderState


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
