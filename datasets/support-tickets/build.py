"""Build datasets/support-tickets/messages.jsonl: the raw triage data of lab ft-01.

Deterministic (random.Random(20261205)); run ``python datasets/support-tickets/build.py`` to
rebuild it byte for byte. Customers, products and orders come from the course shop
(datasets/shop/shop.sqlite); the sentences are the project's own templates. The raw file is
deliberately dirty, like a real export: see DATASHEET.md.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

SEED = 20261205
HERE = Path(__file__).resolve().parent
OUT = HERE / "messages.jsonl"
SHOP = HERE.parent / "shop" / "shop.sqlite"
N_ORIGINAL = 1300

SUBJECTS = {
    "billing": ["Charged twice", "Wrong amount on my card", "Question about a charge", "Billing"],
    "shipping": ["Where is my parcel?", "Delivery is late", "Tracking not updating", "Shipping"],
    "damaged_item": ["Arrived broken", "Damaged on arrival", "Item is cracked", "Damaged item"],
    "wrong_item": ["Wrong item sent", "This is not what I ordered", "Mix-up in my order"],
    "return": ["Return request", "I want to send this back", "How do returns work?"],
    "account": ["Cannot log in", "Password reset not working", "Account locked", "Login help"],
}
PROBLEMS = {
    "billing": [
        "I was charged twice for {order}.",
        "My card was billed {amount} for {order}, but the {product} costs less than that.",
        "There is a payment on my statement for {order} that I do not recognise.",
        "The invoice for the {product} shows the wrong price.",
        "I used a discount code on {order} and it was not applied to the total.",
        "You charged my card again after I paid for the {product}.",
    ],
    "shipping": [
        "My {product} from {order} still has not arrived.",
        "The tracking for {order} has not moved in a week.",
        "The courier says the {product} was delivered, but nothing came.",
        "It has been ten days and {order} is still not here.",
        "Can you tell me where my parcel is? The {product} was due on Monday.",
        "{order} seems to be stuck at the depot.",
    ],
    "damaged_item": [
        "The {product} from {order} arrived with a big crack.",
        "My {product} was broken when I opened the box.",
        "The box for {order} was crushed and the {product} inside is dented.",
        "The {product} arrived scratched all over.",
        "One part of the {product} snapped off on arrival.",
        "The {product} in {order} was damaged in transit.",
    ],
    "wrong_item": [
        "I ordered the {product} but you sent me a {other} instead.",
        "{order} contained a {other}, not the {product} I paid for.",
        "The parcel for {order} had someone else's items in it.",
        "I got the wrong colour of the {product}.",
        "You sent two of the {other} and no {product}.",
    ],
    "return": [
        "I would like to return the {product} from {order}.",
        "The {product} does not fit my kitchen, can I send it back?",
        "How do I return {order}? I changed my mind.",
        "I want a refund for the {product}, it is not what I expected.",
        "Please send me a return label for the {product}.",
    ],
    "account": [
        "I cannot log in to my account any more.",
        "The password reset e-mail never arrives.",
        "My account says it is locked after I ordered {order}.",
        "I want to change the e-mail address on my account.",
        "I keep getting an error when I sign in to check {order}.",
    ],
}
URGENCY_CUES = {
    "high": [
        "This is urgent.",
        "I need this sorted today, please.",
        "Please help as soon as possible, it is a gift for tomorrow.",
        "URGENT: I leave on a trip in two days.",
    ],
    "low": [
        "No rush at all.",
        "Whenever you have a moment.",
        "It is not urgent, just letting you know.",
    ],
    "medium": ["", "", "Thanks in advance for your help.", "Could you look into it?"],
}
GREETINGS = ["Hello,", "Hi,", "Hi there,", "Dear support,", "Good morning,", ""]
SIGN_OFFS = ["Thanks,", "Best regards,", "Cheers,", "Kind regards,", ""]


def _shop() -> tuple[list[str], list[str], list[str]]:
    with sqlite3.connect(f"file:{SHOP}?mode=ro", uri=True) as db:
        names = [r[0] for r in db.execute("SELECT name FROM customers ORDER BY customer_id")]
        products = [r[0] for r in db.execute("SELECT name FROM products ORDER BY sku")]
        orders = [r[0] for r in db.execute("SELECT order_id FROM orders ORDER BY order_id")]
    return names, products, orders


def _message(rng: random.Random, names: list[str], products: list[str], orders: list[str]):
    category = rng.choice(sorted(PROBLEMS))
    urgency = rng.choices(["low", "medium", "high"], weights=[2, 5, 3])[0]
    template = rng.choice(PROBLEMS[category])
    product, other = rng.sample(products, 2)
    has_order = "{order}" in template or rng.random() < 0.5
    order_id = rng.choice(orders) if has_order else None
    problem = template.format(
        order=f"order {order_id}",
        product=product,
        other=other,
        amount=f"${rng.randint(20, 400)}.{rng.randint(0, 99):02d}",
    )
    problem = problem[0].upper() + problem[1:]
    body = [problem]
    if order_id and "{order}" not in template:
        body.append(
            rng.choice(["My order number is {o}.", "(Order {o})", "Order: {o}"]).format(o=order_id)
        )
    cue = rng.choice(URGENCY_CUES[urgency])
    if cue:
        body.insert(rng.randint(0, len(body)), cue)
    name = rng.choice(names)
    lines = [f"Subject: {rng.choice(SUBJECTS[category])}", ""]
    greeting = rng.choice(GREETINGS)
    if greeting:
        lines += [greeting, ""]
    lines.append(" ".join(body))
    sign_off = rng.choice(SIGN_OFFS)
    lines += ["", f"{sign_off}\n{name}" if sign_off else name]
    label = {"category": category, "urgency": urgency, "order_id": order_id}
    return "\n".join(lines), label


def build() -> list[dict[str, object]]:
    rng = random.Random(SEED)
    names, products, orders = _shop()
    rows: list[dict[str, object]] = []
    for _ in range(N_ORIGINAL):
        text, label = _message(rng, names, products, orders)
        rows.append({"text": text, "label": label})
        r = rng.random()
        if (
            r < 0.06
        ):  # the same message exported twice, re-typed: an exact duplicate once normalised
            retyped = rng.choice([text.upper(), text.lower(), text.replace(" ", "  ") + "\n"])
            rows.append({"text": retyped, "label": dict(label)})
        elif r < 0.12 and label["order_id"]:  # a customer writing again about another order
            again = rng.choice([o for o in orders if o != label["order_id"]])
            rows.append(
                {
                    "text": text.replace(str(label["order_id"]), again),
                    "label": {**label, "order_id": again},
                }
            )
        elif r < 0.14:  # junk a real export contains: empty, signature-only, an unknown label
            kind = rng.choice(["empty", "signature", "label"])
            if kind == "empty":
                rows.append({"text": "   ", "label": dict(label)})
            elif kind == "signature":
                rows.append({"text": "Sent from my phone", "label": dict(label)})
            else:
                rows.append({"text": text, "label": {**label, "category": "spam?"}})
        elif r < 0.15:  # a pasted thread far too long for the model's context
            rows.append({"text": (text + "\n> ") * 12, "label": dict(label)})
    rng.shuffle(rows)
    return [{"id": f"msg-{i + 1:04d}", **row} for i, row in enumerate(rows)]


if __name__ == "__main__":
    lines = [json.dumps(row, ensure_ascii=False) for row in build()]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} messages to {OUT}")
