"""agent-02, task 1: the learner's MCP server, called through a real MCP client.

Every check goes through the MCP protocol and, for writes, through the database itself. The
learner's server lives in the worker process: it is called in memory there by a toolkit client
(recipe ``mcp_probe``, results back as plain data), and once served over streamable HTTP from the
worker (recipe ``mcp_http``) to a client in this process. Expected values come from the test's own
SQL on a fresh copy of the shop database and from the toolkit's documented search
(labkit.mcp_testing.course).
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from labkit.grading import Learner, assert_same, lab_test, make
from labkit.grading.toolkit import dataset_copy
from labkit.mcp_testing.course import load_passages, search_passages
from labkit.mcp_testing.tools import call_tool, list_tools

TOOLS = ("search_kb", "query_shop", "refund_order")
HTTP_TIMEOUT = 20  # s for one client session over HTTP (well under the test's 60 s)


@pytest.fixture
def shop(mcp_course_server: Any, private_dir: Path) -> Path:
    """A private copy of the shop database (the session server warmed this process's MCP SDK),
    writable by the learner's server."""
    return dataset_copy(private_dir, "shop", "shop.sqlite")


def build(learner: Learner, db: Path) -> Any:
    """The learner's MCPServer over ``db``, built in the worker (a handle): the one place a live
    learner object is built here."""
    return learner.import_module("course_server").build_server(db)


def learner_server(learner: Learner, db: Path) -> Any:
    """An in-memory MCP client of the learner's server, both in the worker: ``.list_tools()`` and
    ``.call_tool(name, arguments)`` return plain data (labkit.mcp_testing.tools)."""
    return learner.new(make.mcp_probe(build(learner, db)))


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def snapshot(db: Path) -> list[tuple[Any, ...]]:
    return rows(db, "SELECT order_id, status FROM orders ORDER BY order_id") + rows(
        db, "SELECT COUNT(*) FROM customers"
    )


def total(db: Path, order_id: str) -> float:
    ((cents,),) = rows(
        db, "SELECT SUM(quantity * unit_price_cents) FROM order_items WHERE order_id = ?", order_id
    )
    return cents / 100


def expect_error(result: dict[str, Any], call: str, *needles: str) -> None:
    assert result["is_error"] is True, f"{call} should come back as an error result, got {result}"
    for needle in needles:
        assert needle.lower() in result["text"].lower(), (
            f"the error of {call} should mention {needle!r} (raise ToolError with a clear "
            f"message); it said {result['text'][:200]!r}"
        )


@lab_test(points=2, number="1.1")
def test_tools_are_discoverable(learner, shop):
    """the three tools are listed with typed schemas, output schemas and the right hints"""
    tools = {t["name"]: t for t in learner_server(learner, shop).list_tools()}
    missing = [name for name in TOOLS if name not in tools]
    assert not missing, f"tools/list should offer {list(TOOLS)}; missing {missing}"
    for name in TOOLS:
        tool = tools[name]
        assert tool["description"].strip(), f"{name} needs a description (the model reads it)"
        props = tool["input_schema"].get("properties", {})
        for pname, prop in props.items():
            assert "type" in prop, (
                f"{name}.{pname} needs a type and a description in its schema, got {prop}"
            )
            assert (prop.get("description") or "").strip(), (
                f"{name}.{pname} needs a type and a description in its schema, got {prop}"
            )
        assert tool["output_schema"], (
            f"{name} should return a typed (pydantic) result, so it has an output schema"
        )
    assert_same(
        sorted(tools["refund_order"]["input_schema"].get("required", [])),
        ["order_id", "reason"],
        "refund_order's required parameters",
    )
    assert_same(
        sorted(tools["query_shop"]["input_schema"].get("required", [])),
        ["sql"],
        "query_shop's required parameters",
    )
    assert_same(
        tools["refund_order"]["annotations"].get("destructive_hint"),
        True,
        "refund_order's destructive_hint",
    )
    for name in ("search_kb", "query_shop"):
        assert_same(
            tools[name]["annotations"].get("read_only_hint"), True, f"{name}'s read_only_hint"
        )


@lab_test(points=2, number="1.2")
def test_query_shop_reads(learner, shop, lab_seed):
    """query_shop returns columns and rows as structured content, at most 50"""
    rng = random.Random(lab_seed)
    customer = rng.choice(
        [r[0] for r in rows(shop, "SELECT DISTINCT customer_id FROM orders ORDER BY 1")]
    )
    sql = f"SELECT order_id, status, ordered_on FROM orders WHERE customer_id = '{customer}' ORDER BY order_id"
    server = learner_server(learner, shop)
    got = server.call_tool("query_shop", {"sql": sql})
    big = server.call_tool("query_shop", {"sql": "SELECT order_id FROM orders ORDER BY order_id"})
    want = {
        "columns": ["order_id", "status", "ordered_on"],
        "rows": [list(r) for r in rows(shop, sql)],
        "truncated": False,
    }
    assert not got["is_error"], f"query_shop({sql!r}) failed: {got['text'][:200]}"
    assert_same(got["structured"], want, f"query_shop({sql!r})")
    every = [[r[0]] for r in rows(shop, "SELECT order_id FROM orders ORDER BY order_id")]
    assert_same(
        big["structured"],
        {"columns": ["order_id"], "rows": every[:50], "truncated": True},
        "query_shop over all orders (more than 50 rows)",
    )


@lab_test(points=2, number="1.3", name="query_shop never writes, and says why")
def test_query_shop_refuses_writes(learner, shop):
    before = snapshot(shop)
    server = learner_server(learner, shop)
    for sql in (
        "DELETE FROM orders",
        "UPDATE orders SET status = 'refunded'",
        "SELECT 1; DROP TABLE customers",
        "DROP TABLE customers",
    ):
        expect_error(server.call_tool("query_shop", {"sql": sql}), f"query_shop({sql!r})", "SELECT")
    expect_error(
        server.call_tool("query_shop", {"sql": "SELECT nope FROM orders"}),
        "query_shop('SELECT nope FROM orders')",
        "no such column",
    )
    assert snapshot(shop) == before, "the shop database changed: query_shop must never write"


@lab_test(points=2, number="1.4")
def test_refund_order(learner, shop, lab_seed):
    """refund_order refunds once, in the database, and explains every refusal"""
    rng = random.Random(lab_seed)
    order = rng.choice(
        [
            r[0]
            for r in rows(
                shop,
                "SELECT order_id FROM orders WHERE status IN ('paid', 'shipped', 'delivered') ORDER BY 1",
            )
        ]
    )
    cancelled = rng.choice(
        [
            r[0]
            for r in rows(shop, "SELECT order_id FROM orders WHERE status = 'cancelled' ORDER BY 1")
        ]
    )
    server = learner_server(learner, shop)
    first = server.call_tool("refund_order", {"order_id": order, "reason": "arrived damaged"})
    again = server.call_tool("refund_order", {"order_id": order, "reason": "arrived damaged"})
    unknown = server.call_tool("refund_order", {"order_id": "O-9999", "reason": "x"})
    refused = server.call_tool("refund_order", {"order_id": cancelled, "reason": "x"})
    assert not first["is_error"], f"refund_order({order!r}) failed: {first['text'][:200]}"
    assert_same(
        first["structured"],
        {"order_id": order, "status": "refunded", "amount": total(shop, order)},
        f"refund_order({order!r})",
    )
    assert_same(
        rows(shop, "SELECT status FROM orders WHERE order_id = ?", order),
        [("refunded",)],
        f"{order}'s status in the database after the refund",
    )
    expect_error(again, f"a second refund_order({order!r})", "refunded")
    expect_error(unknown, "refund_order('O-9999')", "O-9999")
    expect_error(refused, f"refund_order({cancelled!r}) of a cancelled order", "cancelled")
    assert_same(
        rows(shop, "SELECT status FROM orders WHERE order_id = ?", cancelled),
        [("cancelled",)],
        f"{cancelled}'s status",
    )


@lab_test(points=2, number="1.5")
def test_search_kb(learner, shop, lab_seed):
    """search_kb returns the best passages as structured results and rejects bad input"""
    rng = random.Random(lab_seed)
    query = rng.choice(load_passages()).title
    k = rng.randint(2, 4)
    server = learner_server(learner, shop)
    got = server.call_tool("search_kb", {"query": query, "k": k})
    blank = server.call_tool("search_kb", {"query": "   "})
    zero = server.call_tool("search_kb", {"query": query, "k": 0})
    assert not got["is_error"], f"search_kb({query!r}) failed: {got['text'][:200]}"
    assert_same(
        got["structured"], {"results": search_passages(query, k)}, f"search_kb({query!r}, k={k})"
    )
    expect_error(blank, "search_kb with a blank query", "empty")
    expect_error(zero, "search_kb with k=0", "k")


@lab_test(points=1, number="1.6")
def test_server_over_streamable_http(learner, shop):
    """the same server works over streamable HTTP on loopback"""
    http = learner.new(make.mcp_http(build(learner, shop)))  # served from the worker
    sql = "SELECT COUNT(*) AS n FROM customers"
    try:
        url = http.url  # a client in this process, bounded: the server runs in another one
        names = sorted(t["name"] for t in list_tools(url, timeout=HTTP_TIMEOUT))
        got = call_tool(url, "query_shop", {"sql": sql}, timeout=HTTP_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"over HTTP, your server did not answer within {HTTP_TIMEOUT} s")
    finally:
        http.stop()
    assert set(TOOLS) <= set(names), f"over HTTP, tools/list gave {names}"
    assert_same(
        got["structured"],
        {
            "columns": ["n"],
            "rows": [[rows(shop, "SELECT COUNT(*) FROM customers")[0][0]]],
            "truncated": False,
        },
        "query_shop over HTTP",
    )
