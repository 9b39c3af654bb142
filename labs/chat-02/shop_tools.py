"""The shop's tools: their JSON schemas, their implementations, and one safe way to run them.

A model never touches the database. It asks for a tool by name with JSON arguments; this module
checks the request against the tool's schema, runs a parameterised query, and turns the outcome
(rows, "not found", or a malformed request) into a :class:`ToolResult` the model can read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    raise NotImplementedError("not implemented yet — see task 1")


# --- task 2: the tools, with parameterised SQL only ------------------------------------------


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
    raise NotImplementedError("not implemented yet — see task 2")


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
    raise NotImplementedError("not implemented yet — see task 2")


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
    raise NotImplementedError("not implemented yet — see task 2")


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
    raise NotImplementedError("not implemented yet — see task 2")


# --- task 3: running a tool call safely ------------------------------------------------------


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
    raise NotImplementedError("not implemented yet — see task 3")
