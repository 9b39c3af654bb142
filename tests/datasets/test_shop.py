"""datasets/shop: the committed database is exactly what the seeded generator produces."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "datasets" / "shop"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_shop", SHOP / "make_shop.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_regenerated_database_matches_the_committed_file(tmp_path: Path) -> None:
    fresh = _generator().build(tmp_path / "shop.sqlite")
    committed, regenerated = _dump(SHOP / "shop.sqlite"), _dump(fresh)
    assert len(committed) == len(regenerated), "row count differs: re-run make_shop.py and commit"
    diff = [(a, b) for a, b in zip(committed, regenerated, strict=True) if a != b]
    assert not diff, f"committed shop.sqlite differs from the generator, first: {diff[0]}"


def test_generator_is_deterministic_byte_for_byte(tmp_path: Path) -> None:
    make = _generator()
    first = make.build(tmp_path / "a.sqlite").read_bytes()
    second = make.build(tmp_path / "b.sqlite").read_bytes()
    assert first == second


def test_sizes_and_integrity() -> None:
    conn = sqlite3.connect(f"file:{SHOP / 'shop.sqlite'}?mode=ro", uri=True)
    try:
        counts = {
            table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("customers", "products", "orders", "order_items")
        }
        assert counts["customers"] == 40
        assert counts["products"] == 25
        assert counts["orders"] == 120
        assert counts["order_items"] >= counts["orders"]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        statuses = {row[0] for row in conn.execute("SELECT DISTINCT status FROM orders")}
        assert statuses == {"pending", "paid", "shipped", "delivered", "cancelled", "refunded"}
        no_orders = conn.execute(
            "SELECT COUNT(*) FROM customers WHERE customer_id NOT IN (SELECT customer_id FROM orders)"
        ).fetchone()[0]
        assert no_orders >= 1, "some customers must have no orders (an edge case the lab uses)"
    finally:
        conn.close()
