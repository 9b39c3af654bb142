"""The script: a FIFO of replies queued by a test, consumed before any other behaviour.

``fake.script(a, b, times=2)`` queues ``a, b, a, b``. A request takes the FIRST queued reply it
may consume (see :meth:`Reply.accepts`): a reply restricted to ``anthropic`` waits in the queue
while OpenAI requests pass it by, so one script can drive a test that uses both SDKs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from labkit.fakellm.types import Api, Endpoint, Reply, RequestError


class Script:
    """Thread-safe FIFO of :class:`Reply` objects."""

    def __init__(self) -> None:
        self._queue: list[Reply] = []
        self._lock = threading.Lock()

    def add(self, replies: Iterable[Reply], times: int = 1) -> None:
        """Queue ``replies`` (as a sequence) ``times`` times."""
        batch = list(replies)
        for r in batch:
            if not isinstance(r, Reply):
                raise TypeError(
                    f"script() takes Reply objects (see labkit.fakellm.reply), not {type(r).__name__}"
                )
            r.validate()
        if times < 1:
            raise ValueError("times must be at least 1")
        if times > 1 and any(r.text_stream is not None for r in batch):
            raise ValueError(
                "a lazy reply (text_stream) can be sent only once: script it with times=1"
            )
        with self._lock:
            self._queue.extend(batch * times)

    def add_json(self, data: Mapping[str, Any]) -> int:
        """Queue replies from their JSON description ``{"replies": [...], "times": 1}``.

        Returns how many replies were queued; a malformed description raises RequestError and
        queues nothing.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("replies"), list):
            raise RequestError('expected {"replies": [<reply>, ...], "times": 1}', param="replies")
        times = data.get("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise RequestError("times must be a positive integer", param="times")
        replies = [Reply.from_dict(r) for r in data["replies"]]
        self.add(replies, times)
        return len(replies) * times

    def take(self, api: Api, endpoint: Endpoint) -> Reply | None:
        """Remove and return the first reply this request may consume (None when none)."""
        with self._lock:
            for i, candidate in enumerate(self._queue):
                if candidate.accepts(api, endpoint):
                    return self._queue.pop(i)
        return None

    @property
    def pending(self) -> list[Reply]:
        """Replies still queued (a test can assert its script was fully used)."""
        with self._lock:
            return list(self._queue)

    def clear(self) -> None:
        """Drop every queued reply."""
        with self._lock:
            self._queue.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)
