"""Proving no reference code is left in a student export (:func:`reference_leaks`).

A file identical to a reference solution, or a function whose normalised body equals a reference
function's (names of locals, strings, annotations and docstrings do not count), is a leak.
:mod:`labkit.grading.export` runs this on every export.
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Iterator, Sequence
from pathlib import Path


def function_bodies(source: str) -> dict[str, str]:
    """``{qualified name: normalised body}`` for every function in ``source``, nested functions
    and methods included (``Class.method``, ``outer.inner``).

    A body is normalised (:func:`normalised_body`) so that what does not change the code does not
    hide it: formatting, comments, docstrings and other bare strings, type annotations, and the
    names of the function's own parameters and local variables. A starter that only shares the
    docstring is not a leak; a copy with renamed variables is."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                found[name] = normalised_body(child)
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return found


def normalised_body(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The body of ``function`` as a string that is the same for two copies of the code which
    differ only in layout, comments, docstrings (and other statements that are a bare string),
    annotations, or the names the function binds itself: its parameters, local variables, loop
    and comprehension targets, nested functions and classes, ``except ... as`` names, and its own
    name in a recursive call. Names it reads from outside (globals, imports, builtins) and
    attribute names are kept, so ``math.sqrt(x)`` and ``np.sqrt(x)`` still differ."""
    node = copy.deepcopy(function)
    _strip_strings_and_annotations(node)
    local = _bound_names(node)
    rename: dict[str, str] = {}
    if function.name not in local:
        rename[function.name] = "_self_"

    def placeholder(name: str | None) -> str | None:
        if name is None:
            return None
        if name in local and name not in rename:
            rename[name] = f"_v{sum(n in local for n in rename)}_"
        return rename.get(name, name)

    def rename_name(name: str) -> str:
        return placeholder(name) or name

    for sub in _preorder(node.body):  # numbered as the body meets them: unused ones never count
        if isinstance(sub, ast.Name):
            sub.id = rename_name(sub.id)
        elif isinstance(sub, ast.arg):
            sub.arg = rename_name(sub.arg)
        elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            sub.name = rename_name(sub.name)
        elif isinstance(sub, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
            sub.name = placeholder(sub.name)
        elif isinstance(sub, ast.MatchMapping):
            sub.rest = placeholder(sub.rest)
        elif isinstance(sub, ast.alias) and sub.asname:
            sub.asname = placeholder(sub.asname)
        elif isinstance(sub, ast.Global | ast.Nonlocal):
            sub.names = [rename.get(n, n) for n in sub.names]
    return "\n".join(ast.dump(stmt) for stmt in node.body)


def _preorder(nodes: Sequence[ast.AST]) -> Iterator[ast.AST]:
    """Every node under ``nodes``, parents before children, fields in order (deterministic, so
    two copies of a function meet their local names in the same order)."""
    for node in nodes:
        yield node
        yield from _preorder(list(ast.iter_child_nodes(node)))


def _bound_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names ``function`` binds itself (anywhere inside it, nested scopes included), minus
    those it declares ``global`` / ``nonlocal``."""
    bound: set[str] = set()
    declared: set[str] = set()
    for sub in _preorder([function.args, *function.body]):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
            bound.add(sub.id)
        elif isinstance(sub, ast.arg):
            bound.add(sub.arg)
        elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(sub.name)
        elif isinstance(sub, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and sub.name:
            bound.add(sub.name)
        elif isinstance(sub, ast.MatchMapping) and sub.rest:
            bound.add(sub.rest)
        elif isinstance(sub, ast.alias) and sub.asname:
            bound.add(sub.asname)
        elif isinstance(sub, ast.Global | ast.Nonlocal):
            declared.update(sub.names)
    return bound - declared


def _strip_strings_and_annotations(function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """Drop, in place, what does not change what the code does: statements that are a bare string
    (docstrings, string "comments"), annotations of parameters and return values, and
    annotations of assignments (``x: int = 0`` becomes ``x = 0``; a bare ``x: int`` goes)."""
    for sub in _preorder([function]):
        if isinstance(sub, ast.arg):
            sub.annotation = None
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
            sub.returns = None
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(sub, field, None)
            if not isinstance(stmts, list) or not all(isinstance(s, ast.stmt) for s in stmts):
                continue
            kept: list[ast.stmt] = []
            for stmt in stmts:
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                    if isinstance(stmt.value.value, str):
                        continue
                if isinstance(stmt, ast.AnnAssign):
                    if stmt.value is None:
                        continue
                    stmt = ast.Assign(targets=[stmt.target], value=stmt.value)
                kept.append(stmt)
            if not kept and field == "body" and sub is not function:
                kept = [ast.Pass()]
            setattr(sub, field, kept)


def reference_leaks(export: Path, course: Path) -> list[str]:
    """Reference code found in ``export``: a file identical to a file of ``course/solutions``
    that the starter does not also ship, or a function whose body equals a reference function's
    body the learner has to write (one that differs from the starter's). Empty means clean."""
    solutions = course / "solutions"
    if not solutions.is_dir():
        return []
    secret_files: dict[bytes, str] = {}
    secret_bodies: dict[str, str] = {}
    for ref in sorted(
        p for p in solutions.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        rel = ref.relative_to(solutions)
        starter = course / "labs" / rel
        data = ref.read_bytes()
        starter_data = starter.read_bytes() if starter.is_file() else b""
        if data != starter_data and data.strip():
            secret_files[data] = f"solutions/{rel.as_posix()}"
        if ref.suffix != ".py":
            continue
        given = set(function_bodies(starter_data.decode("utf-8", "replace")).values())
        for name, body in function_bodies(data.decode("utf-8", "replace")).items():
            if body and body not in given and _substantial(body):
                secret_bodies[body] = f"solutions/{rel.as_posix()}:{name}"
    leaks: list[str] = []
    for path in sorted(p for p in export.rglob("*") if p.is_file()):
        where = path.relative_to(export).as_posix()
        if where.startswith("solutions/"):
            leaks.append(f"{where} (the solutions folder)")
            continue
        data = path.read_bytes()
        if data in secret_files:
            leaks.append(f"{where} (same as {secret_files[data]})")
            continue
        for source in _python_sources(path.suffix, data):
            for name, body in function_bodies(source).items():
                if body in secret_bodies:
                    leaks.append(f"{where}:{name} (same body as {secret_bodies[body]})")
    return leaks


def _python_sources(suffix: str, data: bytes) -> list[str]:
    """The Python code the leak check reads in a file: a ``.py`` file, or each code cell of a
    notebook (IPython ``%magic`` and ``!shell`` lines left out so the rest parses)."""
    text = data.decode("utf-8", "replace")
    if suffix == ".py":
        return [text]
    if suffix != ".ipynb":
        return []
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return []
    chunks: list[str] = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        code = "".join(source) if isinstance(source, list) else str(source)
        lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        chunks.append("\n".join(lines))
    return chunks


def _substantial(body: str) -> bool:
    """A body worth protecting: not ``pass`` / ``...`` / a bare ``raise`` shared by many files."""
    trivial = {ast.dump(ast.Pass()), ast.dump(ast.Expr(ast.Constant(Ellipsis)))}
    return body not in trivial
