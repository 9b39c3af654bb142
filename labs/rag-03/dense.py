"""Dense search: documents cut into passages, passages embedded, a document scored by its best passage.

    index = DenseIndex(doc_ids, texts)                 # embeds every passage (cached on disk)
    index.search("how much for a hotel in London?", k=5)
    index.best_passages("how much for a hotel in London?", ["policy-travel-2024"])

This module stands alone (it imports nothing from the lab folder): ``labkit eval-retrieval``
loads it from your folder by path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# GIVEN. A document is cut into passages the way the course's reranker was trained to read them:
# blank-line blocks, short ones merged forward, the "# Title" line repeated on every passage.
# Read it in src/labkit/lexical.py.
from labkit.lexical import split_passages

Embed = Callable[[Sequence[str]], np.ndarray]
"""texts -> (n, d) array of L2-normalised vectors (the course's MiniLM by default)."""


def default_embed(texts: Sequence[str]) -> np.ndarray:
    """GIVEN. The course's MiniLM embedder (vectors cached on disk, so re-indexing is quick)."""
    from labkit.models.embedder import get_embedder

    return get_embedder().embed(list(texts))


class DenseIndex:
    """Cosine search over passage embeddings, returning documents.

    Args:
        doc_ids: one id per document.
        texts: the documents' texts, in the same order.
        embed: turns texts into L2-normalised vectors (default: the course's MiniLM).
    """

    def __init__(
        self, doc_ids: Sequence[str], texts: Sequence[str], *, embed: Embed | None = None
    ) -> None:
        if len(doc_ids) != len(texts):
            raise ValueError(f"{len(doc_ids)} ids for {len(texts)} texts")
        self.doc_ids = list(doc_ids)
        self._embed = embed or default_embed
        self.passages: list[str] = []
        owners: list[int] = []
        for number, text in enumerate(texts):
            for passage in split_passages(text) or [text]:
                self.passages.append(passage)
                owners.append(number)
        self.owners = np.asarray(owners, dtype=np.int64)
        self.vectors = np.asarray(self._embed(self.passages), dtype=np.float32)
        self._query_vectors: dict[str, np.ndarray] = {}

    def _query_vector(self, query: str) -> np.ndarray:
        if query not in self._query_vectors:
            self._query_vectors[query] = np.asarray(self._embed([query]), dtype=np.float32)[0]
        return self._query_vectors[query]

    def passage_scores(self, query: str) -> np.ndarray:
        """Cosine similarity of ``query`` with every passage (one float per passage).

        Args:
            query: the query text.

        Returns:
            A 1-D array aligned with ``self.passages`` (the vectors are normalised, so a dot
            product is the cosine).
        """
        return self.vectors @ self._query_vector(query)

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` best documents for ``query``; a document scores as its best passage.

        Args:
            query: the query text.
            k: how many results at most.

        Returns:
            ``(doc_id, score)`` pairs, best first, equal scores in doc-id order; ``score`` is the
            highest cosine among the document's passages, as a plain float.
        """
        raise NotImplementedError("not implemented yet — see task 2")

    def best_passages(self, query: str, doc_ids: Sequence[str]) -> dict[str, str]:
        """For each document, its passage most similar to ``query`` (what a reranker should read).

        Args:
            query: the query text.
            doc_ids: documents of this index.

        Returns:
            ``{doc_id: passage text}`` for every id in ``doc_ids``.
        """
        raise NotImplementedError("not implemented yet — see task 2")
