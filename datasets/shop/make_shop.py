"""Build the small shop database used by the tool-calling lab (chat-02).

Standard library only and deterministic: the same seed gives the same rows in the same order, and
with the same SQLite version the same bytes. Run it from the repository root::

    python datasets/shop/make_shop.py                 # rewrites datasets/shop/shop.sqlite
    python datasets/shop/make_shop.py --out /tmp/x.sqlite

Tables: customers (40), products (25), orders (120), order_items. See DATASHEET.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sqlite3
from pathlib import Path

SEED = 20240611
DEFAULT_OUT = Path(__file__).with_name("shop.sqlite")

SCHEMA = """
CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,           -- 'C-1001'
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    city        TEXT NOT NULL,
    country     TEXT NOT NULL,              -- ISO 3166-1 alpha-2
    joined_on   TEXT NOT NULL               -- ISO date
);
CREATE TABLE products (
    sku         TEXT PRIMARY KEY,           -- 'KIT-101'
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents > 0),   -- US cents: money is never a float
    stock       INTEGER NOT NULL CHECK (stock >= 0)
);
CREATE TABLE orders (
    order_id    TEXT PRIMARY KEY,           -- 'O-5001'
    customer_id TEXT NOT NULL REFERENCES customers(customer_id),
    status      TEXT NOT NULL CHECK (status IN
                    ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),
    ordered_on  TEXT NOT NULL               -- ISO date
);
CREATE TABLE order_items (
    order_id         TEXT NOT NULL REFERENCES orders(order_id),
    sku              TEXT NOT NULL REFERENCES products(sku),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents > 0),  -- price paid, after discount
    PRIMARY KEY (order_id, sku)
);
CREATE INDEX orders_by_customer ON orders(customer_id, ordered_on);
"""

FIRST_NAMES = [
    "Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ivan", "Jonas",
    "Keiko", "Liam", "Maya", "Nikolai", "Olga", "Priya", "Quentin", "Rosa", "Sven", "Tomás",
    "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoe",
]
LAST_NAMES = [
    "Andersen", "Baptiste", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Horvat", "Ito",
    "Jansen", "Kowalski", "Lindqvist", "Moreau", "Novak", "O'Neill", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Varga", "Weber", "Yilmaz",
]
CITIES = [
    ("Lisbon", "PT"), ("Lyon", "FR"), ("Munich", "DE"), ("Utrecht", "NL"), ("Turin", "IT"),
    ("Krakow", "PL"), ("Gothenburg", "SE"), ("Dublin", "IE"), ("Valencia", "ES"), ("Brno", "CZ"),
    ("Toronto", "CA"), ("Austin", "US"), ("Osaka", "JP"),
]

# (sku, name, category, price_cents, stock) — written by hand so names read like a real catalogue.
PRODUCTS = [
    ("KIT-101", "Chef's Knife 20cm", "kitchen", 5900, 34),
    ("KIT-102", "Cast Iron Skillet 26cm", "kitchen", 4450, 18),
    ("KIT-103", "Espresso Cups (set of 4)", "kitchen", 2200, 52),
    ("KIT-104", "Bamboo Cutting Board", "kitchen", 1899, 61),
    ("KIT-105", "Pour-Over Coffee Kettle", "kitchen", 3999, 0),
    ("OUT-201", "Trail Backpack 30L", "outdoor", 8900, 12),
    ("OUT-202", "Insulated Water Bottle 750ml", "outdoor", 2499, 140),
    ("OUT-203", "Camping Lantern", "outdoor", 3250, 27),
    ("OUT-204", "Merino Hiking Socks (2 pairs)", "outdoor", 1999, 88),
    ("OUT-205", "Rain Shell Jacket", "outdoor", 12900, 9),
    ("OFF-301", "Mechanical Keyboard", "office", 10900, 21),
    ("OFF-302", "Wireless Mouse", "office", 2999, 75),
    ("OFF-303", "LED Desk Lamp", "office", 4599, 0),
    ("OFF-304", "Dotted Notebook A5", "office", 1250, 230),
    ("OFF-305", "Fountain Pen", "office", 3400, 16),
    ("HOM-401", "Wool Throw Blanket", "home", 6900, 14),
    ("HOM-402", "Linen Pillow Cover", "home", 2450, 66),
    ("HOM-403", "Cedar Scented Candle", "home", 1600, 104),
    ("HOM-404", "Ceramic Plant Pot", "home", 2100, 39),
    ("HOM-405", "Oak Wall Clock", "home", 5450, 7),
    ("AUD-501", "Bluetooth Speaker", "audio", 7900, 25),
    ("AUD-502", "Noise-Cancelling Headphones", "audio", 19900, 11),
    ("AUD-503", "USB-C Earbuds", "audio", 3900, 58),
    ("AUD-504", "Headphone Stand", "audio", 2750, 30),
    ("AUD-505", "Children's Headphones", "audio", 2999, 44),
]

N_CUSTOMERS = 40
N_ORDERS = 120
FIRST_ORDER_DAY = dt.date(2024, 6, 3)
LAST_ORDER_DAY = dt.date(2024, 12, 30)
TODAY = dt.date(2024, 12, 31)  # the shop's "now": recent orders are still pending or in transit


def _ascii(text: str) -> str:
    return text.replace("á", "a").replace("í", "i").replace("'", "").replace("ç", "c").lower()


def make_customers(rng: random.Random) -> list[tuple[str, str, str, str, str, str]]:
    """40 customers with unique names and e-mail addresses."""
    names: list[tuple[str, str]] = []
    while len(names) < N_CUSTOMERS:
        pair = (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
        if pair not in names:
            names.append(pair)
    rows = []
    for i, (first, last) in enumerate(names):
        city, country = rng.choice(CITIES)
        joined = dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(0, 730))
        email = f"{_ascii(first)}.{_ascii(last)}@example.com"
        rows.append((f"C-{1001 + i}", f"{first} {last}", email, city, country, joined.isoformat()))
    return rows


def _status_for(ordered_on: dt.date, rng: random.Random) -> str:
    """Plausible status for an order's age: old orders are delivered, new ones still moving."""
    age = (TODAY - ordered_on).days
    if rng.random() < 0.08:
        return "cancelled"
    if age > 60:
        return "refunded" if rng.random() < 0.08 else "delivered"
    if age > 21:
        return rng.choice(["shipped", "delivered", "delivered"])
    return rng.choice(["pending", "paid", "paid", "shipped"])


def make_orders(
    rng: random.Random, customers: list[tuple[str, ...]]
) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str, int, int]]]:
    """120 orders over the second half of 2024 with 1-4 line items each; a few customers never order."""
    # Some customers are regulars, a few never buy anything (useful "no orders" cases).
    buyers = [c[0] for c in customers[:-4]]
    weights = [rng.choice([1, 1, 2, 3, 5]) for _ in buyers]
    span = (LAST_ORDER_DAY - FIRST_ORDER_DAY).days
    days = sorted(FIRST_ORDER_DAY + dt.timedelta(days=rng.randrange(span + 1)) for _ in range(N_ORDERS))
    orders, items = [], []
    for i, day in enumerate(days):
        order_id = f"O-{5001 + i}"
        customer_id = rng.choices(buyers, weights)[0]
        orders.append((order_id, customer_id, _status_for(day, rng), day.isoformat()))
        for sku, _name, _cat, price, _stock in rng.sample(PRODUCTS, rng.choice([1, 1, 2, 2, 3, 4])):
            discounted = price * 9 // 10 if rng.random() < 0.15 else price
            items.append((order_id, sku, rng.choice([1, 1, 1, 2, 3]), discounted))
    return orders, items


def build(out: Path, seed: int = SEED) -> Path:
    """Write the database to ``out`` (replacing it) and return the path."""
    rng = random.Random(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    customers = make_customers(rng)
    orders, items = make_orders(rng, customers)
    conn = sqlite3.connect(out)
    try:
        conn.execute("PRAGMA page_size = 4096")
        conn.executescript(SCHEMA)
        with conn:
            conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)", customers)
            conn.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?)", PRODUCTS)
            conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", orders)
            conn.executemany("INSERT INTO order_items VALUES (?, ?, ?, ?)", items)
        conn.execute("VACUUM")
    finally:
        conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the database")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    path = build(args.out, args.seed)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
