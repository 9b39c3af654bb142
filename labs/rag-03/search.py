"""The whole retrieval pipeline, stage by stage: BM25, dense, hybrid (RRF or weighted), reranked.

    searcher = HybridSearcher(doc_ids, texts)
    searcher.search("what does ERR-4130 mean?", stage="rerank", k=10)   # ["api-error-codes", ...]

Every stage returns a *ranking*: doc ids, best first. ``labkit eval-retrieval`` builds this class
from your folder and runs it on any BEIR data set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dense import DenseIndex, Embed
from fusion import RRF_K, min_max_normalise, reciprocal_rank_fusion, weighted_fusion
from lexical import BM25Index
from rerank import RERANK_DEPTH, Scorer, rerank

STAGES: tuple[str, ...] = ("bm25", "dense", "hybrid", "weighted", "rerank")
"""GIVEN. The stage names, in pipeline order (``hybrid`` is RRF, ``weighted`` the score fusion)."""


@dataclass(frozen=True)
class SearchConfig:
    """GIVEN. The pipeline's knobs.

    Attributes:
        candidates: how many results each retriever hands to fusion.
        rrf_k: the RRF constant.
        alpha: the dense weight of weighted fusion.
        rerank_depth: how many fused candidates the cross-encoder reorders (10: the best of
            10 / 20 / 30 on the dev split).
        rerank_weight: the cross-encoder's share of the reranked score, the fused (RRF) score
            having the rest. 1.0 trusts the cross-encoder alone; 0.3 is what the dev split
            chose for the course's small, self-trained one (see the README's measurements).
        stem: whether BM25 stems words.
    """

    candidates: int = 100
    rrf_k: int = RRF_K
    alpha: float = 0.5
    rerank_depth: int = RERANK_DEPTH
    rerank_weight: float = 0.3
    stem: bool = True


class HybridSearcher:
    """GIVEN (constructor, ``bm25``, ``dense``, ``search``). Both indexes over one corpus.

    Args:
        doc_ids: one id per document.
        texts: the documents' texts.
        config: the knobs (defaults: :class:`SearchConfig`).
        embed: passed to :class:`DenseIndex` (default: the course's MiniLM).
        scorer: passed to :func:`rerank` (default: the course's cross-encoder).
    """

    def __init__(
        self,
        doc_ids: Sequence[str],
        texts: Sequence[str],
        *,
        config: SearchConfig | None = None,
        embed: Embed | None = None,
        scorer: Scorer | None = None,
    ) -> None:
        self.config = config or SearchConfig()
        self.lexical = BM25Index(doc_ids, texts, stem=self.config.stem)
        self.vectors = DenseIndex(doc_ids, texts, embed=embed)
        self.scorer = scorer

    def bm25(self, query: str, k: int = 10) -> list[str]:
        """The BM25 ranking."""
        return [doc_id for doc_id, _ in self.lexical.search(query, k)]

    def dense(self, query: str, k: int = 10) -> list[str]:
        """The dense ranking."""
        return [doc_id for doc_id, _ in self.vectors.search(query, k)]

    def hybrid_scored(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """Reciprocal rank fusion of the BM25 and dense rankings, with the fused scores.

        Args:
            query: the query text.
            k: how many results at most.

        Returns:
            The first ``k`` ``(doc_id, fused score)`` pairs of the RRF (constant ``config.rrf_k``)
            of BM25's and dense search's top ``config.candidates`` each (BM25's list first).
        """
        raise NotImplementedError("not implemented yet — see task 5")

    def hybrid(self, query: str, k: int = 10) -> list[str]:
        """GIVEN. The hybrid (RRF) ranking: the ids of :meth:`hybrid_scored`."""
        return [doc_id for doc_id, _ in self.hybrid_scored(query, k)]

    def weighted(self, query: str, k: int = 10) -> list[str]:
        """Weighted fusion of BM25's and dense search's min-max normalised scores.

        Args:
            query: the query text.
            k: how many results at most.

        Returns:
            The first ``k`` doc ids of :func:`weighted_fusion` (weight ``config.alpha``) of the
            top ``config.candidates`` of each retriever with their scores.
        """
        raise NotImplementedError("not implemented yet — see task 5")

    def reranked(self, query: str, k: int = 10, depth: int | None = None) -> list[str]:
        """The hybrid ranking with its top ``depth`` reordered by cross-encoder and fused scores.

        Args:
            query: the query text.
            k: how many results at most.
            depth: how many fused candidates to rerank (default ``config.rerank_depth``).

        Returns:
            The top ``depth`` of :meth:`hybrid_scored` sorted by the blended score
            ``w * model + (1 - w) * fused`` (``w = config.rerank_weight``; ``model`` and
            ``fused`` each min-max normalised over those ``depth`` candidates; ties keep the fused
            order), followed by the rest of the hybrid ranking in its own order, cut to ``k``.
            Each candidate is scored on its passage most similar to the query
            (:meth:`DenseIndex.best_passages`) by :func:`rerank` with ``self.scorer``.
        """
        raise NotImplementedError("not implemented yet — see task 5")

    def search(self, query: str, stage: str = "rerank", k: int = 10) -> list[str]:
        """GIVEN. Run one stage by name (one of :data:`STAGES`)."""
        stages: dict[str, Callable[[str, int], list[str]]] = {
            "bm25": self.bm25,
            "dense": self.dense,
            "hybrid": self.hybrid,
            "weighted": self.weighted,
            "rerank": self.reranked,
        }
        if stage not in stages:
            raise ValueError(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}")
        return stages[stage](query, k)
