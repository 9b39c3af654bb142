"""The RPC pair between the judge (pytest) and the worker (learner code): framing and endpoints.

Messages are JSON objects, each sent as a 4-byte big-endian length (its top bit: see
:func:`dumps`) and UTF-8 JSON text over one Unix socket pair. JSON, never pickle: decoding a
message can only ever build dicts, lists, strings and numbers, so nothing the worker sends can
run code in the judge.

orjson writes and reads the text, with the standard library's ``json`` for what orjson refuses
(an integer over 64 bits, a lone surrogate; on reading, a ``NaN`` literal that ``json.loads``
accepts): the same values cross either way, ~10× faster for the large payloads some labs pass
(rag-01 sends its knowledge base and embedding vectors back and forth: 25 MB a grade).

Both sides are symmetric: :meth:`Endpoint.request` sends a request and waits for its reply while
serving requests that arrive meanwhile (a learner function calling a judge-side callback, which
may itself call learner code), so calls can nest both ways over the one socket.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

MAX_MESSAGE = 128 * 1024 * 1024  # one message; a value bigger than this is refused, not read
_HEADER = struct.Struct(">I")  # the length; its top bit set: text only json reads exactly (dumps)
_PLAIN_JSON = 1 << 31


class WireError(Exception):
    """The other side broke the protocol, closed the socket, or did not answer in time."""


class WireClosed(WireError):
    """The other side went away (a crashed or killed worker)."""


class WireTimeout(WireError):
    """No reply before the deadline."""


Handler = Callable[[dict[str, Any]], dict[str, Any]]


def dumps(message: dict[str, Any]) -> tuple[bytes, bool]:
    """One message as compact JSON text, and whether only ``json.loads`` reads it exactly.

    No ``NaN`` or infinity gets here: the codec sends them as tagged strings (``{"$": "f", "v":
    "nan"}``), and the rest of a message is the protocol's own strings and integers. What orjson
    refuses (an integer over 64 bits, a lone surrogate) is written by ``json``, and flagged: orjson
    would read a big integer back as a float.
    """
    try:
        return orjson.dumps(message, option=orjson.OPT_PASSTHROUGH_SUBCLASS, default=_refuse), False
    except (TypeError, orjson.JSONEncodeError):
        pass
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode(), True


def _refuse(value: object) -> object:
    raise TypeError(f"not JSON: {type(value).__name__}")


def loads(raw: bytes, plain: bool = False) -> Any:
    """A message's value, as ``json.loads`` would read it (``plain``: only json may read it)."""
    if not plain:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # what orjson refuses and json reads (a NaN literal)
    return json.loads(raw)


class Endpoint:
    """One end of the socket pair: send/receive framed JSON, nested request/reply."""

    def __init__(self, sock: socket.socket, handler: Handler) -> None:
        self.sock = sock
        self.handler = handler
        self._next = 0
        self._lock = threading.RLock()
        self._send_lock = threading.Lock()  # a learner thread's callback and a reply never mix
        self._buffer = bytearray()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, message: dict[str, Any]) -> None:
        data, plain = dumps(message)
        if len(data) > MAX_MESSAGE:
            raise WireError(f"a message of {len(data) // 1024 // 1024} MB is over the limit")
        try:
            with self._send_lock:
                self.sock.sendall(_HEADER.pack(len(data) | (_PLAIN_JSON if plain else 0)) + data)
        except OSError as exc:
            raise WireClosed(f"the other side closed the connection ({exc})") from None

    def _read_exact(self, size: int, deadline: float | None) -> bytes:
        while len(self._buffer) < size:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WireTimeout("no reply in time")
                self.sock.settimeout(left)
            else:
                self.sock.settimeout(None)
            try:
                piece = self.sock.recv(max(65536, size - len(self._buffer)))
            except TimeoutError:
                raise WireTimeout("no reply in time") from None
            except OSError as exc:
                raise WireClosed(f"the connection broke ({exc})") from None
            if not piece:
                raise WireClosed("the other side closed the connection")
            self._buffer.extend(piece)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def receive(self, deadline: float | None = None) -> dict[str, Any]:
        (word,) = _HEADER.unpack(self._read_exact(_HEADER.size, deadline))
        size = word & ~_PLAIN_JSON
        if size > MAX_MESSAGE:
            raise WireError(f"the other side sent a message of {size} bytes (over the limit)")
        raw = self._read_exact(size, deadline)
        try:
            message = loads(raw, plain=bool(word & _PLAIN_JSON))
        except (ValueError, RecursionError) as exc:
            raise WireError(f"a malformed message ({type(exc).__name__})") from None
        if not isinstance(message, dict):
            raise WireError("a malformed message (not an object)")
        return message

    def request(self, message: dict[str, Any], deadline: float | None = None) -> dict[str, Any]:
        """Send ``message`` and return its reply, serving nested requests meanwhile."""
        with self._lock:
            self._next += 1
            ident = self._next
            self.send({**message, "id": ident})
            while True:
                incoming = self.receive(deadline)
                if "re" in incoming:
                    if incoming.get("re") != ident:
                        raise WireError("a reply to a request that was not pending")
                    return incoming
                self.serve_one(incoming)

    def serve_one(self, incoming: dict[str, Any]) -> None:
        ident = incoming.get("id")
        try:
            reply = self.handler(incoming)
        except WireError:
            raise
        except BaseException as exc:  # reported to the other side, never lost
            reply = {"fail": f"{type(exc).__name__}: {exc}"}
        self.send({**reply, "re": ident})

    def serve_forever(self) -> None:
        while True:
            self.serve_one(self.receive())
