"""The guard's code, detached from every name learner code can rebind.

A Python function finds its globals (and, through them, its builtins) in its module's dictionary
at every call. Learner code can import ``labkit.grading.guard_hook`` and rebind ``IGNORED``, or
set ``builtins.issubclass``, or ``os.lstat`` (which ``os.path.realpath`` calls): the hook would
then read the learner's values. :func:`frozen` copies a module's namespace once, when the guard is
installed (before any learner code runs), and rebuilds each of its functions over the copy, with
a copy of the builtins; module references the caller names (``os``, ``socket``, ``stat``) become
snapshots of their attributes at that moment, and module-level tables (dicts, lists, sets) become
immutable copies. Only the hook's closure reaches the copies.

This keeps the hook's *own* decisions out of learner code's reach; it does not make the process a
sandbox (docs/THREAT-MODEL.md, "Not defended").
"""

from __future__ import annotations

import builtins
import os
import posixpath
import socket
import stat
from types import FunctionType, MappingProxyType, ModuleType, SimpleNamespace
from typing import Any


def snapshot(module: ModuleType) -> SimpleNamespace:
    """The module's attributes as they are now, in an object learner code never sees."""
    return SimpleNamespace(**vars(module))


def frozen(module: ModuleType, replace: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``module``'s namespace with ``replace`` applied, a copy of the builtins, and
    every function defined in the module rebuilt to read its globals from that copy."""
    source = vars(module)
    namespace: dict[str, Any] = {name: _immutable(value) for name, value in source.items()}
    namespace.update(replace)
    namespace["__builtins__"] = dict(vars(builtins))
    for name, value in source.items():
        if type(value) is FunctionType and value.__globals__ is source:
            copy = FunctionType(
                value.__code__, namespace, value.__name__, value.__defaults__, value.__closure__
            )
            copy.__kwdefaults__ = dict(value.__kwdefaults__ or {}) or None
            namespace[name] = copy
    return namespace


def _immutable(value: object) -> object:
    """A module-level table as a copy nobody can change: learner code reaches the original
    (``guard_events.PROCESS_EVENTS.clear()``), never the copy."""
    if type(value) is dict:
        return MappingProxyType({k: _immutable(v) for k, v in value.items()})
    if type(value) is list:
        return tuple(_immutable(v) for v in value)
    if type(value) is set:
        return frozenset(value)
    return value


def guard_namespace() -> dict[str, Any]:
    """``guard_hook``'s namespace, frozen, with ``os`` (and ``os.path``), ``socket`` and the
    value reader of ``guard_plain`` frozen with it."""
    from labkit.grading import guard_hook, guard_plain, guard_rules

    os_now = snapshot(os)
    path = frozen(posixpath, {"os": os_now, "stat": snapshot(stat)})
    os_now.path = SimpleNamespace(**path)
    plain = frozen(guard_plain, {"os": os_now})
    rules = frozen(guard_rules, {"os": os_now, "Opaque": plain["Opaque"]})
    return frozen(
        guard_hook,
        {
            "os": os_now,
            "socket": snapshot(socket),
            "plain": plain["plain"],
            "Opaque": plain["Opaque"],
            **{name: rules[name] for name in ("path_rules", "link_rule", "sqlite_rule")},
        },
    )
