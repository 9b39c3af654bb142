"""Judge-side handles on learner objects: :class:`Remote`, :class:`Record`, :class:`RemoteIterator`.

A learner object that is not plain data stays in the worker; the judge holds a handle whose
attribute reads and calls are forwarded through the :class:`~labkit.grading.proxy.WorkerClient`
that made it. A learner-typed dataclass, pydantic model or NamedTuple arrives as a
:class:`Record` (fields as data, compared as data); a generator as a :class:`RemoteIterator`
(items pulled one by one, each arrival time kept).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from labkit.grading.codec import CodecError

if TYPE_CHECKING:
    from labkit.grading.proxy import WorkerClient
from labkit.grading.failures import is_remote_error, mro_of

_MAX_ITEMS = 100_000  # items one iterator may yield before it is called endless


def handle_id(value: Any) -> int:
    if type(value) is not int:
        raise CodecError("malformed handle")
    return value


def rebuild(cls: type, kind: str, fields: dict[str, Any]) -> Any:
    """A judge-side instance of the judge's own contract type, or None."""
    try:
        if kind == "nt" and issubclass(cls, tuple) and hasattr(cls, "_fields"):
            return cls(**fields)
        if kind == "dc" and dataclasses.is_dataclass(cls):
            obj = object.__new__(cls)
            for name, value in fields.items():
                object.__setattr__(obj, name, value)
            return obj
        if kind == "pm" and hasattr(cls, "model_validate"):
            return cls.model_validate(fields)
    except Exception:  # fields that do not fit the judge's type: keep a Record
        return None
    return None


class Remote:
    """A learner object that stays in the worker (a module, a class, a session, a collection)."""

    __slots__ = ("__weakref__", "_defs", "_gen", "_id", "_info", "_worker")

    def __init__(self, worker: WorkerClient, generation: int, ident: int, info: dict[str, Any]):
        object.__setattr__(self, "_worker", worker)
        object.__setattr__(self, "_gen", generation)
        object.__setattr__(self, "_id", ident)
        object.__setattr__(self, "_info", info)
        # A module's functions and classes, once read (see __getattr__)
        object.__setattr__(self, "_defs", {})

    def _check(self) -> None:
        if self._gen == self._worker.generation and self._worker.alive():
            return
        self._defs.clear()  # handles into a worker that is gone
        name = self._info.get("module_name")
        if isinstance(name, str):  # a module: import it again in the new worker
            fresh = self._worker.request({"op": "import", "name": name})
            if isinstance(fresh, Remote):
                object.__setattr__(self, "_gen", fresh._gen)
                object.__setattr__(self, "_id", fresh._id)
                return
        pytest.fail(
            "this object came from an earlier run of your code, which was stopped "
            "(a timeout or a crash in an earlier step)",
            pytrace=False,
        )

    def _ask(self, op: str, **payload: Any) -> Any:
        self._check()
        return self._worker.request({"op": op, "target": self._id, **payload})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if name in self._defs and self._gen == self._worker.generation and self._worker.alive():
            return self._defs[name]
        value = self._ask("getattr", name=name)
        if "module_name" in self._info and isinstance(value, Remote) and value._is_definition():
            # A test reads `module.function` before every call: one round trip, not two. Only
            # functions and classes are kept (module data is read afresh each time), until the
            # worker is replaced or the test sets the attribute.
            self._defs[name] = value
        return value

    def _is_definition(self) -> bool:
        mro = mro_of(self._info.get("mro"))
        return "cls" in self._info or (bool(mro) and mro[0] == ("builtins", "function"))

    def __setattr__(self, name: str, value: Any) -> None:
        self._defs.pop(name, None)
        self._ask("setattr", name=name, value=self._worker.encode(value))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        encoded_args = self._worker.encode(list(args))
        encoded_kwargs = self._worker.encode(dict(kwargs))
        return self._ask("call", args=encoded_args, kwargs=encoded_kwargs)

    def __iter__(self) -> Iterator[Any]:
        result = self._ask("iter")
        if isinstance(result, RemoteIterator):
            return result
        return iter(result)

    def __len__(self) -> int:
        return int(self._ask("len"))

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key=self._worker.encode(key))

    def __contains__(self, key: Any) -> bool:
        return self._ask("contains", key=self._worker.encode(key)) is True

    def __bool__(self) -> bool:
        return True

    def __instancecheck__(self, obj: Any) -> bool:
        own = self._info.get("cls")
        if not isinstance(own, list):
            raise TypeError("isinstance() arg 2 must be a class of the learner's code")
        key = (own[0], own[1])
        mro = (
            getattr(obj, "_mro", None) if isinstance(obj, Record) or is_remote_error(obj) else None
        )
        if mro is None and isinstance(obj, Remote):
            mro = mro_of(obj._info.get("mro"))
        return bool(mro) and key in list(mro or ())

    @property
    def __name__(self) -> str:
        name = self._info.get("name")
        if not isinstance(name, str):
            raise AttributeError("__name__")
        return name

    @property
    def type_name(self) -> str:
        """The learner object's type name (``"ChatSession"``)."""
        mro = mro_of(self._info.get("mro"))
        return mro[0][1] if mro else "object"

    def __repr__(self) -> str:
        return str(self._info.get("repr") or f"<learner {self.type_name}>")


class Record(Remote):
    """A learner dataclass / pydantic model / NamedTuple: its fields as data, compared as data.

    Attributes that are not fields (methods, properties) are forwarded to the object in the worker.
    """

    __slots__ = ("_fields", "_kind", "_mro")

    def __init__(
        self,
        worker: WorkerClient,
        generation: int,
        ident: int,
        info: dict[str, Any],
        fields: dict[str, Any],
        kind: str,
        mro: list[tuple[str, str]],
    ) -> None:
        super().__init__(worker, generation, ident, info)
        object.__setattr__(self, "_fields", fields)
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_mro", tuple(mro))

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            return fields[name]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot set {name}: results of learner code are read-only here")

    @property
    def type_name(self) -> str:
        return self._mro[0][1] if self._mro else "object"

    @property
    def fields(self) -> dict[str, Any]:
        """The fields, by name, as data."""
        return dict(self._fields)

    def _key(self) -> tuple[Any, ...]:
        return (self._mro[:1], tuple(self._fields.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return self._key() == other._key()
        if self._kind == "nt" and type(other) is tuple:
            return tuple(self._fields.values()) == other
        if self._kind == "enum" and type(other) in (str, int):
            return bool(self._fields.get("value") == other)
        return NotImplemented

    def __hash__(self) -> int:
        if self._kind == "enum":
            return hash(self._fields.get("value"))
        return hash(self._key())

    def __iter__(self) -> Iterator[Any]:
        if self._kind == "nt":
            return iter(tuple(self._fields.values()))
        return super().__iter__()

    def __len__(self) -> int:
        if self._kind == "nt":
            return len(self._fields)
        return super().__len__()

    def __getitem__(self, key: Any) -> Any:
        if self._kind == "nt":
            return tuple(self._fields.values())[key]
        return super().__getitem__(key)

    def __str__(self) -> str:
        if self._kind == "enum":
            return str(self._fields.get("value"))
        return self.__repr__()

    def __repr__(self) -> str:
        if self._kind == "enum":
            return f"<{self.type_name}.{self._fields.get('name')}: {self._fields.get('value')!r}>"
        inner = ", ".join(f"{k}={v!r}" for k, v in self._fields.items())
        return f"{self.type_name}({inner})"


class RemoteIterator:
    """A generator or iterator of learner code, pulled item by item across the boundary.

    ``arrivals`` holds the ``time.monotonic()`` at which each item arrived in the judge.
    """

    __slots__ = ("_done", "_gen", "_id", "_worker", "arrivals", "type_name")

    def __init__(self, worker: WorkerClient, generation: int, ident: int, type_name: str) -> None:
        self._worker = worker
        self._gen = generation
        self._id = ident
        self.type_name = type_name
        self.arrivals: list[float] = []
        self._done = False

    def _check(self) -> None:
        if self._gen != self._worker.generation or not self._worker.alive():
            pytest.fail("this iterator came from an earlier run of your code", pytrace=False)

    def __iter__(self) -> RemoteIterator:
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        if len(self.arrivals) >= _MAX_ITEMS:
            self._done = True
            pytest.fail(
                f"your {self.type_name} yielded more than {_MAX_ITEMS} items: is it endless?",
                pytrace=False,
            )
        self._check()
        try:
            item = self._worker.request({"op": "next", "target": self._id})
        except StopIteration:
            self._done = True
            raise
        self.arrivals.append(time.monotonic())
        return item

    def close(self) -> None:
        if not self._done and self._gen == self._worker.generation and self._worker.alive():
            self._done = True
            self._worker.request({"op": "close", "target": self._id})

    def __repr__(self) -> str:
        return f"<learner {self.type_name}>"


def exact_type(value: object, cls: object) -> bool:
    """``type(value) is cls`` for a learner class: True only if ``value`` was made by exactly
    that class (a subclass does not count), whether it arrived as a record or a handle."""
    if isinstance(cls, type):
        return type(value) is cls
    own = cls._info.get("cls") if isinstance(cls, Remote) else None
    if not isinstance(own, list):
        return False
    if isinstance(value, Record):
        mro = list(value._mro)
    elif isinstance(value, Remote):
        mro = mro_of(value._info.get("mro"))
    elif is_remote_error(value):
        mro = list(getattr(value, "_mro", ()))
    else:
        return False
    return bool(mro) and mro[0] == (own[0], own[1])
