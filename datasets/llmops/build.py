"""Build datasets/llmops/requests.jsonl: the arithmetic request stream of lab eval-02.

Deterministic (random.Random(20261204)); run ``python datasets/llmops/build.py`` to rebuild it
byte for byte. See DATASHEET.md for what the fields mean.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261204
OUT = Path(__file__).with_name("requests.jsonl")

EASY = ["What is {a} plus {b}?", "What is {a} times {b}?", "What is {a} minus {b}?"]
HARD = [
    "What is ({a} + {b}) * {c}?",
    "What is {a} * {b} - {c}?",
    "What is ({a} - {b}) * ({c} + {d})?",
    "What is {a} + {b} * {c}?",
]
PARAPHRASE = {
    "What is {a} plus {b}?": "Could you tell me what {a} + {b} comes to?",
    "What is {a} times {b}?": "Please compute {a} multiplied by {b}.",
    "What is {a} minus {b}?": "How much is {a} - {b}?",
    "What is ({a} + {b}) * {c}?": "Please compute ({a} + {b}) * {c} for me.",
    "What is {a} * {b} - {c}?": "How much is {a} * {b} - {c}?",
    "What is ({a} - {b}) * ({c} + {d})?": "Could you work out ({a} - {b}) * ({c} + {d})?",
    "What is {a} + {b} * {c}?": "How much is {a} + {b} * {c}?",
}


def _answer(template: str, v: dict[str, int]) -> int:
    expr = (
        template.format(**v)
        .removeprefix("What is ")
        .rstrip("?")
        .replace("plus", "+")
        .replace("minus", "-")
        .replace("times", "*")
    )
    return int(eval(expr, {"__builtins__": {}}))  # our own templates, integers only


def build() -> list[dict[str, object]]:
    rng = random.Random(SEED)
    rows: list[dict[str, object]] = []
    originals: list[tuple[str, dict[str, int], dict[str, object]]] = []
    for i in range(1200):
        split = "dev" if i % 4 == 0 else "test"
        r = rng.random()
        if originals and r < 0.12:  # an exact repeat, typed differently
            template, values, base = rng.choice(originals)
            text = str(base["question"])
            text = rng.choice([text.lower(), text.upper(), "  " + text.replace(" ", "  ") + " "])
            variant, of = "repeat", base["id"]
        elif originals and r < 0.22:  # the same question in other words
            template, values, base = rng.choice(originals)
            text = PARAPHRASE[template].format(**values)
            variant, of = "paraphrase", base["id"]
        elif originals and r < 0.30:  # the same words, one number changed: a different answer
            template, old, base = rng.choice(originals)
            values = dict(old)
            key = rng.choice(sorted(values))
            values[key] = values[key] + rng.choice([1, 2, 10])
            text = template.format(**values)
            variant, of = "near-miss", base["id"]
        else:
            hard = rng.random() < 0.4
            template = rng.choice(HARD if hard else EASY)
            values = {k: rng.randint(2, 99) for k in "abcd"}
            text = template.format(**values)
            variant, of = "original", None
        level = "hard" if template in HARD else "easy"
        row: dict[str, object] = {
            "id": f"rq-{i + 1:04d}",
            "split": split,
            "question": text,
            "answer": _answer(template, values),
            "difficulty": level,
            "variant": variant,
            "variant_of": of,
        }
        rows.append(row)
        if variant == "original":
            originals.append((template, values, row))
    return rows


if __name__ == "__main__":
    lines = [json.dumps(row, ensure_ascii=False) for row in build()]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} requests to {OUT}")
