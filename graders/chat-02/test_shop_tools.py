"""chat-02, tasks 1-3: the tool schemas, the tools (parameterised SQL) and execute_tool.

Expected values come from the test's own queries on a fresh copy of the shop database; which
customers and products are asked about is drawn from ``lab_seed``.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import support  # this grader's shared helpers (graders/chat-02/support.py, on sys.path)
from jsonschema import Draft202012Validator

from labkit.grading import assert_same, lab_test, make, toolkit

STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
TOOL_PARAMS = {
    "get_customer": ["customer_id"],
    "list_orders": ["customer_id", "status"],
    "get_product": ["sku"],
    "search_products": ["query", "max_price"],
}
INJECTIONS = (
    "C-1001' OR '1'='1",
    "x'; DROP TABLE orders; --",
    "' UNION SELECT customer_id, name, email, city, country, joined_on FROM customers --",
)


# --------------------------------------------------------------------------- helpers


shop_copy = toolkit.shop_copy  # the fixture: a private, writable copy of the shop database


def connect(learner: Any, path: Path, record: bool = False) -> Any:
    """A WRITABLE connection (rows as sqlite3.Row) in the worker, like open_db's but able to do
    harm; with ``record`` it remembers the SQL it runs (``take_statements()``)."""
    return learner.new(make.sqlite(str(path), record=record))


def tools_and_connection(learner: Any, path: Path, record: bool = False) -> tuple[Any, Any]:
    """The learner's shop_tools module and a writable connection to ``path`` (see connect)."""
    return learner.import_module("shop_tools"), connect(learner, path, record=record)


def must_raise_tool_error(tools: Any, func: Any, conn: Any, arg: str, why: str) -> None:
    """``func(conn, arg)`` raises the learner's ToolError. Not pytest.raises: its "DID NOT RAISE"
    would not say which call."""
    try:
        func(conn, arg)
    except tools.ToolError:
        return
    pytest.fail(f"{func.__name__}({arg!r}) must raise ToolError: {why}")


def plain(value: Any) -> Any:
    """The value as plain JSON data (fails on anything that is not JSON-serialisable)."""
    return json.loads(json.dumps(value))


def check(actual: Any, expected: Any, what: str) -> None:
    """Exact types and values (as JSON data); money may differ from the oracle by float noise."""
    try:
        data = plain(actual)
    except (TypeError, ValueError):
        pytest.fail(
            f"{what} must return plain JSON data (dicts, lists, str, numbers), got {actual!r}"
        )
    assert_same(data, expected, what, abs_tol=1e-6)


@pytest.fixture
def oracle(shop_copy: Path) -> support.Oracle:
    return support.Oracle(shop_copy)


def definitions(tools_module: Any) -> dict[str, dict[str, Any]]:
    defs = tools_module.tool_definitions()
    assert isinstance(defs, list), (
        f"tool_definitions() must return a list, got {type(defs).__name__}"
    )
    defs = plain(defs)
    names = [d.get("name") for d in defs]
    assert names == list(TOOL_PARAMS), (
        f"expected tools {list(TOOL_PARAMS)} in that order, got {names}"
    )
    return {d["name"]: d for d in defs}


def schema_problems(name: str, schema: Any) -> list[str]:
    """What keeps ``schema`` from being a strict, described JSON Schema for tool ``name``."""
    problems: list[str] = []
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return [f'{name}: parameters must be a JSON Schema with "type": "object", got {schema!r}']
    props = schema.get("properties")
    if not isinstance(props, dict) or sorted(props) != sorted(TOOL_PARAMS[name]):
        problems.append(
            f"{name}: expected properties {TOOL_PARAMS[name]}, got {props and list(props)}"
        )
        return problems
    if schema.get("additionalProperties") is not False:
        problems.append(f'{name}: strict schemas need "additionalProperties": false')
    if sorted(schema.get("required") or []) != sorted(props):
        problems.append(
            f"{name}: strict schemas list EVERY property in required "
            f"(optional ones are nullable): expected {sorted(props)}, got {schema.get('required')}"
        )
    for prop, spec in props.items():
        if not isinstance(spec, dict) or "type" not in spec:
            problems.append(f"{name}.{prop}: every property needs a type")
        elif not isinstance(spec.get("description"), str) or len(spec["description"].strip()) < 5:
            problems.append(f"{name}.{prop}: every property needs a description the model can read")
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as exc:  # jsonschema.SchemaError
        problems.append(f"{name}: not a valid JSON Schema: {str(exc).splitlines()[0]}")
    return problems


# --------------------------------------------------------------------------- task 1: schemas


@lab_test(points=2, number="1.1")
def test_tool_schemas_are_strict(learner):
    tools = learner.import_module("shop_tools")
    defs = definitions(tools)
    problems: list[str] = []
    for name, tool in defs.items():
        if not isinstance(tool.get("description"), str) or len(tool["description"].strip()) < 20:
            problems.append(f"{name}: needs a description that tells the model when to use it")
        problems += schema_problems(name, tool.get("parameters"))
    assert not problems, "schema problems:\n" + "\n".join(problems)


@lab_test(points=2, number="1.2")
def test_tool_schemas_validate_arguments(learner):
    defs = definitions(learner.import_module("shop_tools"))
    good: dict[str, list[dict[str, Any]]] = {
        "get_customer": [{"customer_id": "C-1001"}],
        "list_orders": [{"customer_id": "C-1001", "status": None}]
        + [{"customer_id": "C-1001", "status": s} for s in STATUSES],
        "get_product": [{"sku": "KIT-101"}],
        "search_products": [
            {"query": "lamp", "max_price": None},
            {"query": "lamp", "max_price": 25},
            {"query": "lamp", "max_price": 19.99},
        ],
    }
    bad: dict[str, list[dict[str, Any]]] = {
        "get_customer": [
            {},
            {"customer_id": 1001},
            {"customer_id": None},
            {"customer_id": "C-1001", "admin": True},
        ],
        "list_orders": [
            {"customer_id": "C-1001", "status": "lost"},
            {"customer_id": "C-1001", "status": 3},
            {"status": "paid"},
        ],
        "get_product": [{"sku": 101}, {}, {"sku": "KIT-101", "discount": 50}],
        "search_products": [
            {"query": "lamp", "max_price": "cheap"},
            {"query": None, "max_price": None},
            {"max_price": 10},
        ],
    }
    problems: list[str] = []
    for name, tool in defs.items():
        schema_check = schema_problems(name, tool.get("parameters"))
        if schema_check:
            problems += schema_check
            continue
        validator = Draft202012Validator(tool["parameters"])
        problems += [
            f"{name} rejects valid arguments {a}" for a in good[name] if not validator.is_valid(a)
        ]
        problems += [
            f"{name} accepts invalid arguments {a}" for a in bad[name] if validator.is_valid(a)
        ]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- task 2: tools


@lab_test(points=2, number="2.1")
def test_get_customer_and_get_product(learner, shop_copy, oracle, lab_seed):
    tools, conn = tools_and_connection(learner, shop_copy)
    rng = random.Random(lab_seed)
    for customer_id in rng.sample(sorted(oracle.customers), 3):
        got = tools.get_customer(conn, customer_id)
        check(got, oracle.customers[customer_id], f"get_customer({customer_id!r})")
    skus = ["KIT-101", *rng.sample(sorted(oracle.products), 2)]  # KIT-101 has an apostrophe
    for sku in skus:
        got = tools.get_product(conn, sku)
        check(got, oracle.products[sku], f"get_product({sku!r})")
    must_raise_tool_error(tools, tools.get_customer, conn, "C-0000", "that customer does not exist")
    must_raise_tool_error(tools, tools.get_product, conn, "XYZ-999", "that product does not exist")


@lab_test(points=2, number="2.2")
def test_list_orders(learner, shop_copy, oracle, lab_seed):
    tools, conn = tools_and_connection(learner, shop_copy)
    rng = random.Random(lab_seed)
    regulars = rng.sample(oracle.customers_with_orders(minimum=3), 2)
    for customer_id in regulars:
        got = tools.list_orders(conn, customer_id)
        check(got, oracle.orders_of(customer_id), f"list_orders({customer_id!r})")
        present = sorted({o["status"] for o in oracle.orders_of(customer_id)})
        absent = sorted(set(STATUSES) - set(present))
        for status in (rng.choice(present), rng.choice(absent)):
            got = tools.list_orders(conn, customer_id, status)
            check(
                got,
                oracle.orders_of(customer_id, status),
                f"list_orders({customer_id!r}, {status!r})",
            )
    idle = oracle.customers_without_orders()[0]
    got = tools.list_orders(conn, idle)
    check(got, [], f"list_orders({idle!r}) (a customer with no orders)")
    must_raise_tool_error(tools, tools.list_orders, conn, "C-0000", "that customer does not exist")


@lab_test(points=2, number="2.3")
def test_search_products(learner, shop_copy, oracle, lab_seed):
    tools, conn = tools_and_connection(learner, shop_copy)
    name = random.Random(lab_seed).choice(sorted(p["name"] for p in oracle.products.values()))
    word = max(name.split(), key=len).strip("(),")
    boundary = oracle.products["AUD-505"]["price"]  # a product priced exactly at the limit
    cases: list[tuple[str, float | None]] = [
        (word.upper(), None),  # case-insensitive
        ("kitchen", None),  # category
        ("o", None),  # more than 10 matches: the 10 cheapest
        ("o", 30),
        ("headphones", boundary),  # inclusive limit
        ("children's", None),  # an apostrophe is just a character
        ("no such thing", None),
    ]
    for query, max_price in cases:
        expected = oracle.search(query, max_price)
        got = tools.search_products(conn, query, max_price)
        assert type(got) is list, f"search_products must return a list, got {type(got).__name__}"
        got_skus = [p.get("sku") if isinstance(p, dict) else p for p in got]
        want_skus = [p["sku"] for p in expected]
        assert got_skus == want_skus, (
            f"search_products({query!r}, {max_price!r}): expected SKUs {want_skus}, got {got_skus}"
        )
        check(got, expected, f"search_products({query!r}, {max_price!r})")


def _snapshot(path: Path) -> tuple[list[Any], dict[str, int]]:
    conn = sqlite3.connect(path)
    try:
        schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        counts = {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("customers", "products", "orders", "order_items")
        }
        return schema, counts
    finally:
        conn.close()


@lab_test(points=3, number="2.4")
def test_sql_injection_is_harmless(learner, shop_copy):
    tools = learner.import_module("shop_tools")
    before = _snapshot(shop_copy)
    conn = connect(learner, shop_copy)  # writable on purpose: the queries themselves must be safe
    calls = (
        [(tools.get_customer, (attack,)) for attack in INJECTIONS]
        + [(tools.list_orders, (attack, None)) for attack in INJECTIONS]
        + [(tools.list_orders, ("C-1001", attack)) for attack in INJECTIONS[:2]]
        + [(tools.get_product, (attack,)) for attack in INJECTIONS]
        + [(tools.search_products, (attack, None)) for attack in INJECTIONS]
    )
    for func, args in calls:
        shown = f"{func.__name__}{args!r}"
        try:
            got = func(conn, *args)
        except tools.ToolError:
            continue
        except sqlite3.Error as exc:
            pytest.fail(f"{shown} reached the database as SQL ({type(exc).__name__}: {exc})")
        assert not got, f"{shown} must find nothing (or raise ToolError), but returned {got!r}"
    conn.commit()
    conn.close()
    after = _snapshot(shop_copy)
    assert after == before, (
        f"the database changed: tables/rows before {before[1]}, after {after[1]}"
    )


@lab_test(points=2, number="2.5")
def test_arguments_are_never_pasted_into_sql(learner, shop_copy, oracle, lab_seed):
    tools, conn = tools_and_connection(learner, shop_copy, record=True)
    rng = random.Random(lab_seed)
    customer_id = rng.choice(oracle.customers_with_orders(minimum=2))
    sku = rng.choice(sorted(oracle.products))
    word = rng.choice(["Lamp", "Kettle", "Socks", "Candle", "Bottle", "Headphones"])
    calls = [
        (tools.get_customer, (customer_id,), customer_id),
        (tools.list_orders, (customer_id, None), customer_id),
        (tools.list_orders, (customer_id, "delivered"), "delivered"),
        (tools.get_product, (sku,), sku),
        (tools.search_products, (word, 100.0), word),
    ]
    for func, args, value in calls:
        conn.take_statements()
        func(conn, *args)
        statements = conn.take_statements()
        shown = f"{func.__name__}{args!r}"
        assert statements, (
            f"{shown} ran no SQL on the connection it was given (open no connection of your own)"
        )
        pasted = [s for s in statements if value.lower() in s.lower()]
        assert not pasted, f"{shown} put the value {value!r} into the SQL text: {pasted[0]!r}"


# --------------------------------------------------------------------------- task 3: execute_tool


def _parse_content(result: Any, shown: str) -> Any:
    content = getattr(result, "content", None)
    assert type(content) is str, f"{shown}: ToolResult.content must be a str, got {content!r}"
    try:
        return json.loads(content)
    except ValueError:
        pytest.fail(f"{shown}: content must be JSON (json.dumps of the data), got {content[:80]!r}")


@lab_test(points=2, number="3.1")
def test_execute_tool_returns_json(learner, shop_copy, oracle, lab_seed):
    tools, conn = tools_and_connection(learner, shop_copy)
    rng = random.Random(lab_seed)
    customer_id = rng.choice(oracle.customers_with_orders(minimum=2))
    sku = rng.choice(sorted(oracle.products))
    cases = [
        ("get_customer", json.dumps({"customer_id": customer_id}), oracle.customers[customer_id]),
        (
            "list_orders",
            {"customer_id": customer_id, "status": None},
            oracle.orders_of(customer_id),
        ),
        ("list_orders", {"customer_id": customer_id}, oracle.orders_of(customer_id)),
        (
            "list_orders",
            json.dumps({"customer_id": customer_id, "status": "delivered"}),
            oracle.orders_of(customer_id, "delivered"),
        ),
        ("get_product", {"sku": sku}, oracle.products[sku]),
        ("search_products", '{"query": "lamp", "max_price": null}', oracle.search("lamp")),
        ("search_products", {"query": "o", "max_price": 20}, oracle.search("o", 20)),
    ]
    for name, arguments, expected in cases:
        shown = f"execute_tool(conn, {name!r}, {arguments!r})"
        result = tools.execute_tool(conn, name, arguments)
        assert isinstance(result, tools.ToolResult), f"{shown} must return a ToolResult"
        assert result.is_error is False, (
            f"{shown} is a valid call, but is_error={result.is_error!r}: {result.content}"
        )
        check(_parse_content(result, shown), expected, f"{shown}: the decoded content")


@lab_test(points=3, number="3.2")
def test_execute_tool_reports_errors(learner, shop_copy):
    tools, conn = tools_and_connection(learner, shop_copy)
    cases = [
        ("drop_all_tables", '{"confirm": true}', "an unknown tool"),
        ("get_customer", '{"customer_id": "C-1001"', "invalid JSON"),
        ("get_customer", "customer C-1001", "invalid JSON"),
        ("get_customer", '"C-1001"', "JSON that is not an object"),
        ("get_customer", "[1, 2]", "JSON that is not an object"),
        ("get_customer", "{}", "a missing required argument"),
        ("get_customer", {"customer_id": 1001}, "a number where a string is required"),
        (
            "get_product",
            {"sku": "KIT-101", "discount": 50},
            "an argument the schema does not allow",
        ),
        ("list_orders", {"customer_id": "C-1001", "status": "lost"}, "a status outside the enum"),
        (
            "search_products",
            {"query": "lamp", "max_price": "cheap"},
            "a string where a number is required",
        ),
        ("get_product", {"sku": "XYZ-999"}, "an unknown SKU (ToolError)"),
        ("get_customer", {"customer_id": "C-0000"}, "an unknown customer (ToolError)"),
    ]
    for name, arguments, what in cases:
        shown = f"execute_tool(conn, {name!r}, {arguments!r}) [{what}]"
        try:
            result = tools.execute_tool(conn, name, arguments)
        except NotImplementedError:
            raise
        except Exception as exc:
            pytest.fail(
                f"{shown} raised {type(exc).__name__}: {exc} — it must return an error result"
            )
        assert isinstance(result, tools.ToolResult), f"{shown} must return a ToolResult"
        assert result.is_error is True, f"{shown}: expected is_error=True, got {result.is_error!r}"
        body = _parse_content(result, shown)
        assert isinstance(body, dict), (
            f'{shown}: content must be {{"error": "<message>"}}, got {result.content!r}'
        )
        assert isinstance(body.get("error"), str), (
            f'{shown}: content must be {{"error": "<message>"}}, got {result.content!r}'
        )
        assert body["error"].strip(), (
            f'{shown}: content must be {{"error": "<message>"}}, got {result.content!r}'
        )
        if name == "drop_all_tables":
            assert "drop_all_tables" in body["error"], (
                f"{shown}: the error should name the unknown tool, got {body['error']!r}"
            )
