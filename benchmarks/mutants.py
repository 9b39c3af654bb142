"""The course's one definition of a mutant, for the benchmarks that grade mutants.

A mutant is a copy of a lab's reference in which one function or method that the starter leaves
as a ``NotImplementedError`` stub (async functions and methods included) is broken again: its
body becomes ``raise NotImplementedError``. It stands for a learner who did all but one task.
``tests/labs/test_labs.py`` defines the mutants and proves each one loses points; the benchmarks
load that module instead of keeping a second definition that could drift from it.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from typing import Any

from labkit.grading.manifest import LabManifest, repo_root

ROOT = repo_root(Path(__file__).resolve().parent)
_NAME = "_labs_mutants"


@cache
def _test_labs() -> Any:
    """tests/labs/test_labs.py, loaded once as a module (it is not a package)."""
    path = ROOT / "tests" / "labs" / "test_labs.py"
    spec = importlib.util.spec_from_file_location(_NAME, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


def lab_mutants(lab: LabManifest) -> list[tuple[str, str, str]]:
    """``(learner file, qualified name, mutated source)`` for every stub of ``lab``'s starter."""
    found: list[tuple[str, str, str]] = _test_labs()._mutants(lab)
    return found
