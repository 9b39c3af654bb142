"""Mutants: a lab's reference with one of the learner's functions broken again.

A mutant is a copy of a lab's reference in which one function or method that the starter leaves
as a ``NotImplementedError`` stub (async functions and methods included) gets the body
``raise NotImplementedError`` back, its docstring kept. It stands for a learner who did every task
but one, so a lab whose grader gives such a copy full marks has a task no test checks.

``tests/labs/test_labs.py`` grades every mutant of every lab and proves each one loses points; the
hint and class-report benchmarks grade them as realistic "almost there" submissions. All of them
take the mutants from here, so the definition cannot drift between the proof and the benchmarks.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

from labkit.grading.manifest import LabManifest
from labkit.scaffold.source import Function, definitions, stubs

BROKEN = "raise NotImplementedError('broken on purpose')"


class Mutant(NamedTuple):
    """One broken copy of a reference file."""

    file: str
    """The learner file, relative to the lab folder (``"rag.py"``)."""
    qualname: str
    """The function or method broken (``"answer"``, ``"Store.add"``)."""
    source: str
    """The whole reference file with that one body replaced."""


def break_function(source: str, qualname: str) -> str:
    """``source`` with the body of ``qualname`` replaced by :data:`BROKEN` (docstring kept).

    Raises:
        LookupError: when ``source`` defines no function or method of that name (the starter has
            a stub the reference lacks; the course check reports the same thing).
    """
    tree = ast.parse(source)
    node = definitions(tree).get(qualname)
    if not isinstance(node, Function):
        raise LookupError(f"{qualname} is not a function or method of this file")
    doc = ast.get_docstring(node)
    node.body = [*([ast.Expr(ast.Constant(doc))] if doc else []), ast.parse(BROKEN).body[0]]
    return ast.unparse(ast.fix_missing_locations(tree))


def lab_mutants(lab: LabManifest, root: Path) -> list[Mutant]:
    """Every mutant of ``lab``: one per stub of each learner ``.py`` file, in a stable order."""
    out: list[Mutant] = []
    for rel in sorted(lab.files):
        starter, reference = root / "labs" / lab.id / rel, root / "solutions" / lab.id / rel
        if not (rel.endswith(".py") and starter.is_file() and reference.is_file()):
            continue
        source = reference.read_text(encoding="utf-8")
        for qualname in stubs(ast.parse(starter.read_text(encoding="utf-8"))):
            try:
                out.append(Mutant(rel, qualname, break_function(source, qualname)))
            except LookupError as exc:
                raise LookupError(f"{lab.id}: solutions/{lab.id}/{rel}: {exc}") from None
    return out
