"""eval-01 part 1: rule-based checks (checks.py), on hand-built cases and on the golden set."""

from __future__ import annotations

import random
import re
from typing import Any

from labkit.datasets import load_questions
from labkit.grading import assert_same, lab_test

GOLDEN = [q for q in load_questions(split="dev") if q.answerable]


@lab_test(points=2, number="1.1")
def test_is_valid_json(learner: Any) -> None:
    """JSON validity on hand-built replies"""
    checks = learner.import_module("checks")
    cases = [
        ('{"verdict": "pass"}', True),
        ("  [1, 2, 3]\n", True),
        ("42", True),
        ('{"verdict": "pass"', False),
        ("{'verdict': 'pass'}", False),
        ("Verdict: PASS", False),
        ('```json\n{"verdict": "pass"}\n```', False),
        ("", False),
    ]
    for text, want in cases:
        assert_same(checks.is_valid_json(text), want, f"is_valid_json({text!r})")


@lab_test(points=2, number="1.2")
def test_length_and_facts(learner: Any) -> None:
    """Length limits and required facts"""
    checks = learner.import_module("checks")
    assert_same(checks.within_length("one two  three\nfour", 4), True, "within_length(4 words, 4)")
    assert_same(
        checks.within_length("one two three four five", 4), False, "within_length(5 words, 4)"
    )
    assert_same(checks.within_length("", 0), True, "within_length('', 0)")
    answer = "Book flights at least 14 DAYS before departure; the cap is $300 [1]."
    assert_same(
        checks.missing_facts(answer, ["14 days", "$300"]), [], "missing_facts(both present)"
    )
    assert_same(
        checks.missing_facts(answer, ["21 days", "$300", "economy"]),
        ["21 days", "economy"],
        "missing_facts(['21 days', '$300', 'economy'])",
    )


@lab_test(points=2, number="1.3")
def test_invalid_citations(learner: Any) -> None:
    """Citations that point at no source"""
    checks = learner.import_module("checks")
    cases = [
        ("Yes [1][2].", 3, []),
        ("Yes [0] and [4], again [4].", 3, [0, 4]),
        ("Both [1, 7].", 3, [7]),
        ("No citation at all.", 3, []),
        ("Five [5].", 5, []),
    ]
    for text, n, want in cases:
        assert_same(checks.invalid_citations(text, n), want, f"invalid_citations({text!r}, {n})")


def _expected(answer: str, facts: list[str], n: int, max_words: int) -> dict[str, bool]:
    numbers = [
        int(x) for g in re.findall(r"\[(\d+(?:\s*,\s*\d+)*)\]", answer) for x in g.split(",")
    ]
    return {
        "within_length": len(answer.split()) <= max_words,
        "has_facts": all(f.lower() in answer.lower() for f in facts),
        "cites_a_source": any(1 <= x <= n for x in numbers),
        "citations_valid": all(1 <= x <= n for x in numbers),
    }


@lab_test(points=3, number="1.4")
def test_run_checks_on_the_golden_set(learner: Any, lab_seed: int) -> None:
    """All rule checks on golden answers, intact and broken"""
    checks = learner.import_module("checks")
    rng = random.Random(lab_seed)
    for q in rng.sample(GOLDEN, 6):
        variants = [
            f"{q.answer} [1]",
            f"{q.answer} [9]",
            q.answer.replace(q.facts[0], "something else"),
            " ".join([q.answer] * 8),
        ]
        for answer in variants:
            got = checks.run_checks(answer, list(q.facts), 5, max_words=60)
            want = _expected(answer, list(q.facts), 5, 60)
            assert_same(
                got, want, f"run_checks({answer[:60]!r}..., facts={list(q.facts)}, 5 sources)"
            )
