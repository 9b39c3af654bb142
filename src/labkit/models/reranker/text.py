"""Text helpers of the training data: the stop words and stemmed tokens BM25 indexes. The
Markdown passage cut of the knowledge base is :func:`labkit.lexical.split_passages`, the one
rag-03's dense index uses too."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labkit import lexical

# The BM25 stop words the reranker was trained with (not the fake provider's lexical.STOP_WORDS).
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves""".split()
)


def bm25_tokens(text: str) -> list[str]:
    """Lower-cased, stop-word-free, Snowball-stemmed word tokens (what BM25 indexes)."""
    words = [w for w in lexical.WORD_RE.findall(text.lower()) if w not in STOPWORDS]
    return lexical.snowball_stems(words)


class BM25:
    """A thin rank-bm25 wrapper returning top-n document indices with a deterministic tie order."""

    def __init__(self, texts: Sequence[str]) -> None:
        from rank_bm25 import BM25Okapi

        self._index = BM25Okapi([bm25_tokens(t) or ["_"] for t in texts])
        self.size = len(texts)

    def top(self, query: str, n: int) -> list[int]:
        """Indices of the ``n`` best documents, best first (ties: lower index first)."""
        tokens = bm25_tokens(query)
        if not tokens:
            return []
        scores = np.asarray(self._index.get_scores(tokens), dtype=np.float64)
        order = np.lexsort((np.arange(self.size), -scores))
        return [int(i) for i in order[:n]]
