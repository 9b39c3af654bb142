"""What the guard reads of learner objects (guard_plain) and where its names live (guard_freeze).

The adversarial batch (hook_reentry, port_subclass, guard_globals) proves the attacks fail end to
end; these pin the two mechanisms on their own, in-process, without installing a hook.
"""

from __future__ import annotations

import os
import pathlib
import sys
from pathlib import Path
from typing import Any

import pytest

from labkit.grading import guard_events, guard_hook, guard_rules
from labkit.grading.guard_freeze import guard_namespace
from labkit.grading.guard_plain import Opaque, plain
from labkit.grading.guard_policy import GuardConfig, GuardViolation
from labkit.grading.guard_rules import path_rules


class _Trap(Exception):
    """Raised by any learner method the reader calls: it must call none."""


def _trap(*_args: object, **_kwargs: object) -> Any:
    raise _Trap


def _trapping(base: type, *names: str) -> Any:
    """A subclass of ``base`` whose methods ``names`` all raise: the reader must call none."""
    body: dict[str, object] = {name: _trap for name in names}
    body["__hash__"] = base.__hash__
    return type(f"Trapping{base.__name__}", (base,), body)


_Str = _trapping(str, "__getitem__", "__str__", "__eq__", "strip")
_Int = _trapping(int, "__eq__", "__int__", "__index__")
_Tuple = _trapping(tuple, "__iter__", "__len__", "__getitem__")
_Dict = _trapping(dict, "items", "__iter__", "keys")


class _Lying:
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise _Trap

    def __fspath__(self) -> str:
        raise _Trap


def test_subclasses_become_exact_built_ins_without_calling_their_methods() -> None:
    value: Any = plain(_Tuple((_Str("/tmp/x"), _Int(8787), _Dict({_Str("k"): [_Str("v")]}))))
    assert value == ("/tmp/x", 8787, {"k": ["v"]})
    assert type(value) is tuple
    assert [type(v) for v in value] == [str, int, dict]


def test_anything_else_is_opaque_and_never_asked_anything() -> None:
    opaque = plain(_Lying())
    assert type(opaque) is Opaque
    assert repr(opaque) == "<a _Lying object>"


def test_paths_are_read_from_their_own_slots() -> None:
    fresh = pathlib.Path("/tmp") / "a" / "b"
    assert plain(fresh) == "/tmp/a/b"
    assert plain(pathlib.Path("rel")) == "rel"
    with os.scandir(os.path.dirname(__file__)) as entries:
        entry = next(entries)
        assert plain(entry) == entry.path


def test_the_frozen_hook_does_not_see_rebound_or_emptied_module_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    namespace = guard_namespace()
    monkeypatch.setattr(guard_hook, "IGNORED", frozenset({"open"}))
    monkeypatch.setattr(os, "lstat", lambda *a, **k: (_ for _ in ()).throw(_Trap()))
    table = guard_events.PROCESS_EVENTS
    saved = dict(table)
    table.clear()  # what an attack does to the module's own dict
    try:
        assert "open" not in namespace["IGNORED"]
        assert namespace["PROCESS_EVENTS"]["os.system"] == saved["os.system"]
    finally:
        table.update(saved)
    assert namespace["_install"].__globals__ is namespace
    # the path rules live in guard_rules and are frozen with the hook, not read from there
    monkeypatch.setattr(guard_rules, "Opaque", object)
    assert namespace["path_rules"].__globals__["Opaque"] is not object
    realpath = namespace["os"].path.realpath
    assert realpath("/tmp/../tmp") == "/tmp"  # the frozen realpath kept the real os.lstat


def test_import_folders_are_never_writable_even_inside_a_write_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout and its venv under /tmp (a write root) must not take a planted .pth file."""
    site = tmp_path / "venv" / "site-packages"
    site.mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site), str(work)])
    config = GuardConfig(work_dir=str(work), write_roots=(str(tmp_path),))
    _, _, writable = path_rules(config, os.getpid(), GuardViolation)
    assert not writable(str(site / "evil.pth"))
    assert writable(str(work / "answer.txt"))  # the learner's own folder, on sys.path too
    assert writable(str(tmp_path / "scratch.txt"))
