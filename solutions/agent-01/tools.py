"""The agent's three tools: a calculator, a knowledge-base search and read-only SQL.

A ReAct agent's tools take ONE string (the ``Action Input`` the model wrote) and return ONE string
(the ``Observation`` the model reads next). The input is untrusted: it was written by a model that
read text a user typed. So every tool here refuses what it should not do and answers with an
``Error: ...`` observation instead of raising — the model can read an error and try again; a crash
ends the conversation.
"""

from __future__ import annotations

import ast
import json
import operator
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rank_bm25 import BM25Okapi

from labkit.datasets import datasets_dir, load_documents

Tool = Callable[[str], str]

MAX_EXPRESSION_CHARS = 200
MAX_EXPONENT = 100
MAX_MAGNITUDE = 10**15
MAX_ROWS = 20
SQL_TIME_LIMIT_S = 1.0
TOP_K = 3

TOOL_DESCRIPTIONS = {
    "calculator": "evaluates arithmetic on numbers, e.g. 1950 * 12 or (4599 - 1250) / 100. "
    "Operators: + - * / // % ** and parentheses.",
    "search_docs": "searches the Tessaline knowledge base (policies, price lists, API docs, "
    "runbooks) and returns the best passages, e.g. 2024 lodging cap tier-1 metros.",
    "sql": "runs ONE read-only SQLite SELECT on the shop database and returns the rows as JSON. "
    "Tables: customers(customer_id, name, email, city, country, joined_on), "
    "products(sku, name, category, price_cents, stock), "
    "orders(order_id, customer_id, status, ordered_on), "
    "order_items(order_id, sku, quantity, unit_price_cents).",
}


# --- task 1: a calculator without eval ---------------------------------------------------------

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


class _Refused(Exception):
    """An expression the calculator will not evaluate (the message says why)."""


def _checked(value: float) -> float:
    if abs(value) > MAX_MAGNITUDE:
        raise _Refused(f"number too large (the limit is {MAX_MAGNITUDE:.0e})")
    return value


def _evaluate(node: ast.AST) -> float:
    """Walk the syntax tree, allowing only numbers and the arithmetic operators."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return _checked(node.value)
        raise _Refused(f"only numbers are allowed, not {node.value!r}")
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise _Refused(f"exponent too large (at most {MAX_EXPONENT})")
        try:
            return _checked(_BINARY[type(node.op)](left, right))
        except OverflowError:
            raise _Refused("number too large") from None
    raise _Refused(
        f"{type(node).__name__} is not allowed: use numbers, + - * / // % ** and parentheses"
    )


def format_number(value: float) -> str:
    """Integers as they are; other numbers rounded to 6 decimals, trailing zeros dropped."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, complex):  # (-8) ** 0.5
        raise ValueError("the result is not a real number")
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression safely — no ``eval``.

    Args:
        expression: e.g. ``"(1950 - 1800) * 12"``.

    Returns:
        The result as text (see :func:`format_number`), or ``"Error: <why>"`` for anything that
        is not plain arithmetic, an exponent above ``MAX_EXPONENT``, a number above
        ``MAX_MAGNITUDE`` (input, intermediate or result), a division by zero or bad syntax.
    """
    text = expression.strip()
    if not text:
        return "Error: empty expression"
    if len(text) > MAX_EXPRESSION_CHARS:
        return f"Error: expression longer than {MAX_EXPRESSION_CHARS} characters"
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):  # ValueError: an integer literal with thousands of digits
        return f"Error: not an arithmetic expression: {text!r}"
    try:
        return format_number(_evaluate(tree))
    except (_Refused, ValueError) as exc:
        return f"Error: {exc}"
    except ZeroDivisionError:
        return "Error: division by zero"


# --- task 2: read-only SQL -------------------------------------------------------------------

_READ_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION}
_FIRST_WORD = re.compile(r"^\s*([A-Za-z]+)")


def _authorize(action: int, *_: object) -> int:
    """sqlite3 authorizer: reading only (a second wall behind the read-only connection)."""
    allowed = _READ_ACTIONS | {getattr(sqlite3, "SQLITE_RECURSIVE", -1)}
    return sqlite3.SQLITE_OK if action in allowed else sqlite3.SQLITE_DENY


def run_sql(db_path: str | Path, query: str) -> str:
    """Run ONE SELECT on the shop database through a read-only connection.

    Args:
        db_path: the SQLite file. It is opened with ``mode=ro``: a missing file is an error (a
            writable connection would silently create an empty database there).
        query: the model's SQL: a single ``SELECT`` (or ``WITH ... SELECT``).

    Returns:
        ``json.dumps({"rows": [{column: value, ...}, ...], "truncated": bool})`` with at most
        ``MAX_ROWS`` rows (``truncated`` says whether there were more), or ``"Error: <why>"`` for
        anything else: not a SELECT, several statements, a write, a missing file, a query running
        longer than ``SQL_TIME_LIMIT_S``, or an SQLite error.
    """
    text = query.strip().rstrip(";").strip()
    m = _FIRST_WORD.match(text)
    if m is None or m.group(1).upper() not in ("SELECT", "WITH"):
        return "Error: only one SELECT query is allowed"
    path = Path(db_path).resolve()
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return f"Error: cannot open the database: {exc}"
    deadline = time.monotonic() + SQL_TIME_LIMIT_S
    try:
        conn.set_authorizer(_authorize)
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        cursor = conn.execute(text)
        names = [d[0] for d in cursor.description or ()]
        fetched = cursor.fetchmany(MAX_ROWS + 1)
    except sqlite3.Error as exc:  # incl. ProgrammingError: "one statement at a time"
        reason = "the query took too long" if time.monotonic() > deadline else str(exc)
        return f"Error: {reason}"
    finally:
        conn.close()
    rows = [dict(zip(names, row, strict=True)) for row in fetched[:MAX_ROWS]]
    return json.dumps({"rows": rows, "truncated": len(fetched) > MAX_ROWS})


# --- task 3: searching the knowledge base ----------------------------------------------------


@dataclass(frozen=True)
class Passage:
    """A paragraph, list or table of one knowledge-base document."""

    doc_id: str
    title: str
    text: str


@lru_cache(maxsize=1)
def load_passages() -> tuple[Passage, ...]:
    """GIVEN. The knowledge base cut into passages at blank lines (headings skipped), in order."""
    passages: list[Passage] = []
    for doc in load_documents():
        for block in re.split(r"\n\s*\n", doc.text):
            lines = [line.strip() for line in block.strip().splitlines()]
            body = [line for line in lines if line and not line.startswith("#")]
            if body:
                passages.append(Passage(doc.id, doc.title, " ".join(body)))
    return tuple(passages)


def tokenize(text: str) -> list[str]:
    """GIVEN. Lower-case words and numbers: ``"Tier-1 metros, 2024"`` → ``["tier", "1", ...]``."""
    return re.findall(r"[a-z0-9]+", text.lower())


@lru_cache(maxsize=1)
def _index() -> BM25Okapi:
    return BM25Okapi([tokenize(f"{p.title} {p.text}") for p in load_passages()])


def search_docs(query: str, k: int = TOP_K) -> str:
    """The ``k`` passages that best match ``query``, by BM25 over title + text.

    Args:
        query: what to look for.
        k: how many passages to return.

    Returns:
        One line per passage, best first (ties: the earlier passage):
        ``[1] (doc-id) passage text``; ``"No results."`` when no passage shares a word with the
        query; ``"Error: empty query"`` for a query with no words.
    """
    words = tokenize(query)
    if not words:
        return "Error: empty query"
    passages = load_passages()
    scores = _index().get_scores(words)
    ranked = sorted(range(len(passages)), key=lambda i: (-scores[i], i))
    best = [i for i in ranked[:k] if scores[i] > 0]
    if not best:
        return "No results."
    return "\n".join(
        f"[{n}] ({passages[i].doc_id}) {passages[i].text}" for n, i in enumerate(best, start=1)
    )


# --- given: the tools an agent gets ----------------------------------------------------------


def default_tools(db_path: str | Path | None = None) -> dict[str, Tool]:
    """GIVEN. The three tools by name, the SQL one bound to ``db_path``."""
    path = Path(db_path) if db_path is not None else datasets_dir() / "shop" / "shop.sqlite"
    return {
        "calculator": calculator,
        "search_docs": search_docs,
        "sql": lambda query: run_sql(path, query),
    }
