"""Shared by the agent-01 tests: the shop database copy and the grader's own calculator.

``test_tools`` checks the learner's calculator against this arithmetic, and ``test_agent``'s
tools answer the agent's calculator calls with it, so there is one oracle for both (written
here, never taken from the reference). Imported at collection: the grader's files are gone once
tests run.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from pathlib import Path

import pytest

from labkit.grading.toolkit import dataset_copy

OPERATORS: dict[type[ast.AST], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


@pytest.fixture
def shop_copy(private_dir: Path) -> Path:
    """A private, WRITABLE copy of the shop database (a write through it would really happen)."""
    return dataset_copy(private_dir, "shop", "shop.sqlite")


def arithmetic(expression: str) -> float:
    """The value of an arithmetic expression: numbers, + - * / // % ** and unary + and -.
    Raises ValueError for anything else (SyntaxError for what is not Python, ZeroDivisionError)."""

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = value(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
            return OPERATORS[type(node.op)](value(node.left), value(node.right))
        raise ValueError("not arithmetic")

    return value(ast.parse(expression.strip(), mode="eval").body)


def number_text(value: float) -> str:
    """How the lab's calculator writes a result: integers as they are, other numbers with 6
    decimals, trailing zeros dropped (and never "-0")."""
    if isinstance(value, int):
        return str(value)
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
