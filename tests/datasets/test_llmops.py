"""datasets/llmops: rebuilt byte for byte by its build.py, and consistent with the fake fleet."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

from labkit.datasets.files import read_jsonl
from labkit.fakellm.fleet import difficulty, evaluate

FOLDER = Path(__file__).resolve().parents[2] / "datasets" / "llmops"


def test_build_reproduces_the_file() -> None:
    build = runpy.run_path(str(FOLDER / "build.py"))["build"]
    lines = [json.dumps(row, ensure_ascii=False) for row in build()]
    assert (FOLDER / "requests.jsonl").read_text(encoding="utf-8") == "\n".join(lines) + "\n"


def test_answers_and_difficulty_agree_with_the_fleet() -> None:
    rows = [row for _, row in read_jsonl(FOLDER / "requests.jsonl")]
    ids = {r["id"] for r in rows}
    assert len(ids) == len(rows) == 1200
    for row in rows:
        assert evaluate(row["question"]) == row["answer"], row
        assert difficulty(row["question"]) == row["difficulty"], row
        assert (row["variant"] == "original") == (row["variant_of"] is None), row
        assert row["variant_of"] is None or row["variant_of"] in ids
