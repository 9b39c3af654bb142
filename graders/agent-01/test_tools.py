"""agent-01, tasks 1-3: the calculator (no eval), read-only SQL and the knowledge-base search.

Every tool takes one string and returns one string, so these tests call the learner's tools with
plain strings and compare plain data. Expected values come from the test's own arithmetic, its
own queries on a fresh copy of the shop database and its own BM25 ranking (rank_bm25, the same
passages and tokenizer the README describes); inputs are drawn from ``lab_seed``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import support  # this grader's shared helpers (graders/agent-01/support.py, on sys.path)
from rank_bm25 import BM25Okapi

from labkit.datasets import load_agent_tasks, load_documents
from labkit.grading import assert_same, lab_test, toolkit

MAX_ROWS = 20
# Loaded at collection: grader files are gone once learner code runs.
TASKS = load_agent_tasks()
KB_STEPS = [s for t in TASKS for s in t.steps if s.tool == "search_docs"]
DOCS = load_documents()


shop_copy = toolkit.shop_copy  # the fixture: a private, writable copy of the shop database


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def text_result(value: Any, what: str) -> str:
    if not isinstance(value, str):
        pytest.fail(
            f"{what} must return a str (the observation), got {type(value).__name__}: {value!r}"
        )
    return value


# --------------------------------------------------------------------------- task 1: calculator


def random_expression(rng: random.Random) -> str:
    a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(2, 9)
    return rng.choice(
        [
            f"{a} * {b} + {c}",
            f"({a} - {b}) / {c}",
            f"{a} // {c} - {b} % {c}",
            f"-{a} + {c} ** {rng.randint(2, 5)}",
            f"{a}.{b} * {c}",
            f"  {a} / ({b} + {c})  ",
        ]
    )


@lab_test(points=2, number="1.1")
def test_calculator_computes(learner, lab_seed):
    tools = learner.import_module("tools")
    rng = random.Random(lab_seed)
    cases = [random_expression(rng) for _ in range(6)] + ["2 / 3", "6 / 3", "2 ** 10", "7 // 2"]
    for expression in cases:
        got = text_result(tools.calculator(expression), f"calculator({expression!r})")
        want = support.number_text(support.arithmetic(expression))
        assert_same(got, want, f"calculator({expression!r})")


REFUSED = [
    "__import__('os').system('echo pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd').read()",
    "abs(-3)",
    "x + 1",
    "[1, 2] * 3",
    "'ab' * 3",
    "lambda: 0",
    "1 if 2 else 3",
    "(1).real",
    "9 ** 9 ** 9",
    "2 ** 1000",
    "10 ** 16",
    "99999999999999999 + 1",
    "1e300 * 1e300",
    "1 / 0",
    "2 +",
    "",
]


@lab_test(points=3, number="1.2")
def test_calculator_refuses_code_and_huge_numbers(learner):
    tools = learner.import_module("tools")
    for expression in REFUSED:
        got = text_result(tools.calculator(expression), f"calculator({expression!r})")
        assert got.startswith("Error"), (
            f"calculator({expression!r}) returned {got[:120]!r}; expected an 'Error: ...' observation"
        )


# --------------------------------------------------------------------------- task 2: SQL


def oracle_rows(path: Path, query: str) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        cursor = conn.execute(query)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        conn.close()
    return {
        "rows": [dict(zip(names, r, strict=True)) for r in rows[:MAX_ROWS]],
        "truncated": len(rows) > MAX_ROWS,
    }


def decoded(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pytest.fail(f"{what} must return JSON, got {text[:160]!r}")


@lab_test(points=2, number="2.1")
def test_sql_returns_rows_as_json(learner, shop_copy, lab_seed):
    tools = learner.import_module("tools")
    rng = random.Random(lab_seed)
    conn = sqlite3.connect(shop_copy)
    skus = [r[0] for r in conn.execute("SELECT sku FROM products ORDER BY sku")]
    customers = [r[0] for r in conn.execute("SELECT DISTINCT customer_id FROM orders ORDER BY 1")]
    conn.close()
    queries = [
        f"SELECT name, price_cents, stock FROM products WHERE sku = '{rng.choice(skus)}'",
        f"SELECT order_id, status FROM orders WHERE customer_id = '{rng.choice(customers)}' ORDER BY order_id;",
        "SELECT * FROM order_items ORDER BY order_id, sku",
        "  select email from customers where customer_id = 'C-0000'  ",
        "WITH t AS (SELECT category, COUNT(*) AS n FROM products GROUP BY category) "
        "SELECT * FROM t ORDER BY category",
    ]
    for query in queries:
        got = decoded(text_result(tools.run_sql(str(shop_copy), query), "run_sql"), "run_sql")
        want = oracle_rows(shop_copy, query.strip().rstrip(";"))
        assert_same(got, want, f"run_sql(db, {query.strip()[:70]!r})")


WRITES = [
    "DELETE FROM orders",
    "UPDATE products SET price_cents = 1",
    "INSERT INTO customers VALUES ('C-9999', 'X', 'x@example.com', 'X', 'XX', '2024-01-01')",
    "DROP TABLE order_items",
    "SELECT 1; DROP TABLE orders",
    "SELECT * FROM customers; DELETE FROM customers",
    "WITH t AS (SELECT 1) DELETE FROM orders",
    "ATTACH DATABASE 'other.sqlite' AS other",
    "PRAGMA writable_schema = 1",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c",
]


@lab_test(points=3, number="2.2")
def test_sql_refuses_writes_and_injections(learner, shop_copy):
    tools = learner.import_module("tools")
    before = digest(shop_copy)
    for query in WRITES:
        got = text_result(tools.run_sql(str(shop_copy), query), "run_sql")
        assert got.startswith("Error"), (
            f"run_sql(db, {query[:60]!r}) returned {got[:100]!r}; expected an 'Error: ...' observation"
        )
        assert digest(shop_copy) == before, f"run_sql(db, {query[:60]!r}) changed the database!"
    missing = shop_copy.parent / "shop-typo.sqlite"
    got = text_result(tools.run_sql(str(missing), "SELECT 1"), "run_sql")
    assert got.startswith("Error"), (
        f"run_sql on a file that does not exist returned {got[:100]!r}; expected 'Error: ...'"
    )
    assert not (shop_copy.parent / "shop-typo.sqlite").exists(), (
        "run_sql created an empty database at a path that did not exist: open it read-only "
        "(mode=ro), which refuses to create files"
    )


# --------------------------------------------------------------------------- task 3: search


def tokenize(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def passages() -> list[tuple[str, str, str]]:
    out = []
    for doc in DOCS:
        for block in re.split(r"\n\s*\n", doc.text):
            lines = [line.strip() for line in block.strip().splitlines()]
            body = [line for line in lines if line and not line.startswith("#")]
            if body:
                out.append((doc.id, doc.title, " ".join(body)))
    return out


PASSAGES = passages()
INDEX = BM25Okapi([tokenize(f"{title} {text}") for _, title, text in PASSAGES])


def oracle_search(query: str, k: int) -> str:
    words = tokenize(query)
    scores = INDEX.get_scores(words)
    ranked = sorted(range(len(PASSAGES)), key=lambda i: (-scores[i], i))
    best = [i for i in ranked[:k] if scores[i] > 0]
    if not best:
        return "No results."
    return "\n".join(f"[{n}] ({PASSAGES[i][0]}) {PASSAGES[i][2]}" for n, i in enumerate(best, 1))


@lab_test(points=3, number="3.1")
def test_search_docs_ranks_passages(learner, lab_seed):
    tools = learner.import_module("tools")
    rng = random.Random(lab_seed)
    steps = rng.sample(KB_STEPS, 3)
    for step in steps:
        k = rng.choice([1, 2, 3])
        got = text_result(tools.search_docs(step.input, k), f"search_docs({step.input!r}, {k})")
        assert_same(got, oracle_search(step.input, k), f"search_docs({step.input!r}, {k})")
    default = text_result(tools.search_docs(steps[0].input), "search_docs")
    assert steps[0].pattern is not None  # search_docs steps always carry one (datasets)
    assert re.search(steps[0].pattern.replace(" ", r"\s+"), default), (
        f"search_docs({steps[0].input!r}) should find the passage of {steps[0].doc} in its top 3"
    )
    assert_same(tools.search_docs("zzqx vvwq"), "No results.", "search_docs with no matching word")
    blank = text_result(tools.search_docs("  ?! "), "search_docs('  ?! ')")
    assert blank.startswith("Error"), f"an empty query should give 'Error: ...', got {blank!r}"
