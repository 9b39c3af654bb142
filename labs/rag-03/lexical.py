"""Keyword search: a tokenizer that respects identifiers, and BM25 over its tokens.

    index = BM25Index(["a", "b"], ["ERR-4130 means the batch is too large", "Book flights early"])
    index.search("what is ERR-4130?", k=5)        # [("a", 1.23...)]

This module stands alone (it imports nothing from the lab folder): ``labkit eval-retrieval``
loads it from your folder by path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from rank_bm25 import BM25Okapi

# GIVEN. English function words that carry no meaning for search, plus the fragments an apostrophe
# leaves behind ("don't" -> "don", "t").
STOPWORDS: frozenset[str] = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves s t d ll m re ve""".split()
)

# GIVEN. The characters that join the parts of an identifier: ERR-4130, ingest.batch_max_bytes,
# TS-PRO-250, /v2/events.
JOINERS = "-_./"


@lru_cache(maxsize=1)
def stemmer() -> Any:
    """GIVEN. PyStemmer's English Snowball stemmer: ``stemmer().stemWord("policies") == "polici"``."""
    import Stemmer  # PyStemmer: the Snowball stemmers, in C

    return Stemmer.Stemmer("english")


def tokenize(text: str, *, stem: bool = True) -> list[str]:
    """Turn text into BM25 tokens.

    Args:
        text: any text (a document or a query).
        stem: reduce words to their Snowball stem ("policies" -> "polici").

    Returns:
        Lower-cased tokens in text order. A word is a run of letters/digits; runs joined by one
        of :data:`JOINERS` (a joiner *between* two letters/digits) form one identifier
        ("ERR-4130", "ingest.batch_max_bytes"), which is kept whole and never stemmed, and is
        followed by its parts ("err-4130", "err", "4130"). Every other character separates
        tokens. Words and parts that are :data:`STOPWORDS` are left out (identifiers never
        are); with ``stem`` they are stemmed with :func:`stemmer`.
    """
    raise NotImplementedError("not implemented yet — see task 1")


class BM25Index:
    """BM25 (Okapi, rank-bm25's parameters) over a fixed list of documents.

    Args:
        doc_ids: one id per document.
        texts: the documents' texts, in the same order.
        stem: passed on to :func:`tokenize`, for documents and queries alike.
        k1, b, epsilon: BM25Okapi's parameters (rank-bm25's defaults).
    """

    def __init__(
        self,
        doc_ids: Sequence[str],
        texts: Sequence[str],
        *,
        stem: bool = True,
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
    ) -> None:
        """Tokenize every document and build the index (rank-bm25's ``BM25Okapi`` does the maths)."""
        raise NotImplementedError("not implemented yet — see task 1")

    def scores(self, query: str) -> dict[str, float]:
        """The BM25 score of every document for ``query``.

        Args:
            query: the query text (tokenized like the documents).

        Returns:
            ``{doc_id: score}`` for every document, as plain floats.
        """
        raise NotImplementedError("not implemented yet — see task 1")

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` best documents for ``query``.

        Args:
            query: the query text.
            k: how many results at most.

        Returns:
            ``(doc_id, score)`` pairs, best first; equal scores in doc-id order; documents with
            no query token at all are left out (their score says nothing).
        """
        raise NotImplementedError("not implemented yet — see task 1")
