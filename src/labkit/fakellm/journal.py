"""The request journal: every request the fake provider received, in order.

Lab tests assert on what a learner's code put on the wire (the system prompt came first, the SDK
retried twice, the tool result carried the right id), so the journal keeps each request's method,
path, headers, parsed JSON body, times and the response status. Control endpoints
(``/__labkit/...``) are not journaled: driving the fake must not change what it recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.fakellm.types import ChatRequest


def canonical_path(path: str) -> str:
    """``/chat/completions`` and ``/v1/chat/completions`` are one endpoint: the canonical form
    carries the ``/v1`` prefix (the openai SDK reaches the root form when its base URL has no
    /v1)."""
    if path.startswith("/v1/") or path == "/v1" or path.startswith("/__labkit"):
        return path
    return "/v1" + path


@dataclass
class JournalEntry:
    """One recorded request.

    ``body`` is the parsed JSON (None when the body was empty or not JSON; ``raw_body`` keeps the
    text). ``status`` is the response status (None until the response started); ``dropped`` is
    True when the fake closed the connection on purpose. ``chat`` is the normalised
    :class:`ChatRequest` for generation requests, ``responder`` says what produced the answer
    (``script``, ``handler`` or ``behaviour:<Name>``).
    """

    seq: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    raw_body: str
    time: float
    monotonic: float
    status: int | None = None
    dropped: bool = False
    responder: str | None = None
    chat: ChatRequest | None = field(default=None, repr=False)

    @property
    def route(self) -> str:
        """The canonical path (with ``/v1``), whichever form the client used."""
        return canonical_path(self.path)

    @property
    def retry_count(self) -> int | None:
        """The SDK's ``x-stainless-retry-count`` header as an int (0 = first attempt)."""
        value = self.headers.get("x-stainless-retry-count")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``GET /__labkit/journal``)."""
        return {
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "route": self.route,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "raw_body": self.raw_body if self.body is None else None,
            "time": self.time,
            "monotonic": self.monotonic,
            "status": self.status,
            "dropped": self.dropped,
            "responder": self.responder,
            "retry_count": self.retry_count,
        }


class Journal:
    """Thread-safe, in-memory list of :class:`JournalEntry` (the server appends from its own
    thread while a test reads).

    ``path`` filters match either form of an OpenAI path (``/chat/completions`` matches a request
    to ``/v1/chat/completions`` and vice versa).
    """

    def __init__(self) -> None:
        self._entries: list[JournalEntry] = []
        self._lock = threading.Lock()
        self._seq = 0

    def record(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        raw_body: bytes,
        time: float,
        monotonic: float,
    ) -> JournalEntry:
        """Append a new entry (called by the server for each request)."""
        text = raw_body.decode("utf-8", errors="replace")
        body: Any = None
        if text.strip():
            try:
                body = json.loads(text)
            except ValueError:
                body = None
        with self._lock:
            self._seq += 1
            entry = JournalEntry(
                seq=self._seq,
                method=method,
                path=path,
                query=query,
                headers=headers,
                body=body,
                raw_body=text,
                time=time,
                monotonic=monotonic,
            )
            self._entries.append(entry)
        return entry

    @property
    def entries(self) -> list[JournalEntry]:
        """A snapshot of all entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def requests(self, path: str | None = None, method: str | None = None) -> list[JournalEntry]:
        """Entries for ``path`` (either form) and/or ``method``, oldest first."""
        wanted = canonical_path(path) if path is not None else None
        return [
            e
            for e in self.entries
            if (wanted is None or e.route == wanted)
            and (method is None or e.method.upper() == method.upper())
        ]

    def bodies(self, path: str | None = None) -> list[Any]:
        """The parsed JSON bodies of the matching requests, oldest first."""
        return [e.body for e in self.requests(path)]

    def last(self, path: str | None = None) -> JournalEntry:
        """The most recent matching entry.

        Raises LookupError with a message that lists what WAS received, because "the fake got
        nothing at that path" is itself the most useful feedback a learner can get.
        """
        found = self.requests(path)
        if found:
            return found[-1]
        seen = ", ".join(f"{e.method} {e.path}" for e in self.entries[-5:]) or "no request at all"
        where = f" to {path}" if path else ""
        raise LookupError(f"the fake provider received no request{where} (it saw: {seen})")

    def count(self, path: str | None = None) -> int:
        """How many matching requests were received."""
        return len(self.requests(path))

    def clear(self) -> None:
        """Forget every entry (the sequence numbers restart too)."""
        with self._lock:
            self._entries.clear()
            self._seq = 0

    def to_list(self, path: str | None = None) -> list[dict[str, Any]]:
        """JSON form of the matching entries."""
        return [e.to_dict() for e in self.requests(path)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> JournalEntry:
        return self.entries[index]
