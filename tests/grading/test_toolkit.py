"""labkit.grading.toolkit's wire readers."""

from __future__ import annotations

from typing import Any

import pytest

from labkit.grading.toolkit import content_text


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
