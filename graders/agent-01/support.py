"""Shared by the agent-01 tests: the grader's own calculator.

``test_tools`` checks the learner's calculator against this arithmetic, and ``test_agent``'s
tools answer the agent's calculator calls with it, so there is one oracle for both (written
here, never taken from the reference). Imported at collection: the grader's files are gone once
tests run.
"""

from __future__ import annotations

import ast

# All an arithmetic expression's syntax tree may hold: numbers, + - * / // % ** and unary + -.
NUMBERS_AND_SIGNS = (ast.Expression, ast.Constant, ast.BinOp, ast.UnaryOp, ast.UAdd, ast.USub)
OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def arithmetic(expression: str) -> float:
    """The value of an arithmetic expression: numbers, + - * / // % ** and unary + and -.
    Raises ValueError for anything else (SyntaxError for what is not Python, ZeroDivisionError).

    The grader checks that the syntax tree holds nothing but numbers and those operators, then
    lets Python evaluate it. (The lab's calculator walks the tree itself instead: that is how it
    refuses huge numbers before computing them.)
    """
    tree = ast.parse(expression.strip(), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, NUMBERS_AND_SIGNS + OPERATORS):
            raise ValueError(f"not arithmetic: {type(node).__name__}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise ValueError(f"not a number: {node.value!r}")
    return eval(compile(tree, "<expression>", "eval"), {"__builtins__": {}})


def number_text(value: float) -> str:
    """How the lab's calculator writes a result: integers as they are, other numbers with 6
    decimals, trailing zeros dropped (and never "-0")."""
    if isinstance(value, int):
        return str(value)
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
