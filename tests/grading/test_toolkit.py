"""labkit.grading.toolkit: the wire reader for raw content and the dataset copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labkit.grading.toolkit import content_text, dataset_copy, dataset_path


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
