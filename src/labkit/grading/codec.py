"""Values across the judge/worker boundary: plain data only, encoded as JSON-compatible trees.

Both sides share the data part of the encoding; what is not data is each side's business
(:class:`Codec` subclasses in ``proxy.py`` for the judge and ``worker.py`` for the worker):

=====================  ============================================================================
Python value           encoding
=====================  ============================================================================
None, bool, int, str   itself (exact built-in types only; a subclass stays a handle)
float                  itself, or ``{"$": "f", "v": "nan" | "inf" | "-inf"}``
list                   a JSON list
tuple / set / frozen   ``{"$": "t" | "s" | "fs", "v": [...]}``
dict                   ``{"$": "d", "v": [[key, value], ...]}`` (any keys, order kept)
bytes / bytearray      ``{"$": "b", "v": base64}``
numpy array / scalar   ``{"$": "nd", "dtype", "shape", "v": base64}`` / ``{"$": "np", ...}``
pathlib paths          ``{"$": "path", "v": str}``
date/time, Decimal...  ``{"$": "date" | "dt" | "time" | "td" | "dec" | "uuid", "v": ...}``
=====================  ============================================================================

Decoding builds only those types (and what the side's codec adds: records the judge rebuilds
with its own copy of the type, handles, iterators, exceptions). A numpy array is rebuilt from
raw bytes for numeric dtypes only (never ``object``, which would unpickle).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
import uuid
from pathlib import Path, PurePath
from typing import Any

MAX_DEPTH = 60
_TIME_TYPES = {datetime.datetime: "dt", datetime.date: "date", datetime.time: "time"}
_TIME_TAGS: dict[str, Any] = {v: k for k, v in _TIME_TYPES.items()}
_NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex


class CodecError(TypeError):
    """A value that cannot cross the boundary (with a message saying what to do instead)."""


class Codec:
    """The data part of the encoding; subclasses add refs, records, recipes and callbacks."""

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise CodecError("a value nested more than 60 levels deep (or with a cycle)")
        kind = type(value)
        if value is None or kind is bool or kind is int or kind is str:
            return value
        if kind is float:
            return value if math.isfinite(value) else {"$": "f", "v": repr(value)}
        if kind is list:
            return [self.encode(v, depth + 1) for v in value]
        if kind is dict:
            return {
                "$": "d",
                "v": [
                    [self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()
                ],
            }
        if kind is tuple:
            return {"$": "t", "v": [self.encode(v, depth + 1) for v in value]}
        if kind is set or kind is frozenset:
            tag = "s" if kind is set else "fs"
            return {"$": tag, "v": [self.encode(v, depth + 1) for v in value]}
        if kind is bytes or kind is bytearray:
            return {"$": "b", "v": base64.b64encode(bytes(value)).decode("ascii")}
        if isinstance(value, PurePath):
            return {"$": "path", "v": str(value)}
        if kind in _TIME_TYPES:
            return {"$": _TIME_TYPES[kind], "v": value.isoformat()}
        if kind is datetime.timedelta:
            return {"$": "td", "v": [value.days, value.seconds, value.microseconds]}
        if kind is decimal.Decimal:
            return {"$": "dec", "v": str(value)}
        if kind is uuid.UUID:
            return {"$": "uuid", "v": str(value)}
        numpy = _numpy_encoding(value)
        if numpy is not None:
            return numpy
        return self.encode_other(value, depth)

    def encode_other(self, value: Any, depth: int) -> Any:
        raise CodecError(f"a {type(value).__name__} cannot cross the boundary")

    def decode(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise CodecError("a value nested too deeply")
        if data is None or isinstance(data, bool | int | str):
            return data
        if isinstance(data, float):
            return data
        if isinstance(data, list):
            return [self.decode(v, depth + 1) for v in data]
        if not isinstance(data, dict):
            raise CodecError(f"malformed value of type {type(data).__name__}")
        tag = data.get("$")
        body = data.get("v")
        if tag == "d":
            out: dict[Any, Any] = {}
            for pair in _items(body):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise CodecError("malformed dict entry")
                out[self.decode(pair[0], depth + 1)] = self.decode(pair[1], depth + 1)
            return out
        if tag == "t":
            return tuple(self.decode(v, depth + 1) for v in _items(body))
        if tag == "s":
            return {self.decode(v, depth + 1) for v in _items(body)}
        if tag == "fs":
            return frozenset(self.decode(v, depth + 1) for v in _items(body))
        if tag == "f":
            if body not in ("nan", "inf", "-inf"):
                raise CodecError("malformed float")
            return float(str(body))
        if tag == "b":
            return base64.b64decode(str(body), validate=True)
        if tag == "path":
            return Path(str(body))
        if tag in _TIME_TAGS:
            return _TIME_TAGS[tag].fromisoformat(str(body))
        if tag == "td":
            days, seconds, micros = (int(x) for x in _items(body))
            return datetime.timedelta(days=days, seconds=seconds, microseconds=micros)
        if tag == "dec":
            return decimal.Decimal(str(body))
        if tag == "uuid":
            return uuid.UUID(str(body))
        if tag == "nd":
            return _decode_array(data)
        if tag == "np":
            return _decode_scalar(data)
        return self.decode_other(str(tag), data, depth)

    def decode_other(self, tag: str, data: dict[str, Any], depth: int) -> Any:
        raise CodecError(f"unknown value tag {tag!r}")


def _items(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise CodecError("malformed container")
    return body


def reduce_builtin(value: Any) -> Any | None:
    """For subclasses of the built-in containers (``OrderedDict``, ``defaultdict``, a list
    subclass): the plain container, read with the base type's own C methods; its items are then
    encoded one by one. None for anything else: a subclass of ``int``/``str``/``float`` is not
    reduced to its value (an ``int`` whose ``__eq__`` always says yes must not pass as a number);
    it stays in the worker as a handle, and a test checking for an ``int`` sees that it is not.
    """
    if isinstance(value, dict):
        return dict(dict.items(value))
    if isinstance(value, list):
        return list(list.__iter__(value))
    return None


def _numpy_encoding(value: Any) -> dict[str, Any] | None:
    module = type(value).__module__
    if module != "numpy":
        return None
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise CodecError(f"a numpy array of dtype {value.dtype} cannot cross (numbers only)")
        data = np.ascontiguousarray(value)
        return {
            "$": "nd",
            "dtype": data.dtype.str,
            "shape": list(data.shape),
            "v": base64.b64encode(data.tobytes()).decode("ascii"),
        }
    if isinstance(value, np.generic) and value.dtype.kind in _NUMERIC_KINDS:
        return {
            "$": "np",
            "dtype": value.dtype.str,
            "v": base64.b64encode(value.tobytes()).decode("ascii"),
        }
    return None


def _dtype(raw: Any) -> Any:
    import numpy as np

    dtype = np.dtype(str(raw))
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject:
        raise CodecError(f"numpy dtype {dtype} is not allowed")
    return dtype


def _decode_array(data: dict[str, Any]) -> Any:
    import numpy as np

    dtype = _dtype(data.get("dtype"))
    shape = data.get("shape")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise CodecError("malformed array shape")
    raw = base64.b64decode(str(data.get("v")), validate=True)
    count = math.prod(shape)
    if count * dtype.itemsize != len(raw):
        raise CodecError("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _decode_scalar(data: dict[str, Any]) -> Any:
    import numpy as np

    dtype = _dtype(data.get("dtype"))
    raw = base64.b64decode(str(data.get("v")), validate=True)
    if len(raw) != dtype.itemsize:
        raise CodecError("malformed numpy scalar")
    return np.frombuffer(raw, dtype=dtype)[0]
