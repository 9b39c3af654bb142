"""The shop's tools: their JSON schemas, their implementations, and one safe way to run them.

A model never touches the database. It asks for a tool by name with JSON arguments; this module
checks the request against the tool's schema, runs a parameterised query, and turns the outcome
(rows, "not found", or a malformed request) into a :class:`ToolResult` the model can read.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
MAX_SEARCH_RESULTS = 10


# --- given: opening the database -------------------------------------------------------------


def open_db(path: str | Path) -> sqlite3.Connection:
    """Open the shop database READ-ONLY, with rows as :class:`sqlite3.Row`.

    Read-only is a second line of defence: even a query built by string pasting cannot change
    anything through this connection. The first line is parameterised SQL in every tool.
    """
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise FileNotFoundError(f"shop database not found: {resolved}")
    conn = sqlite3.connect(f"{resolved.as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


class ToolError(Exception):
    """A problem the MODEL should hear about (unknown id, bad arguments), not a crash."""


@dataclass(frozen=True)
class ToolResult:
    """What goes back to the model for one tool call.

    ``content`` is a JSON document: the tool's data on success, ``{"error": "..."}`` on failure.
    """

    content: str
    is_error: bool = False


# --- task 1: the tool schemas ----------------------------------------------------------------


def tool_definitions() -> list[dict[str, Any]]:
    """The four shop tools, provider-neutral: ``{"name", "description", "parameters"}``.

    ``parameters`` is a strict JSON Schema: an object with ``additionalProperties: false``, every
    property listed in ``required`` and described, optional values expressed as nullable.
    ``ORDER_STATUSES`` lists the statuses ``list_orders`` accepts.

    Returns:
        A new list of four tool definitions, in the order get_customer, list_orders,
        get_product, search_products.
    """
    return [
        {
            "name": "get_customer",
            "description": (
                "Look up one customer by id and return their name, e-mail, city, country and the "
                "date they joined. Use it when the user gives a customer id like C-1001."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "customer_id": {
                        "type": "string",
                        "description": "The customer's id, e.g. 'C-1001'.",
                    }
                },
                "required": ["customer_id"],
                "additionalProperties": False,
            },
        },
        {
            "name": "list_orders",
            "description": (
                "List a customer's orders (id, status, date, total in USD), oldest first, "
                "optionally only those with a given status."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "customer_id": {
                        "type": "string",
                        "description": "The customer's id, e.g. 'C-1001'.",
                    },
                    "status": {
                        "type": ["string", "null"],
                        "enum": [*ORDER_STATUSES, None],
                        "description": "Only orders with this status; null for all orders.",
                    },
                },
                "required": ["customer_id", "status"],
                "additionalProperties": False,
            },
        },
        {
            "name": "get_product",
            "description": (
                "Look up one product by SKU and return its name, category, price in USD and "
                "units in stock."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "description": "The product SKU, e.g. 'KIT-101'."}
                },
                "required": ["sku"],
                "additionalProperties": False,
            },
        },
        {
            "name": "search_products",
            "description": (
                "Find products whose name or category contains the query (case-insensitive), "
                f"cheapest first, at most {MAX_SEARCH_RESULTS}; optionally only up to a price."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {
                        "type": "string",
                        "description": "Words to look for in the product name or category.",
                    },
                    "max_price": {
                        "type": ["number", "null"],
                        "description": "Highest price in US dollars; null for no limit.",
                    },
                },
                "required": ["query", "max_price"],
                "additionalProperties": False,
            },
        },
    ]


# --- task 2: the tools, with parameterised SQL only ------------------------------------------


def _dollars(cents: int) -> float:
    return cents / 100


def _product(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "sku": row["sku"],
        "name": row["name"],
        "category": row["category"],
        "price": _dollars(row["price_cents"]),
        "stock": row["stock"],
    }


def get_customer(conn: sqlite3.Connection, customer_id: str) -> dict[str, Any]:
    """One customer as a dict.

    Args:
        conn: an open shop database (rows as ``sqlite3.Row``).
        customer_id: e.g. ``"C-1001"``.

    Returns:
        ``{"customer_id", "name", "email", "city", "country", "joined_on"}``.

    Raises:
        ToolError: when no customer has that id.
    """
    row = conn.execute(
        "SELECT customer_id, name, email, city, country, joined_on "
        "FROM customers WHERE customer_id = ?",
        (customer_id,),
    ).fetchone()
    if row is None:
        raise ToolError(f"no customer with id {customer_id!r}")
    return dict(row)


def list_orders(
    conn: sqlite3.Connection, customer_id: str, status: str | None = None
) -> list[dict[str, Any]]:
    """A customer's orders, oldest first (ties by order id).

    Args:
        conn: an open shop database.
        customer_id: whose orders.
        status: only orders with this status; ``None`` for all.

    Returns:
        A list of ``{"order_id", "status", "ordered_on", "total"}``, ``total`` in dollars
        (the sum of quantity x unit price over the order's items). Empty if the customer
        has no (matching) orders.

    Raises:
        ToolError: when no customer has that id.
    """
    get_customer(conn, customer_id)  # raises ToolError for an unknown id
    rows = conn.execute(
        "SELECT o.order_id, o.status, o.ordered_on, "
        "       SUM(i.quantity * i.unit_price_cents) AS total_cents "
        "FROM orders AS o JOIN order_items AS i ON i.order_id = o.order_id "
        "WHERE o.customer_id = ? AND (? IS NULL OR o.status = ?) "
        "GROUP BY o.order_id ORDER BY o.ordered_on, o.order_id",
        (customer_id, status, status),
    ).fetchall()
    return [
        {
            "order_id": row["order_id"],
            "status": row["status"],
            "ordered_on": row["ordered_on"],
            "total": _dollars(row["total_cents"]),
        }
        for row in rows
    ]


def get_product(conn: sqlite3.Connection, sku: str) -> dict[str, Any]:
    """One product as a dict.

    Args:
        conn: an open shop database.
        sku: e.g. ``"KIT-101"``.

    Returns:
        ``{"sku", "name", "category", "price", "stock"}``, ``price`` in dollars.

    Raises:
        ToolError: when no product has that SKU.
    """
    row = conn.execute(
        "SELECT sku, name, category, price_cents, stock FROM products WHERE sku = ?", (sku,)
    ).fetchone()
    if row is None:
        raise ToolError(f"no product with SKU {sku!r}")
    return _product(row)


def search_products(
    conn: sqlite3.Connection, query: str, max_price: float | None = None
) -> list[dict[str, Any]]:
    """Products whose name or category contains ``query``, case-insensitively.

    Args:
        conn: an open shop database.
        query: a substring to find in the name or the category.
        max_price: highest price in dollars (inclusive); ``None`` for no limit.

    Returns:
        Up to 10 products (same fields as :func:`get_product`), cheapest first, ties by SKU.
    """
    # The user's text is DATA: it goes in as a bound parameter, and LIKE's own wildcards in it
    # are escaped so that "%" searches for a percent sign rather than matching everything.
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    max_cents = None if max_price is None else round(max_price * 100)
    rows = conn.execute(
        "SELECT sku, name, category, price_cents, stock FROM products "
        "WHERE (name LIKE ? ESCAPE '\\' OR category LIKE ? ESCAPE '\\') "
        "  AND (? IS NULL OR price_cents <= ?) "
        "ORDER BY price_cents, sku LIMIT ?",
        (pattern, pattern, max_cents, max_cents, MAX_SEARCH_RESULTS),
    ).fetchall()
    return [_product(row) for row in rows]


# --- task 3: running a tool call safely ------------------------------------------------------

_IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "get_customer": get_customer,
    "list_orders": list_orders,
    "get_product": get_product,
    "search_products": search_products,
}


def _nullable(spec: Mapping[str, Any]) -> bool:
    kind = spec.get("type")
    return kind == "null" or (isinstance(kind, list) and "null" in kind)


def _error(message: str) -> ToolResult:
    return ToolResult(content=json.dumps({"error": message}), is_error=True)


def execute_tool(
    conn: sqlite3.Connection, name: str, arguments: str | Mapping[str, Any]
) -> ToolResult:
    """Run one tool call from the model and describe the outcome for the model. Never raises.

    Args:
        conn: an open shop database.
        name: the tool name the model asked for (it may not exist).
        arguments: the raw JSON string (OpenAI) or the already-parsed object (Anthropic).
            It may be invalid JSON, not an object, or not match the tool's schema.

    Returns:
        ``ToolResult(json.dumps(data), is_error=False)`` on success, or
        ``ToolResult(json.dumps({"error": "<what went wrong>"}), is_error=True)``.

    Hint: ``jsonschema.Draft202012Validator(schema).iter_errors(args)`` lists what is wrong with
    ``args`` for a schema — the same schema you sent the model.
    """
    schemas = {tool["name"]: tool["parameters"] for tool in tool_definitions()}
    if name not in schemas:
        return _error(f"unknown tool {name!r}; available tools: {', '.join(schemas)}")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            return _error(f"arguments for {name} are not valid JSON ({exc}); send a JSON object")
    if not isinstance(arguments, Mapping):
        return _error(f"arguments for {name} must be a JSON object, got {type(arguments).__name__}")

    schema = schemas[name]
    # A model may leave out an optional (nullable) argument: treat it as null.
    args = {key: None for key, spec in schema["properties"].items() if _nullable(spec)}
    args.update(arguments)
    problem = best_match(Draft202012Validator(schema).iter_errors(args))
    if problem is not None:
        where = ".".join(str(part) for part in problem.path) or "arguments"
        return _error(f"invalid arguments for {name}: {where}: {problem.message}")

    try:
        data = _IMPLEMENTATIONS[name](conn, **args)
    except ToolError as exc:
        return _error(str(exc))
    except sqlite3.Error as exc:
        return _error(f"{name} failed in the database: {exc}")
    return ToolResult(content=json.dumps(data))
