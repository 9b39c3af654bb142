"""labkit.notebook's helpers for the lab notebooks: wire conversations as lines, bar charts, and
the shipped vectors and reranker scores served without loading a model."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from labkit import notebook

matplotlib.use("Agg")


def test_openai_tool_round_reads_call_then_result_with_its_id() -> None:
    lines = notebook.message_lines(
        [
            {"role": "user", "content": "Who is C-1002?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "get_customer",
                            "arguments": '{"customer_id": "C-1002"}',
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"name": "Ivan"}'},
        ]
    )
    assert lines[0].split() == ["1", "user", "Who", "is", "C-1002?"]
    assert 'get_customer({"customer_id": "C-1002"}) [call_1]' in lines[1]
    assert lines[2].startswith(" 3 tool")
    assert '← [call_1] {"name": "Ivan"}' in lines[2]


def test_anthropic_blocks_one_line_each_and_errors_marked() -> None:
    lines = notebook.message_lines(
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Looking."},
                    {
                        "type": "tool_use",
                        "id": "tu_1",
                        "name": "get_product",
                        "input": {"sku": "X"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "tu_1",
                        "content": "nope",
                        "is_error": True,
                    }
                ],
            },
        ],
        width=40,
    )
    assert len(lines) == 3
    assert "→ get_product" in lines[1]
    assert "[tu_1]" in lines[1]
    assert "← [tu_1] ✗ nope" in lines[2]


def test_long_content_is_clipped_to_one_line() -> None:
    (line,) = notebook.message_lines([{"role": "system", "content": "word\n" * 100}], width=20)
    assert "\n" not in line
    assert line.endswith("…")
    assert len(line.split("system", 1)[1]) < 25


def test_bar_chart_flat_and_grouped() -> None:
    flat = notebook.bar_chart({"a": 1, "b": 2}, title="t", ylabel="y")
    assert [p.get_height() for p in flat.patches] == [1, 2]
    grouped = notebook.bar_chart(
        {"bm25": {"ndcg": 0.5, "mrr": 0.25}, "dense": {"ndcg": 0.75}}, title="t", ylabel="y"
    )
    assert sorted(p.get_height() for p in grouped.patches) == [0.0, 0.25, 0.5, 0.75]
    assert [t.get_text() for t in grouped.get_legend().get_texts()] == ["ndcg", "mrr"]


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_shipped_embedder_serves_the_file_and_counts_what_it_embeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "vectors.npz"
    keys = np.array([_key("shipped")], dtype="S64")
    np.savez_compressed(file, keys=keys, vectors=np.ones((1, 384), dtype=np.float16))

    class Fake:
        def embed(self, texts: Sequence[str]) -> np.ndarray:
            return np.zeros((len(texts), 384), dtype=np.float32)

    monkeypatch.setattr("labkit.models.embedder.get_embedder", lambda: Fake())
    embedder = notebook.ShippedEmbedder(file)
    assert embedder.embed(["shipped", "shipped"]).sum() == 2 * 384
    assert embedder.live == 0
    assert embedder.embed(["new", "shipped", "new"])[:, 0].tolist() == [0, 1, 0]
    assert embedder.live == 1
    assert embedder.embed([]).shape == (0, 384)
    assert embedder(["shipped"])[0, 0] == 1  # also a plain embed(texts) function


def test_shipped_embedder_warms_the_cache_without_replacing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labkit.models.embedder import MODEL_ID, EmbeddingCache

    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path / "cache"))
    file = tmp_path / "vectors.npz"
    keys = np.array([_key("a"), _key("b")], dtype="S64")
    np.savez_compressed(file, keys=keys, vectors=np.ones((2, 384), dtype=np.float16))
    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite3")
    cache.put_many(MODEL_ID, {_key("a"): np.full(384, 0.5, dtype=np.float32)})

    assert notebook.ShippedEmbedder(file).warm_cache() == 1
    found = cache.get_many(MODEL_ID, [_key("a"), _key("b")])
    assert found[_key("a")][0] == 0.5
    assert found[_key("b")][0] == 1.0


def test_shipped_scorer_asks_the_fallback_only_for_missing_pairs(tmp_path: Path) -> None:
    file = tmp_path / "scores.npz"
    keys = np.array([notebook.ShippedScorer.key("q", "known")], dtype="S64")
    np.savez_compressed(file, keys=keys, scores=np.array([3.0]))
    asked: list[list[str]] = []

    def fallback(query: str, passages: Sequence[str]) -> list[float]:
        asked.append(list(passages))
        return [-1.0] * len(passages)

    scorer = notebook.ShippedScorer(file, fallback)
    assert scorer("q", ["known", "other", "other"]) == [3.0, -1.0, -1.0]
    assert asked == [["other"]]
    assert scorer.live == 1
    assert notebook.ShippedScorer.key("q", "known") == _key("q\x00known")


def test_shipped_scorer_reads_a_relative_path_from_the_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # a notebook runs in its lab's folder, not the repository's root
    scorer = notebook.ShippedScorer("graders/rag-03/rerank_scores.npz", lambda q, ps: [])
    assert scorer.scores
