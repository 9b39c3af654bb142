"""Build the agent task set (``datasets/agent-tasks/tasks.jsonl``) used by lab agent-01.

Standard library only and deterministic. Every task is a multi-step question over the Tessaline
knowledge base (``datasets/knowledge-base``) and the shop database (``datasets/shop``), with the
plan a careful agent would follow: which tool to call with which input, what to read from each
observation, and how the final answer is written. The expected answer is NOT typed in by hand: this
script runs each plan against the data (the SQL on the shop database, the pattern on the named
document, the arithmetic in Python) and writes what comes out, so every answer is derivable.

    python datasets/agent-tasks/make_tasks.py            # rewrites tasks.jsonl
    python datasets/agent-tasks/make_tasks.py --check    # fails if tasks.jsonl is out of date
"""

from __future__ import annotations

import argparse
import ast
import json
import operator
import random
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parent
OUT = HERE / "tasks.jsonl"
SHOP = DATASETS / "shop" / "shop.sqlite"
DOCS = DATASETS / "knowledge-base" / "docs"
SEED = 20261204


def kb(query: str, doc: str, pattern: str, save: str, thought: str) -> dict[str, Any]:
    """A search_docs step: the query, the document that holds the fact and a regex whose first
    group is the value to read from the observation."""
    return {
        "tool": "search_docs",
        "input": query,
        "doc": doc,
        "pattern": pattern,
        "save": save,
        "thought": thought,
    }


def sql(query: str, save: str, thought: str) -> dict[str, Any]:
    """A sql step: the value read is the first column of the first row."""
    return {"tool": "sql", "input": query, "save": save, "thought": thought}


def calc(expression: str, save: str, thought: str) -> dict[str, Any]:
    """A calculator step; ``{name}`` in the expression is a value read earlier."""
    return {"tool": "calculator", "input": expression, "save": save, "thought": thought}


# --------------------------------------------------------------------------- knowledge base + math

KB_TASKS: list[tuple[str, list[dict[str, Any]], str]] = [
    (
        "Under the 2024 travel policy, what is the total meal per diem for a 6-day trip, in dollars?",
        [
            kb(
                "2024 meal per diem per day",
                "policy-travel-2024",
                r"meal per diem of \$(\d+) per day",
                "per_diem",
                "I need the 2024 meal per diem.",
            ),
            calc("{per_diem} * 6", "total", "Six days at that rate."),
        ],
        "The 2024 per diem for 6 days is ${total}.",
    ),
    (
        "Under the 2023 travel policy, how much is the meal per diem for a 9-day trip, in dollars?",
        [
            kb(
                "2023 meal per diem per day",
                "policy-travel-2023",
                r"meal per diem of \$(\d+) per day",
                "per_diem",
                "I need the 2023 meal per diem.",
            ),
            calc("{per_diem} * 9", "total", "Nine days at that rate."),
        ],
        "The 2023 per diem for 9 days is ${total}.",
    ),
    (
        "By how many dollars per day did the meal per diem rise from the 2023 to the 2024 travel policy?",
        [
            kb(
                "2023 meal per diem per day",
                "policy-travel-2023",
                r"meal per diem of \$(\d+) per day",
                "old",
                "First the 2023 per diem.",
            ),
            kb(
                "2024 meal per diem per day",
                "policy-travel-2024",
                r"meal per diem of \$(\d+) per day",
                "new",
                "Now the 2024 per diem.",
            ),
            calc("{new} - {old}", "rise", "The difference between the two."),
        ],
        "It rose by ${rise} per day.",
    ),
    (
        "What is the most the 2024 travel policy allows for 4 hotel nights in a tier-1 metro, in dollars?",
        [
            kb(
                "2024 lodging cap tier-1 metros per night",
                "policy-travel-2024",
                r"lodging cap for tier-1 metros is \$(\d+) per night",
                "cap",
                "I need the 2024 lodging cap for tier-1 metros.",
            ),
            calc("{cap} * 4", "total", "Four nights at the cap."),
        ],
        "At most ${total} for 4 nights.",
    ),
    (
        "How much higher is the tier-1 metro lodging cap per night in 2024 than in 2023, in dollars?",
        [
            kb(
                "2023 lodging cap tier-1 metros per night",
                "policy-travel-2023",
                r"lodging cap for tier-1 metros is \$(\d+) per night",
                "old",
                "First the 2023 cap.",
            ),
            kb(
                "2024 lodging cap tier-1 metros per night",
                "policy-travel-2024",
                r"lodging cap for tier-1 metros is \$(\d+) per night",
                "new",
                "Now the 2024 cap.",
            ),
            calc("{new} - {old}", "rise", "The difference."),
        ],
        "The cap is ${rise} higher per night.",
    ),
    (
        "How many more days ahead must flights be booked under the 2024 travel policy than under the 2023 one?",
        [
            kb(
                "2023 book flights days before departure",
                "policy-travel-2023",
                r"Book flights at least (\d+) days before departure",
                "old",
                "The 2023 booking rule first.",
            ),
            kb(
                "2024 book flights days before departure",
                "policy-travel-2024",
                r"Book flights at least (\d+) days before departure",
                "new",
                "Now the 2024 rule.",
            ),
            calc("{new} - {old}", "more", "The difference in days."),
        ],
        "{more} more days.",
    ),
    (
        "How many days shorter is the window for submitting expenses in 2024 than it was in 2023?",
        [
            kb(
                "2023 expenses submitted ExpenseDesk within days",
                "policy-expenses-2023",
                r"submitted in ExpenseDesk within (\d+) days",
                "old",
                "The 2023 submission window first.",
            ),
            kb(
                "2024 expenses submitted ExpenseDesk within days",
                "policy-expenses-2024",
                r"submitted in ExpenseDesk within (\d+) days",
                "new",
                "Now the 2024 window.",
            ),
            calc("{old} - {new}", "shorter", "The difference."),
        ],
        "It is {shorter} days shorter.",
    ),
    (
        "Under the 2024 expense policy, what is the most a dinner with 5 customers may cost, counting only the customers, in dollars?",
        [
            kb(
                "2024 meals with customers capped per person",
                "policy-expenses-2024",
                r"Meals with customers or partners are capped at \$(\d+) per person",
                "cap",
                "I need the 2024 per-person cap for customer meals.",
            ),
            calc("{cap} * 5", "total", "Five people at the cap."),
        ],
        "At most ${total}.",
    ),
    (
        "By how much did the per-person cap on meals with customers change from 2023 to 2024, in dollars?",
        [
            kb(
                "2023 meals with customers capped per person",
                "policy-expenses-2023",
                r"Meals with customers or partners are capped at \$(\d+) per person",
                "old",
                "The 2023 cap first.",
            ),
            kb(
                "2024 meals with customers capped per person",
                "policy-expenses-2024",
                r"Meals with customers or partners are capped at \$(\d+) per person",
                "new",
                "Now the 2024 cap.",
            ),
            calc("{new} - {old}", "change", "The difference."),
        ],
        "It went up by ${change} per person.",
    ),
    (
        "What does a full year of the Pro plan cost at the 2024 monthly price, in dollars?",
        [
            kb(
                "2024 Pro plan TS-PRO-250 price per month",
                "pricing-plans-2024",
                r"Pro plan, SKU TS-PRO-250, costs \$([\d,]+) per month",
                "monthly",
                "I need the 2024 Pro plan price.",
            ),
            calc("{monthly} * 12", "yearly", "Twelve months."),
        ],
        "${yearly} per year.",
    ),
    (
        "By how many dollars per month did the Pro plan price go up from 2023 to 2024?",
        [
            kb(
                "2023 Pro plan TS-PRO-250 price per month",
                "pricing-plans-2023",
                r"Pro plan, SKU TS-PRO-250, costs \$([\d,]+) per month",
                "old",
                "The 2023 Pro price first.",
            ),
            kb(
                "2024 Pro plan TS-PRO-250 price per month",
                "pricing-plans-2024",
                r"Pro plan, SKU TS-PRO-250, costs \$([\d,]+) per month",
                "new",
                "Now the 2024 Pro price.",
            ),
            calc("{new} - {old}", "rise", "The difference."),
        ],
        "It went up by ${rise} per month.",
    ),
    (
        "What does the Starter plan cost for a whole year at the 2024 price, in dollars?",
        [
            kb(
                "2024 Starter plan TS-STARTER-050 price per month",
                "pricing-plans-2024",
                r"Starter plan, SKU TS-STARTER-050, costs \$([\d,]+) per month",
                "monthly",
                "I need the 2024 Starter price.",
            ),
            calc("{monthly} * 12", "yearly", "Twelve months."),
        ],
        "${yearly} per year.",
    ),
    (
        "In 2024, how much is billed for 800 GB of ingest above the daily allowance, in dollars?",
        [
            kb(
                "2024 ingest above daily allowance billed per GB",
                "pricing-plans-2024",
                r"billed at \$([\d.]+) per GB in 2024",
                "rate",
                "I need the 2024 overage rate.",
            ),
            calc("{rate} * 800", "cost", "800 GB at that rate."),
        ],
        "${cost}.",
    ),
    (
        "What do two additional regions cost for a full year, in dollars?",
        [
            kb(
                "additional region costs per month",
                "pricing-add-ons",
                r"Each additional region costs \$(\d+) per month",
                "monthly",
                "I need the price of an additional region.",
            ),
            calc("{monthly} * 2 * 12", "total", "Two regions for twelve months."),
        ],
        "${total} per year.",
    ),
    (
        "How much does the single sign-on add-on cost for a year, in dollars?",
        [
            kb(
                "single sign-on SSO add-on TS-ADD-SSO price",
                "pricing-add-ons",
                r"TS-ADD-SSO \| \$(\d+) per month",
                "monthly",
                "I need the SSO add-on's monthly price.",
            ),
            calc("{monthly} * 12", "yearly", "Twelve months."),
        ],
        "${yearly} per year.",
    ),
    (
        "With the extended retention add-on, what does storing 500 GB beyond the plan's retention cost for 12 months, in dollars?",
        [
            kb(
                "extended retention add-on cost per GB-month",
                "pricing-add-ons",
                r"costs \$([\d.]+) per GB-month",
                "rate",
                "I need the per GB-month rate.",
            ),
            calc("{rate} * 500 * 12", "total", "500 GB for 12 months."),
        ],
        "${total}.",
    ),
    (
        "What is the on-call stipend for 3 weeks as the primary engineer, in dollars?",
        [
            kb(
                "on-call stipend per week primary",
                "policy-oncall",
                r"\$(\d+) per week as primary",
                "weekly",
                "I need the primary on-call stipend.",
            ),
            calc("{weekly} * 3", "total", "Three weeks."),
        ],
        "${total}.",
    ),
    (
        "At most how many events can be sent in 5 API v2 events requests?",
        [
            kb(
                "v2 events request may contain up to events",
                "api-v2-events",
                r"v2 events request may contain up to ([\d,]+) events",
                "per_request",
                "I need the v2 per-request event limit.",
            ),
            calc("{per_request} * 5", "total", "Five requests."),
        ],
        "{total} events.",
    ),
    (
        "How many more events does one API v2 events request allow than one API v1 request?",
        [
            kb(
                "v1 events request may contain at most events",
                "api-v1-events",
                r"v1 events request may contain at most ([\d,]+) events",
                "v1",
                "The v1 limit first.",
            ),
            kb(
                "v2 events request may contain up to events",
                "api-v2-events",
                r"v2 events request may contain up to ([\d,]+) events",
                "v2",
                "Now the v2 limit.",
            ),
            calc("{v2} - {v1}", "more", "The difference."),
        ],
        "{more} more events.",
    ),
    (
        "How many requests can one API v1 key make in an hour at its rate limit?",
        [
            kb(
                "API v1 key requests per minute rate limit",
                "api-v1-rate-limits",
                r"Each API v1 key may make (\d+) requests per minute",
                "per_minute",
                "I need the v1 per-minute limit.",
            ),
            calc("{per_minute} * 60", "per_hour", "Sixty minutes."),
        ],
        "{per_hour} requests per hour.",
    ),
    (
        "About how many minutes does rebuilding a 250 GB database replica take?",
        [
            kb(
                "database rebuild takes minutes per 100 GB",
                "runbook-db-failover",
                r"rebuild takes about (\d+) minutes per 100 GB",
                "per_100",
                "I need the rebuild speed.",
            ),
            calc("{per_100} * 250 / 100", "minutes", "Scale to 250 GB."),
        ],
        "About {minutes} minutes.",
    ),
    (
        "How many days of paid annual leave can an employee have in a year if they carried over the most unused days allowed?",
        [
            kb(
                "paid annual leave days per calendar year",
                "policy-leave",
                r"gets (\d+) days of paid annual leave",
                "leave",
                "The yearly leave first.",
            ),
            kb(
                "unused days carried over into the next year",
                "policy-leave",
                r"Up to (\d+) unused days can be carried over",
                "carry",
                "Now the carry-over limit.",
            ),
            calc("{leave} + {carry}", "total", "Add them."),
        ],
        "Up to {total} days.",
    ),
    (
        "How many minutes are API v2 OAuth access tokens valid for?",
        [
            kb(
                "OAuth access tokens valid for seconds",
                "api-v2-authentication",
                r"Access tokens from the OAuth endpoint are valid for (\d+) seconds",
                "seconds",
                "I need the token lifetime in seconds.",
            ),
            calc("{seconds} / 60", "minutes", "Convert to minutes."),
        ],
        "{minutes} minutes.",
    ),
    (
        "Under the 2023 travel policy, what is reimbursed for driving a personal car 250 miles, in dollars?",
        [
            kb(
                "2023 personal car use reimbursed per mile",
                "policy-travel-2023",
                r"reimbursed at \$([\d.]+) per mile",
                "rate",
                "I need the 2023 mileage rate.",
            ),
            calc("{rate} * 250", "total", "250 miles."),
        ],
        "${total}.",
    ),
]


# --------------------------------------------------------------------------- shop database


def shop_tasks(
    conn: sqlite3.Connection, rng: random.Random
) -> list[tuple[str, list[dict[str, Any]], str]]:
    """Questions about the shop, drawn deterministically from its rows."""
    products = conn.execute(
        "SELECT sku, name, price_cents, stock FROM products ORDER BY sku"
    ).fetchall()
    orders = conn.execute("SELECT order_id FROM orders ORDER BY order_id").fetchall()
    tasks: list[tuple[str, list[dict[str, Any]], str]] = []

    def quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    for _sku, name, _, _ in rng.sample(products, 6):
        n = rng.randint(2, 7)
        tasks.append(
            (
                f"What would {n} units of the {name} cost at list price, in dollars?",
                [
                    sql(
                        f"SELECT price_cents FROM products WHERE name = {quoted(name)}",
                        "cents",
                        f"I need the price of the {name}.",
                    ),
                    calc(
                        f"{{cents}} * {n} / 100",
                        "total",
                        f"{n} units, converted from cents to dollars.",
                    ),
                ],
                f"{n} units cost ${{total}}.",
            )
        )
    for (order_id,) in rng.sample(orders, 6):
        tasks.append(
            (
                f"What is the e-mail address of the customer who placed order {order_id}?",
                [
                    sql(
                        f"SELECT customer_id FROM orders WHERE order_id = '{order_id}'",
                        "customer",
                        "First find who placed the order.",
                    ),
                    sql(
                        "SELECT email FROM customers WHERE customer_id = '{customer}'",
                        "email",
                        "Now that customer's e-mail address.",
                    ),
                ],
                "{email}",
            )
        )
    for (order_id,) in rng.sample(orders, 5):
        tasks.append(
            (
                f"What was the total of order {order_id} in dollars, summing quantity times unit price over its items?",
                [
                    sql(
                        f"SELECT SUM(quantity * unit_price_cents) FROM order_items WHERE order_id = '{order_id}'",
                        "cents",
                        "Sum the order's items, in cents.",
                    ),
                    calc("{cents} / 100", "dollars", "Convert cents to dollars."),
                ],
                "The order total was ${dollars}.",
            )
        )
    pairs = [tuple(rng.sample(products, 2)) for _ in range(5)]
    for a, b in pairs:
        expensive, cheap = (a, b) if a[2] >= b[2] else (b, a)
        tasks.append(
            (
                f"How much more does the {expensive[1]} cost than the {cheap[1]}, in dollars?",
                [
                    sql(
                        f"SELECT price_cents FROM products WHERE name = {quoted(expensive[1])}",
                        "a",
                        f"The price of the {expensive[1]} first.",
                    ),
                    sql(
                        f"SELECT price_cents FROM products WHERE name = {quoted(cheap[1])}",
                        "b",
                        f"Now the price of the {cheap[1]}.",
                    ),
                    calc("({a} - {b}) / 100", "diff", "The difference, in dollars."),
                ],
                "${diff} more.",
            )
        )
    for (order_id,) in rng.sample(orders, 4):
        tasks.append(
            (
                f"In which city does the customer who placed order {order_id} live?",
                [
                    sql(
                        f"SELECT customer_id FROM orders WHERE order_id = '{order_id}'",
                        "customer",
                        "First find who placed the order.",
                    ),
                    sql(
                        "SELECT city FROM customers WHERE customer_id = '{customer}'",
                        "city",
                        "Now where that customer lives.",
                    ),
                ],
                "{city}",
            )
        )
    return tasks


# --------------------------------------------------------------------------- running a plan

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _arith(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _arith(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.left), _arith(node.right))
    raise ValueError(f"unsupported expression {ast.dump(node)}")


def number_text(value: float) -> str:
    """How the lab's calculator writes a result: integers plainly, other numbers rounded to 6
    decimals without trailing zeros."""
    if isinstance(value, int):
        return str(value)
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def read_value(step: dict[str, Any], observation: str) -> str:
    if step["tool"] == "search_docs":
        m = re.search(step["pattern"], observation)
        if m is None:
            raise ValueError(f"pattern {step['pattern']!r} not found in {step['doc']}")
        value = m.group(1)
        return value.replace(",", "") if re.fullmatch(r"[\d,.]+", value) else value
    return observation


def run_plan(conn: sqlite3.Connection, steps: list[dict[str, Any]], final: str) -> tuple[str, str]:
    """Execute a plan on the data; returns (answer value, final answer text)."""
    saved: dict[str, str] = {}
    last = ""
    for step in steps:
        text = step["input"].format(**saved)
        if step["tool"] == "search_docs":
            observation = (DOCS / f"{step['doc']}.md").read_text(encoding="utf-8")
        elif step["tool"] == "sql":
            rows = conn.execute(text).fetchall()
            if len(rows) != 1:
                raise ValueError(f"{text!r} returned {len(rows)} rows")
            observation = str(rows[0][0])
        else:
            observation = number_text(_arith(ast.parse(text, mode="eval")))
        last = saved[step["save"]] = read_value(step, observation)
    return last, final.format(**saved)


def build() -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    conn = sqlite3.connect(f"{SHOP.resolve().as_uri()}?mode=ro", uri=True)
    try:
        specs = KB_TASKS + shop_tasks(conn, rng)
        out: list[dict[str, Any]] = []
        for question, steps, final in specs:
            answer, final_text = run_plan(conn, steps, final)
            out.append(
                {
                    "question": question,
                    "answer": answer,
                    "final": final,
                    "example_answer": final_text,
                    "tools": sorted({s["tool"] for s in steps}),
                    "steps": steps,
                }
            )
    finally:
        conn.close()
    order = list(range(len(out)))
    rng.shuffle(order)
    tasks = []
    for n, index in enumerate(order):
        task = {"id": f"a{n + 1:03d}", **out[index], "split": "dev" if n % 2 == 0 else "test"}
        tasks.append(task)
    questions = [t["question"] for t in tasks]
    assert len(set(questions)) == len(questions), "duplicate questions"
    return tasks


def render(tasks: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tasks)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if tasks.jsonl is out of date")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run python {Path(__file__).relative_to(DATASETS.parent)}")
            return 1
        print("tasks.jsonl is up to date")
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(text.splitlines())} tasks to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
