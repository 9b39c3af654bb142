"""labkit.retrieval.labfolder: a lab folder's modules, imported by path, leaving no trace."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from labkit.errors import LabkitError
from labkit.retrieval.labfolder import load_modules


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "lab"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_siblings_import_each_other_and_nothing_stays_behind(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "helper_mod_x.py": "VALUE = 41\n",
            "main_mod_x.py": (
                "from dataclasses import dataclass\n"
                "from helper_mod_x import VALUE\n"
                "@dataclass\nclass Box:\n    n: int = VALUE + 1\n"
            ),
        },
    )
    path_before = list(sys.path)
    modules = load_modules(folder, ["main_mod_x"])
    assert modules["main_mod_x"].Box().n == 42
    assert sys.path == path_before
    assert "main_mod_x" not in sys.modules
    assert "helper_mod_x" not in sys.modules


def test_a_shadowed_module_is_put_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = types.ModuleType("search")
    monkeypatch.setitem(sys.modules, "search", original)
    folder = _folder(tmp_path, {"search.py": "WHERE = 'lab'\n"})
    assert load_modules(folder, ["search"])["search"].WHERE == "lab"
    assert sys.modules["search"] is original


def test_two_loads_are_independent(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"counter_mod_y.py": "CALLS = []\n"})
    first = load_modules(folder, ["counter_mod_y"])["counter_mod_y"]
    first.CALLS.append(1)
    second = load_modules(folder, ["counter_mod_y"])["counter_mod_y"]
    assert second.CALLS == []
    assert first is not second


def test_problems_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(LabkitError, match="is not a folder"):
        load_modules(tmp_path / "nowhere", ["search"])
    folder = _folder(
        tmp_path,
        {
            "broken_mod_z.py": "def f(:\n    pass\n",
            "raises_mod_z.py": "x = 1\nraise RuntimeError('boom')\n",
            "imports_mod_z.py": "import not_a_real_module_zz\n",
        },
    )
    with pytest.raises(LabkitError, match=r"has no search\.py"):
        load_modules(folder, ["search"])
    with pytest.raises(LabkitError, match=r"broken_mod_z\.py line 1: SyntaxError"):
        load_modules(folder, ["broken_mod_z"])
    with pytest.raises(LabkitError, match=r"raises_mod_z\.py line 2: RuntimeError: boom"):
        load_modules(folder, ["raises_mod_z"])
    with pytest.raises(LabkitError, match="ModuleNotFoundError"):
        load_modules(folder, ["imports_mod_z"])
    assert not any(n.endswith("_mod_z") for n in sys.modules)
