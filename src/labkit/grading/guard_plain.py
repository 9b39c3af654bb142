"""What the guard looks at: learner objects turned into plain built-in values, running no learner
code on the way.

An audit event hands the hook the objects learner code passed, after the interpreter's own
conversion (``os.open(path_like)`` audits the string ``__fspath__`` returned), but a ``str``
subclass stays a ``str`` subclass, and a socket address stays the learner's ``tuple`` with the
learner's ``int`` in it. Touching one the ordinary way (``path[:0]`` inside
``os.path.realpath``, ``host.strip()``, ``port in allowed``, ``os.fspath``) calls a method the
learner wrote, and that method runs *inside* the hook, where nothing it does is checked, and it
can answer the hook differently from what the interpreter used.

:func:`plain` copies a value through the built-in types' own C slots (``str.__str__``,
``int.__int__``, ``tuple.__iter__``, ``dict.items``), which a subclass cannot override, and
stands an :class:`Opaque` in for anything else, which the rules refuse where a path or an
address is expected. Python-level events (``shutil.rmtree``) pass the caller's object as it is:
a ``pathlib`` path of an exact standard type is read from its own slots, never through
``__fspath__`` (learner code may have patched it), and ``os.DirEntry`` through its C
``__fspath__``.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

# A PurePath's slots (CPython 3.11: ``_str`` once it was used as a path, else ``_drv``, ``_root``,
# ``_parts``), read through their member descriptors: no Python code runs. Elsewhere, or when a
# slot holds anything but exact strings, the path is Opaque (refused), never guessed.
_SLOTS: Any = {
    name: pathlib.PurePath.__dict__.get(name) for name in ("_str", "_drv", "_root", "_parts")
}
_PATH_TYPES = frozenset(
    {pathlib.PosixPath, pathlib.PurePosixPath, pathlib.WindowsPath, pathlib.PureWindowsPath}
)
_TYPE_NAME: Any = type.__dict__["__name__"]
_SCALARS = frozenset({str, bytes, int, float, bool, type(None)})
_DEPTH = 4


class Opaque:
    """Stands in for a value of a type the guard does not read: refused as a path or address."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<a {self.type_name} object>"


def type_name(value: object) -> str:
    """The name of ``value``'s class, read from the C slot (a metaclass cannot answer it)."""
    return str(_TYPE_NAME.__get__(type(value)))


def plain(value: Any, depth: int = 0) -> object:
    """``value`` as exact built-in values (``str``, ``bytes``, ``int``, ``float``, ``bool``,
    ``None``, ``tuple``, ``list``, ``dict`` of those), else an :class:`Opaque`."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if issubclass(kind, str):
        return str.__str__(value)
    if issubclass(kind, bytes):
        return bytes.__bytes__(value)
    if issubclass(kind, int):  # IntEnum and friends
        return int.__int__(value)
    if kind is bytearray:
        return bytes(value)
    if kind is os.DirEntry:
        return plain(os.fspath(value), depth)
    if kind in _PATH_TYPES:
        text = _path_text(value)
        return Opaque(type_name(value)) if text is None else text
    if depth < _DEPTH and issubclass(kind, tuple | list | dict):
        return _container(value, depth + 1)
    return Opaque(type_name(value))


def _container(value: Any, depth: int) -> object:
    """A tuple, list or dict (or a subclass: its C storage is read, never its methods)."""
    # issubclass(type(...)), never isinstance: a failed isinstance asks the object's __class__
    if issubclass(type(value), tuple):
        return tuple(plain(v, depth) for v in tuple.__iter__(value))
    if issubclass(type(value), list):
        return [plain(v, depth) for v in list.__iter__(value)]
    out: dict[object, object] = {}
    for key, item in dict.items(value):
        key = plain(key, depth)
        if type(key) in _SCALARS:
            out[key] = plain(item, depth)
    return out


def _slot(value: object, name: str) -> object:
    descriptor = _SLOTS.get(name)
    if descriptor is None:
        return None
    try:
        return descriptor.__get__(value)
    except AttributeError:  # an unset slot
        return None


def _path_text(value: object) -> str | None:
    """A PurePath's string from its slots, as ``PurePath.__str__`` builds it on POSIX (3.11)."""
    held = _slot(value, "_str")
    if type(held) is str:
        return held
    drv, root, parts = _slot(value, "_drv"), _slot(value, "_root"), _slot(value, "_parts")
    if not (type(drv) is str and type(root) is str and type(parts) is list):
        return None
    names = list(list.__iter__(parts))
    if any(type(name) is not str for name in names):
        return None
    if drv or root:
        return drv + root + "/".join(names[1:])
    return "/".join(names) or "."
