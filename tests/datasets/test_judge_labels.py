"""The labelled judge items: enough of them, every kind in both splits, labels that follow the
kinds, splits that follow the golden questions, and a generator that reproduces the file."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from labkit.datasets import load_judge_items, load_questions, repo_root
from labkit.datasets.judge_labels import ANSWER_KINDS
from labkit.errors import LabkitError

ITEMS = load_judge_items()
QUESTIONS = {q.id: q for q in load_questions()}


def test_size_kinds_and_labels() -> None:
    assert len(ITEMS) >= 200
    kinds = Counter((i.kind, i.split) for i in ITEMS)
    for kind in ANSWER_KINDS:
        assert kinds[(kind, "dev")], kind
        assert kinds[(kind, "test")], kind
    for item in ITEMS:
        assert item.label == ("pass" if item.kind in ("correct", "correct_refusal") else "fail")
        assert item.why
        assert item.contexts
        assert item.answer


def test_items_follow_their_golden_question() -> None:
    for item in ITEMS:
        q = QUESTIONS[item.question_id]
        assert (item.question, item.split) == (q.question, q.split)
        if q.answerable and item.kind != "partially_correct":
            assert all(p.text in item.contexts for p in q.passages), item.id
        if item.kind == "correct":
            assert item.answer == q.answer


def test_the_generator_reproduces_the_file(tmp_path: object) -> None:
    path = repo_root() / "datasets" / "judge-labels" / "items.jsonl"
    before = path.read_bytes()
    subprocess.run(
        [sys.executable, str(path.parent / "make_labels.py")], check=True, capture_output=True
    )
    assert path.read_bytes() == before


def test_bad_arguments_say_what_to_do() -> None:
    with pytest.raises(LabkitError, match="split"):
        load_judge_items(split="train")
    with pytest.raises(LabkitError, match="kind"):
        load_judge_items(kinds=["great"])
