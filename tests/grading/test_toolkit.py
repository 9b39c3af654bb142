"""labkit.grading.toolkit: the requests of one SDK, the wire reader for raw content, the dataset
rows and copy."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from labkit import config
from labkit.errors import LabkitError
from labkit.fakellm import FakeLLM
from labkit.grading import toolkit
from labkit.grading.toolkit import (
    content_text,
    dataset_copy,
    dataset_path,
    dataset_rows,
    sdk_bodies,
    sdk_requests,
    turns,
)


def test_sdk_requests_and_bodies_keep_each_sdk_apart(fake_llm: FakeLLM) -> None:
    model = config.chat_model()
    openai = config.openai_client(max_retries=0)
    anthropic = config.anthropic_client(max_retries=0)
    openai.chat.completions.create(model=model, messages=[{"role": "user", "content": "one"}])
    anthropic.messages.create(
        model=model, max_tokens=8, messages=[{"role": "user", "content": "two"}]
    )
    openai.chat.completions.create(model=model, messages=[{"role": "user", "content": "three"}])
    assert [turns(e) for e in sdk_requests(fake_llm)] == [[("user", "one")], [("user", "three")]]
    assert [turns(e) for e in sdk_requests(fake_llm, "anthropic")] == [[("user", "two")]]
    assert [b["messages"] for b in sdk_bodies(fake_llm, "anthropic")] == [
        [{"role": "user", "content": "two"}]
    ]
    assert [b["max_tokens"] for b in sdk_bodies(fake_llm, "anthropic")] == [8]
    assert len(sdk_bodies(fake_llm, "openai")) == 2


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("plain text", "plain text"),
        ([], ""),
        ([{"type": "text", "text": "two "}, {"type": "text", "text": "blocks"}], "two blocks"),
        (None, "null"),
        ({"text": "a dict"}, '{"text": "a dict"}'),
        (
            [{"type": "text", "text": "a"}, {"type": "image", "source": {}}],
            '[{"type": "text", "text": "a"}, {"type": "image", "source": {}}]',
        ),
    ],
)
def test_content_text_is_exact(content: Any, text: str) -> None:
    assert content_text(content) == text


def test_content_text_of_what_json_cannot_hold() -> None:
    assert content_text({1, 2}) == '"{1, 2}"'


def test_dataset_copy_is_a_fresh_copy_in_the_folder(tmp_path: Path) -> None:
    copy = dataset_copy(tmp_path, "shop", "shop.sqlite")
    assert copy == tmp_path / "shop.sqlite"
    assert copy.read_bytes() == dataset_path("shop", "shop.sqlite").read_bytes()


def test_dataset_rows_are_the_file_s_json_lines_in_order() -> None:
    lines = dataset_path("llmops", "requests.jsonl").read_text(encoding="utf-8").splitlines()
    assert dataset_rows("llmops", "requests.jsonl") == [json.loads(line) for line in lines]


def test_dataset_rows_name_a_broken_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rows.jsonl").write_text('{"a": 1}\n\n[2]\n{"a":\n', encoding="utf-8")
    monkeypatch.setattr(toolkit, "datasets_dir", lambda: tmp_path)
    with pytest.raises(LabkitError, match=r"rows\.jsonl line 4 is not valid JSON"):
        dataset_rows("rows.jsonl")
    (tmp_path / "rows.jsonl").write_text('{"a": 1}\n\n[2]\n', encoding="utf-8")
    assert dataset_rows("rows.jsonl") == [{"a": 1}, [2]]


@pytest.fixture
def private_dir(tmp_path: Path) -> Path:
    """Stands in for the grading plugin's ``private_dir``, which these tests do not load."""
    return tmp_path


shop_copy = toolkit.shop_copy  # taken into a test file as a grader does


def test_shop_copy_is_a_writable_copy_in_private_dir(shop_copy: Path, private_dir: Path) -> None:
    assert shop_copy == private_dir / "shop.sqlite"
    conn = sqlite3.connect(shop_copy)
    try:
        conn.execute("DELETE FROM orders")
        conn.commit()
    finally:
        conn.close()
    committed = sqlite3.connect(f"{dataset_path('shop', 'shop.sqlite').as_uri()}?mode=ro", uri=True)
    try:
        assert committed.execute("SELECT COUNT(*) FROM orders").fetchone()[0] > 0
    finally:
        committed.close()
