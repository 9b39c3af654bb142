"""A lab's Python files read as syntax trees, for the course check and the mutants.

Both ask the same question of a starter or a reference: which functions, classes and methods does
it define, by qualified name (``f``, ``Class``, ``Class.method``)? This module answers it once, so
that "a stub" means the same thing to the check that compares starter and reference and to the
mutants that break the reference one stub at a time.
"""

from __future__ import annotations

import ast

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
Function = ast.FunctionDef | ast.AsyncFunctionDef


def definitions(tree: ast.Module) -> dict[str, Definition]:
    """Top-level functions and classes, and the methods of those classes, by qualified name.

    Nested functions and nested classes are left out: a learner's task is always a top-level
    function or a method, and the starter's stubs are found at those two depths only.
    """
    found: dict[str, Definition] = {}
    for node in tree.body:
        if isinstance(node, Function):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            found[node.name] = node
            for item in node.body:
                if isinstance(item, Function):
                    found[f"{node.name}.{item.name}"] = item
    return found


def raises_not_implemented(node: Function) -> bool:
    """Whether the function raises ``NotImplementedError`` anywhere: the mark of a stub."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Raise) and inner.exc is not None:
            target = inner.exc.func if isinstance(inner.exc, ast.Call) else inner.exc
            if isinstance(target, ast.Name) and target.id == "NotImplementedError":
                return True
    return False


def stubs(tree: ast.Module) -> list[str]:
    """Qualified names of the functions and methods a starter leaves to the learner, sorted."""
    return sorted(
        name
        for name, node in definitions(tree).items()
        if isinstance(node, Function) and raises_not_implemented(node)
    )
