"""ft-01 part 1: curation — normalising, filtering, deduplicating, and a split without leakage."""

from __future__ import annotations

import random
import re
from typing import Any

import support

from labkit.grading import assert_same, lab_test


@lab_test(points=2, number="1.1")
def test_normalise_and_key(learner: Any, lab_seed: int) -> None:
    """Normalised text and the near-duplicate key"""
    curate = learner.import_module("curate")
    rng = random.Random(lab_seed)
    for _ in range(5):
        words, text = support.seeded_message(rng)
        got = curate.normalise(text)
        assert_same(got, " ".join(words).lower(), f"normalise({text!r})")
        key = curate.near_duplicate_key(text)
        # Built from the words: only the order number has digits.
        expected = " ".join(re.sub(r"[0-9]+", "#", w) for w in words).lower()
        assert_same(key, expected, f"near_duplicate_key({text!r})")
    assert_same(
        curate.near_duplicate_key("Order O-5001, 2 items, 10 days"),
        "order o-#, # items, # days",
        "near_duplicate_key('Order O-5001, 2 items, 10 days')",
    )


GOOD: dict[str, Any] = {
    "text": "Subject: Billing\n\nI was charged twice for order O-5012.",
    "label": {"category": "billing", "urgency": "low", "order_id": "O-5012"},
}
# (what is wrong, the row): each breaks exactly one rule of is_usable.
BAD = [
    ("blank text", {**GOOD, "text": "   \n  "}),
    ("a signature only (under 20 non-space characters)", {**GOOD, "text": "Sent from my phone"}),
    ("a pasted thread over 600 characters", {**GOOD, "text": GOOD["text"] + " x" * 300}),
    ("an unknown category", {**GOOD, "label": {**GOOD["label"], "category": "spam?"}}),
    ("an unknown urgency", {**GOOD, "label": {**GOOD["label"], "urgency": "urgent"}}),
    ("a malformed order id", {**GOOD, "label": {**GOOD["label"], "order_id": "5012"}}),
    (
        "an order id the text does not contain",
        {**GOOD, "label": {**GOOD["label"], "order_id": "O-5013"}},
    ),
]


@lab_test(points=2, number="1.2")
def test_is_usable(learner: Any) -> None:
    """Junk rows are filtered out, good rows kept"""
    curate = learner.import_module("curate")
    assert_same(curate.is_usable(GOOD), True, "is_usable(a good row)")
    no_order = {**GOOD, "label": {**GOOD["label"], "order_id": None}}
    assert_same(curate.is_usable(no_order), True, "is_usable(a good row with order_id None)")
    for what, row in BAD:
        assert_same(curate.is_usable(row), False, f"is_usable(a row with {what})")


@lab_test(points=2, number="1.3")
def test_deduplicate(learner: Any, lab_seed: int) -> None:
    """Exact duplicates (after normalising) are dropped, the first copy kept"""
    curate = learner.import_module("curate")
    rng = random.Random(lab_seed)
    originals: list[dict[str, Any]] = [
        {"id": f"o{i}", "text": support.seeded_message(rng)[1], "label": {}} for i in range(8)
    ]
    rows = list(originals)
    for i in range(5):  # re-typed copies, placed after their original
        src = originals[rng.randrange(8)]
        copy = {"id": f"c{i}", "text": "  " + src["text"].upper() + "\n", "label": {}}
        rows.insert(rows.index(src) + 1 + rng.randrange(len(rows) - rows.index(src)), copy)
    got = curate.deduplicate(rows)
    assert_same([r["id"] for r in got], [r["id"] for r in originals], "the ids deduplicate kept")


@lab_test(points=2, number="1.4")
def test_in_test_split(learner: Any, lab_seed: int) -> None:
    """The split is a stable hash of the group key, in the right proportion"""
    curate = learner.import_module("curate")
    rng = random.Random(lab_seed)
    keys = [f"message {rng.random()} #" for _ in range(2000)]
    sides = [curate.in_test_split(k, 0.2) for k in keys]
    share = sum(sides) / len(sides)
    # 2,000 fair draws at 20%: the standard deviation of the share is 0.009; 0.035 is ~4 sigma.
    assert abs(share - 0.2) < 0.035, f"{share:.1%} of keys went to test, expected about 20%"
    again = [curate.in_test_split(k, 0.2) for k in keys[:50]]
    assert_same(again, sides[:50], "a second call with the same keys")
    assert_same(any(curate.in_test_split(k, 0.0) for k in keys[:50]), False, "fraction 0: any test")
    assert_same(all(curate.in_test_split(k, 1.0) for k in keys[:50]), True, "fraction 1: all test")


@lab_test(points=3, number="1.5")
def test_split_has_no_leakage(learner: Any, lab_seed: int) -> None:
    """Near-duplicates never straddle train and test"""
    curate = learner.import_module("curate")
    rng = random.Random(lab_seed)
    rows: list[dict[str, Any]] = []
    for i in range(120):
        text = support.seeded_message(rng)[1]
        rows.append({"id": f"r{i}", "text": text, "label": {}})
        # The same message about another order: a near-duplicate.
        other = re.sub(r"O-\d+", f"O-{rng.randint(5001, 5120)}", text)
        rows.append({"id": f"r{i}b", "text": other, "label": {}})
    train, test = curate.split(rows, 0.3)
    ids = sorted(r["id"] for r in train + test)
    assert_same(ids, sorted(r["id"] for r in rows), "the ids in train + test (each row once)")
    test_ids = {r["id"] for r in test}
    leaks = [
        r["id"]
        for r in rows
        if r["id"].endswith("b") and (r["id"][:-1] in test_ids) != (r["id"] in test_ids)
    ]
    assert not leaks, f"{len(leaks)} near-duplicate pairs straddle the split, e.g. {leaks[0]}"
    assert 0.15 < len(test) / len(rows) < 0.45, f"{len(test)} of {len(rows)} rows in test for 0.3"
    order = [r["id"] for r in train]
    assert_same(order, [r["id"] for r in rows if r["id"] in set(order)], "train keeps the order")


@lab_test(points=3, number="1.6")
def test_curate_the_export(learner: Any) -> None:
    """The curated export: 1,000+ clean, unique pairs, no leakage, counts that add up"""
    curate = learner.import_module("curate")
    train, test, report = curate.curate(support.RAW, 0.15)
    assert_same(report["raw"], len(support.RAW), "report['raw']")
    total = report["unusable"] + report["duplicates"] + report["train"] + report["test"]
    assert_same(total, report["raw"], "unusable + duplicates + train + test")
    assert_same((report["train"], report["test"]), (len(train), len(test)), "the split sizes")
    assert len(train) + len(test) >= 1000, f"only {len(train) + len(test)} pairs left"
    assert report["unusable"] > 0, f"no unusable row dropped: {report}"
    assert report["duplicates"] > 0, f"no duplicate dropped: {report}"
    norm = [" ".join(r["text"].lower().split()) for r in train + test]
    assert len(set(norm)) == len(norm), "train + test still hold exact duplicates"
    key = lambda r: re.sub(r"[0-9]+", "#", " ".join(r["text"].lower().split()))  # noqa: E731
    shared = {key(r) for r in train} & {key(r) for r in test}
    assert not shared, f"{len(shared)} near-duplicate groups are in both train and test"
    for r in train + test:
        assert r["label"]["category"] in support.CATEGORIES, f"{r['id']} kept with a bad label"
        assert len(r["text"]) <= 600, r["id"]
        assert len("".join(r["text"].split())) >= 20, r["id"]
