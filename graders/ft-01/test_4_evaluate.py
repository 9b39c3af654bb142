"""ft-01 part 4: scoring replies, the gain's confidence interval, batched greedy generation."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import support

from labkit.grading import assert_same, lab_test, make

LABEL = {"category": "billing", "urgency": "high", "order_id": "O-5012"}
GOOD = '{"category": "billing", "urgency": "high", "order_id": "O-5012"}'
# (reply, what parse_reply must give): hand-built.
PARSE_CASES = [
    (GOOD, LABEL),
    ("  " + GOOD + "\n", LABEL),
    (
        '{"urgency": "high", "order_id": null, "category": "return"}',
        {"urgency": "high", "order_id": None, "category": "return"},
    ),
    ("Sure! " + GOOD, None),  # chatter around the JSON: not valid output
    ('{"category": "billing", "urgency": "high"}', None),  # a key missing
    (
        '{"category": "billing", "urgency": "high", "order_id": null, "note": "x"}',
        None,
    ),  # extra key
    ('["billing", "high", null]', None),  # not an object
    ('{"category": "billing", "urgency": "high", "order_id": "O-5012"', None),  # cut off
    ("", None),
]


@lab_test(points=2, number="4.1")
def test_parse_reply(learner: Any) -> None:
    """Replies are read strictly: one JSON object with exactly the three keys"""
    evaluate = learner.import_module("evaluate")
    for reply, expected in PARSE_CASES:
        assert_same(evaluate.parse_reply(reply), expected, f"parse_reply({reply!r})")


@lab_test(points=3, number="4.2")
def test_score(learner: Any) -> None:
    """Exact match, JSON validity and per-field accuracy on hand-built replies"""
    evaluate = learner.import_module("evaluate")
    labels = [LABEL, LABEL, {**LABEL, "order_id": None}, LABEL]
    replies = [
        GOOD,  # right
        GOOD.replace("high", "low"),  # urgency wrong
        GOOD,  # order_id wrong (the label has none)
        "I think it is billing.",  # not JSON
    ]
    got = evaluate.score(replies, labels)
    assert_same(got["correct"], [1, 0, 0, 0], "correct")
    assert_same(got["exact_match"], 0.25, "exact_match (1 of 4)")
    assert_same(got["json_valid"], 0.75, "json_valid (3 of 4)")
    # category right in 3 replies; urgency in 2 (reply 2 says low); order_id in 2 (reply 3 is wrong).
    assert_same(
        got["field_accuracy"],
        {"category": 0.75, "urgency": 0.5, "order_id": 0.5},
        "field_accuracy",
    )
    empty = evaluate.score([], [])
    assert_same(empty["exact_match"], 0.0, "exact_match of no replies")


def grader_bootstrap(before: list[int], after: list[int], seed: int) -> tuple[float, float]:
    """The grader's own paired percentile bootstrap (its own random stream, 20,000 resamples)."""
    diffs = np.asarray(after, float) - np.asarray(before, float)
    rng = np.random.default_rng(seed + 104729)
    means = diffs[rng.integers(0, len(diffs), size=(20000, len(diffs)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


@lab_test(points=3, number="4.3")
def test_gain_interval(learner: Any, lab_seed: int) -> None:
    """The gain and its paired bootstrap 95% interval"""
    evaluate = learner.import_module("evaluate")
    rng = random.Random(lab_seed)
    before = [int(rng.random() < 0.3) for _ in range(150)]
    after = [b if rng.random() < 0.7 else int(rng.random() < 0.8) for b in before]
    got = evaluate.gain_interval(before, after, n_resamples=4000, seed=lab_seed)
    gain = (sum(after) - sum(before)) / 150
    assert_same(got["gain"], gain, "gain (mean after - mean before)", abs_tol=1e-12)
    low, high = grader_bootstrap(before, after, lab_seed)
    # Two bootstraps with different random draws agree to about 0.01 at n=150; 0.025 is lenient.
    assert_same(got["low"], low, "the interval's low end", abs_tol=0.025)
    assert_same(got["high"], high, "the interval's high end", abs_tol=0.025)
    same = evaluate.gain_interval([0, 1, 1, 0] * 10, [1, 1, 1, 1] * 10, seed=1)
    assert_same(same["gain"], 0.5, "gain from 50% to 100%")
    assert same["low"] <= 0.5 <= same["high"], f"the interval {same} must contain the gain"


@lab_test(points=3, number="4.4")
def test_generate_replies(learner: Any, lab_seed: int) -> None:
    """Batched greedy replies equal one-at-a-time replies"""
    evaluate = learner.import_module("evaluate")
    tok = learner.new(make.smollm2_tokenizer())
    model = support.tiny_llama(learner, lab_seed)
    rows = support.training_rows(lab_seed + 2, 3)
    texts = [rows[0]["text"], rows[1]["text"][:60], rows[2]["text"]]  # different lengths
    batched = evaluate.generate_replies(model, tok, texts, max_new_tokens=6, batch_size=3)
    assert_same(len(batched), 3, "len(generate_replies(3 texts))")
    alone = [evaluate.generate_replies(model, tok, [t], max_new_tokens=6)[0] for t in texts]
    assert_same(batched, alone, "replies generated in one batch vs one at a time")
    assert all("<|im" not in r for r in batched), f"special tokens left in replies: {batched}"
    # A random model never says <|im_end|> by chance: 6 tokens decode to a non-empty reply.
    assert all(r for r in batched), f"empty replies: {batched}"
