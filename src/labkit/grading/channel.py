"""The result channel: JSON lines from the grading child to the parent over an inherited pipe.

The parent computes every score from these messages and nothing else (never stdout, never a file
the child wrote). Each message carries the run's random token and a sequence number:

- a write without the token (learner code printing to a stray fd, a fake pytest summary) is
  rejected and counted;
- a message with the token but out of sequence means someone else wrote with the token; the
  parent then distrusts the whole attempt (see attempt.py).

Message kinds, in order: ``collected`` (expected tests and their metadata, sent before any learner
code runs), then per test ``start`` and ``result``, and finally ``done``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

MAX_LINE = 4 * 1024 * 1024  # a collected message for hundreds of tests fits easily


class ChannelWriter:
    """The child's end: serialises messages and writes them whole (looping on short writes)."""

    def __init__(self, fd: int, token: str) -> None:
        self._fd = fd
        self._token = token
        self._seq = 0

    def send(self, kind: str, **payload: Any) -> None:
        message = {"tok": self._token, "seq": self._seq, "kind": kind, **payload}
        self._seq += 1
        data = (json.dumps(message, ensure_ascii=True, default=str) + "\n").encode("ascii")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass


@dataclass
class Message:
    """One accepted message (token already checked and stripped)."""

    seq: int
    kind: str
    data: dict[str, Any]


class ChannelReader:
    """The parent's end: splits the byte stream into lines and sorts them into accepted / stray.

    ``out_of_sequence`` becomes true as soon as a message with the right token arrives with an
    unexpected sequence number; the caller decides what to distrust.
    """

    def __init__(self, token: str) -> None:
        self._token = token
        self._buffer = bytearray()
        self._expected_seq = 0
        self._discarding = False
        self.stray = 0
        self.out_of_sequence = False

    def feed(self, data: bytes) -> list[Message]:
        messages: list[Message] = []
        self._buffer.extend(data)
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                if len(self._buffer) > MAX_LINE:  # an endless line: drop it, resync at next \n
                    self._buffer.clear()
                    self._discarding = True
                    self.stray += 1
                return messages
            line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            if self._discarding:
                self._discarding = False
                continue
            message = self._parse(line)
            if message is not None:
                messages.append(message)

    def _parse(self, line: bytes) -> Message | None:
        if not line.strip():
            return None
        try:
            raw = json.loads(line)
        except ValueError:
            self.stray += 1
            return None
        if not isinstance(raw, dict) or raw.get("tok") != self._token:
            self.stray += 1
            return None
        seq, kind = raw.get("seq"), raw.get("kind")
        if not isinstance(seq, int) or not isinstance(kind, str) or seq != self._expected_seq:
            self.out_of_sequence = True
            return None
        self._expected_seq += 1
        data = {k: v for k, v in raw.items() if k not in ("tok", "seq", "kind")}
        return Message(seq=seq, kind=kind, data=data)
