"""labkit.grading.standins: the graders' model-free embedder."""

from __future__ import annotations

import numpy as np
import pytest

from labkit.grading.standins import BagOfWordsEmbedder


@pytest.mark.parametrize(("words", "dim"), [("hashed", 256), ("random", 64)])
def test_unit_rows_same_on_every_call_and_every_batch_recorded(words, dim) -> None:
    embedder = BagOfWordsEmbedder(words)
    first = embedder.embed(["Refunds take 5 days", "", "refunds TAKE 5 days!"])
    again = embedder(["Refunds take 5 days"])
    assert first.shape == (3, dim)
    assert first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first[[0, 2]], axis=1), 1.0, rtol=1e-6)
    assert not first[1].any(), "a text without words is the zero vector"
    assert np.array_equal(first[0], first[2]), "case and punctuation do not count"
    assert np.array_equal(again[0], first[0])
    assert embedder.calls == [
        ["Refunds take 5 days", "", "refunds TAKE 5 days!"],
        ["Refunds take 5 days"],
    ]
    assert embedder.seen == [*embedder.calls[0], *embedder.calls[1]]


def test_hashed_vectors_count_shared_words() -> None:
    a, b, c = BagOfWordsEmbedder().embed(["hotel cap", "hotel cap travel", "laptop stipend"])
    assert float(a @ b) == pytest.approx(2 / np.sqrt(2 * 3), rel=1e-6)
    assert float(a @ c) == 0.0
