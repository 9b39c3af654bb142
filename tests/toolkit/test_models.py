"""Local models: the packaged MiniLM embedder (cached) and the packaged SmolLM2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labkit.models import embedder as emb


@pytest.fixture(scope="module")
def model() -> emb.Embedder:
    return emb.get_embedder()


def test_embeddings_are_normalised_and_meaningful(model: emb.Embedder) -> None:
    vectors = model.embed(
        [
            "How do I reset my password?",
            "What are the steps to recover my account credentials?",
            "Giraffes are the tallest living land animals.",
        ]
    )
    assert vectors.shape == (3, emb.DIMENSION)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    paraphrase, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert paraphrase > unrelated + 0.3


def test_disk_cache_returns_identical_vectors(tmp_path: Path, model: emb.Embedder) -> None:
    cache = emb.EmbeddingCache(tmp_path / "cache.sqlite3")
    fresh = model._encode(["cache me"], show_progress=False)[0]
    cache.put_many(emb.MODEL_ID, {emb.EmbeddingCache.key("cache me"): fresh})
    again = emb.EmbeddingCache(tmp_path / "cache.sqlite3").get_many(
        emb.MODEL_ID, [emb.EmbeddingCache.key("cache me"), emb.EmbeddingCache.key("absent")]
    )
    assert list(again) == [emb.EmbeddingCache.key("cache me")]
    assert np.array_equal(again[emb.EmbeddingCache.key("cache me")], fresh)


def test_cached_and_uncached_agree(model: emb.Embedder) -> None:
    texts = ["alpha beta", "gamma delta", "alpha beta"]
    first = model.embed(texts)
    second = model.embed(texts)
    assert np.array_equal(first, second)
    assert np.array_equal(first[0], first[2])
    assert model.embed([]).shape == (0, emb.DIMENSION)


def test_chroma_embedding_function_persists(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    client = chromadb.PersistentClient(path=str(tmp_path), settings=settings)
    col = client.get_or_create_collection(
        "kb-test",
        embedding_function=emb.chroma_embedding_function(),
        configuration={"hnsw": {"space": "cosine"}},
    )
    col.upsert(ids=["pw", "zoo"], documents=["Password reset steps", "Giraffes are tall animals"])
    # A second client (as a new process would) reopens it without being handed the function.
    reopened = chromadb.PersistentClient(path=str(tmp_path), settings=settings).get_collection(
        "kb-test"
    )
    assert reopened.query(query_texts=["recover my login credentials"], n_results=1)["ids"] == [
        ["pw"]
    ]


def test_local_llm_generates_text() -> None:
    from labkit.models.local_llm import get_local_llm, gguf_path

    assert gguf_path().stat().st_size > 50_000_000
    llm = get_local_llm()
    done = llm.complete([{"role": "user", "content": "Say hello."}], max_tokens=12)
    assert done.text.strip()
    assert done.finish_reason in ("stop", "length")
    info: dict[str, object] = {}
    pieces = list(
        llm.stream([{"role": "user", "content": "Name a colour."}], max_tokens=8, finish=info)
    )
    assert len(pieces) >= 2
    assert info.get("finish_reason") in ("stop", "length")


def test_local_provider_streams_a_real_reply_through_both_sdks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LABKIT_PROVIDER=local: the real SmolLM2 behind the fake provider's app, no key, no server to start."""
    from labkit import config

    monkeypatch.setenv("LABKIT_PROVIDER", "local")
    client = config.openai_client()
    pieces: list[str] = []
    with client.chat.completions.stream(
        model=config.chat_model(),
        messages=[{"role": "user", "content": "Name three colours."}],
        max_tokens=16,
    ) as stream:
        for event in stream:
            if event.type == "content.delta":
                pieces.append(event.delta)
    assert len(pieces) >= 3
    assert "".join(pieces).strip()
    message = config.anthropic_client().messages.create(
        model=config.chat_model(), max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text.strip()
    assert message.stop_reason in ("end_turn", "max_tokens")
    with config.anthropic_client().messages.stream(
        model=config.chat_model(),
        max_tokens=4,
        messages=[{"role": "user", "content": "Tell me a long story about a dragon."}],
    ) as stream:
        assert stream.get_final_message().stop_reason == "max_tokens"  # the limit reaches the wire
