"""Task 1: turn a dirty export of support messages into a clean, leak-free training set.

"Dataset curation is half of fine-tuning": a model learns whatever the data says, duplicates
and junk included, and a test set that shares near-copies with the training set measures
memory, not skill.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from labkit.datasets import datasets_dir

CATEGORIES = ("account", "billing", "damaged_item", "return", "shipping", "wrong_item")
URGENCIES = ("low", "medium", "high")
ORDER_ID = re.compile(r"^O-\d{4}$")
MAX_CHARS = 600  # longer messages are pasted threads: they would not fit the training sequence


def load_raw() -> list[dict[str, Any]]:
    """The raw export: ``{"id", "text", "label"}`` rows of datasets/support-tickets."""
    path = datasets_dir() / "support-tickets" / "messages.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def normalise(text: str) -> str:
    """The text as a duplicate check sees it.

    Args:
        text: a message as received.

    Returns:
        ``text`` lower-cased, with every run of whitespace (spaces, newlines, tabs) replaced by
        one space and no leading or trailing space.
    """
    return re.sub(r"\s+", " ", text.lower()).strip()


def near_duplicate_key(text: str) -> str:
    """The key that near-duplicates share.

    Two messages that differ only in their numbers (the same complaint about another order) are
    near-duplicates: they must land on the same side of the train/test split.

    Args:
        text: a message as received.

    Returns:
        ``normalise(text)`` with every run of digits replaced by ``#``.
    """
    return re.sub(r"\d+", "#", normalise(text))


def is_usable(row: dict[str, Any]) -> bool:
    """Whether a raw row may be used for training or testing.

    Args:
        row: ``{"id", "text", "label"}``; ``label`` is ``{"category", "urgency", "order_id"}``.

    Returns:
        True when the text has at least 20 non-space characters and at most ``MAX_CHARS``
        characters, the category is one of ``CATEGORIES``, the urgency one of ``URGENCIES``, and
        ``order_id`` is None or matches ``ORDER_ID`` and appears in the text.
    """
    text, label = row["text"], row["label"]
    if len("".join(text.split())) < 20 or len(text) > MAX_CHARS:
        return False
    if label.get("category") not in CATEGORIES or label.get("urgency") not in URGENCIES:
        return False
    order = label.get("order_id")
    return order is None or (
        isinstance(order, str) and bool(ORDER_ID.match(order)) and order in text
    )


def deduplicate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop exact duplicates, keeping the first copy.

    Args:
        rows: raw rows, in order.

    Returns:
        The rows whose ``normalise(text)`` was not seen earlier in ``rows``, in their order.
    """
    seen: set[str] = set()
    kept = []
    for row in rows:
        key = normalise(row["text"])
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def in_test_split(key: str, test_fraction: float) -> bool:
    """Whether the near-duplicate group ``key`` belongs to the test split.

    A hash, not a random draw: the same group always lands on the same side, whatever the order
    or the number of rows.

    Args:
        key: a ``near_duplicate_key``.
        test_fraction: the share of groups that go to test, in [0, 1].

    Returns:
        True when the first 8 bytes of ``sha256(key.encode("utf-8"))``, read as a big-endian
        unsigned integer and divided by 2**64, are below ``test_fraction``.
    """
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < test_fraction


def split(
    rows: list[dict[str, Any]], test_fraction: float = 0.15
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split rows into train and test so that near-duplicates never straddle the two.

    Args:
        rows: clean rows.
        test_fraction: passed to ``in_test_split``.

    Returns:
        ``(train, test)``: every row goes to test when
        ``in_test_split(near_duplicate_key(row["text"]), test_fraction)``, else to train; both
        keep the order of ``rows``.
    """
    train, test = [], []
    for row in rows:
        side = test if in_test_split(near_duplicate_key(row["text"]), test_fraction) else train
        side.append(row)
    return train, test


def curate(
    rows: list[dict[str, Any]], test_fraction: float = 0.15
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """Filter, deduplicate and split the raw rows.

    Args:
        rows: the raw export.
        test_fraction: passed to ``split``.

    Returns:
        ``(train, test, report)``: ``is_usable`` first, then ``deduplicate``, then ``split``.
        ``report`` counts ``raw`` (rows in), ``unusable`` (dropped by ``is_usable``),
        ``duplicates`` (then dropped by ``deduplicate``), ``train`` and ``test``.
    """
    usable = [row for row in rows if is_usable(row)]
    unique = deduplicate(usable)
    train, test = split(unique, test_fraction)
    report = {
        "raw": len(rows),
        "unusable": len(rows) - len(usable),
        "duplicates": len(usable) - len(unique),
        "train": len(train),
        "test": len(test),
    }
    return train, test, report


def datasheet(report: dict[str, int]) -> str:
    """A short datasheet for the curated set, in Markdown (given: write it to DATASHEET.md)."""
    return f"""# Support triage pairs (datasheet)

Instruction: a customer's support message. Response: the triage JSON
`{{"category": ..., "urgency": ..., "order_id": ...}}`.

- Source: datasets/support-tickets/messages.jsonl ({report["raw"]} raw rows, written by the
  project from templates and the course shop; no real customer data).
- Filtered: {report["unusable"]} rows unusable (empty or signature-only text, pasted threads
  over {MAX_CHARS} characters, unknown labels, an order id missing from the text).
- Deduplicated: {report["duplicates"]} exact duplicates once case and spacing are normalised.
- Split: {report["train"]} train / {report["test"]} test, by a hash of the near-duplicate key
  (digits masked), so a message and its copy about another order never straddle the split.
- Known limits: template-made text is far more regular than a real inbox; a score here says
  how well the model learned these templates, not how it would do on real mail.
"""


def save_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    """Write rows as JSON lines (given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
