"""Shared by the chat-02 tests: the expected answers, computed from the shop database.

Both test files check the same four tools (``test_shop_tools`` calls them directly,
``test_tool_loop`` reads their results off the wire), so the oracle that computes what each tool
should return lives here once. Imported at collection: the grader's files are gone once tests run.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


class Oracle:
    """The expected answers, computed from the database by the test itself."""

    def __init__(self, path: Path) -> None:
        conn = sqlite3.connect(path)
        try:
            self.customers = {
                r[0]: dict(
                    zip(
                        ("customer_id", "name", "email", "city", "country", "joined_on"),
                        r,
                        strict=True,
                    )
                )
                for r in conn.execute(
                    "SELECT customer_id, name, email, city, country, joined_on FROM customers"
                )
            }
            self.products = {
                r[0]: {
                    "sku": r[0],
                    "name": r[1],
                    "category": r[2],
                    "price": r[3] / 100,
                    "stock": r[4],
                }
                for r in conn.execute(
                    "SELECT sku, name, category, price_cents, stock FROM products"
                )
            }
            self.price_cents = dict(
                conn.execute("SELECT sku, price_cents FROM products").fetchall()
            )
            self.orders = conn.execute(
                "SELECT order_id, customer_id, status, ordered_on FROM orders"
            ).fetchall()
            self.items = conn.execute(
                "SELECT order_id, quantity, unit_price_cents FROM order_items"
            ).fetchall()
        finally:
            conn.close()

    def orders_of(self, customer_id: str, status: str | None = None) -> list[dict[str, Any]]:
        totals: dict[str, int] = {}
        for order_id, quantity, unit in self.items:
            totals[order_id] = totals.get(order_id, 0) + quantity * unit
        rows = sorted(
            (o for o in self.orders if o[1] == customer_id and (status is None or o[2] == status)),
            key=lambda o: (o[3], o[0]),
        )
        return [
            {"order_id": o[0], "status": o[2], "ordered_on": o[3], "total": totals[o[0]] / 100}
            for o in rows
        ]

    def search(self, query: str, max_price: float | None = None) -> list[dict[str, Any]]:
        needle = query.lower()
        found = [
            p
            for p in self.products.values()
            if (needle in p["name"].lower() or needle in p["category"].lower())
            and (max_price is None or self.price_cents[p["sku"]] <= round(max_price * 100))
        ]
        found.sort(key=lambda p: (self.price_cents[p["sku"]], p["sku"]))
        return found[:10]

    def customers_with_orders(self, minimum: int = 1) -> list[str]:
        counts: dict[str, int] = {}
        for o in self.orders:
            counts[o[1]] = counts.get(o[1], 0) + 1
        return sorted(c for c, n in counts.items() if n >= minimum)

    def customers_without_orders(self) -> list[str]:
        buyers = {o[1] for o in self.orders}
        return sorted(c for c in self.customers if c not in buyers)
