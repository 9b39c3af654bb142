"""Every lab's graders/<id>/hints.toml (if any) is valid and names tests that exist.

Runs for every lab found, so a lab added later with a hints.toml is checked too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from labkit.grading.hints import load_extra_hints
from labkit.grading.manifest import LabManifest, discover_labs, repo_root

ROOT = repo_root(Path(__file__).resolve().parent)
LABS = discover_labs(ROOT)


def _numbers(lab: LabManifest) -> set[str]:
    """The number= of every @lab_test in the grader (parametrised ones add .1, .2 at run time)."""
    found: set[str] = set()
    for path in lab.grader_dir.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lab_test":
                for kw in node.keywords:
                    if kw.arg == "number" and isinstance(kw.value, ast.Constant):
                        found.add(str(kw.value.value))
    return found


@pytest.mark.parametrize("lab", LABS, ids=[lab.id for lab in LABS])
def test_hints_name_existing_tests(lab: LabManifest) -> None:
    hints = load_extra_hints(lab)  # raises one clear line if malformed
    unknown = sorted(set(hints) - _numbers(lab))
    assert not unknown, f"graders/{lab.id}/hints.toml names tests that do not exist: {unknown}"
