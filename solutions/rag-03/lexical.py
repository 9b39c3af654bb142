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

# A token: letters/digits (any script), possibly joined into one identifier by JOINERS. A joiner
# only counts between two letters/digits, so "--grace-period" gives "grace-period" and a full stop
# at the end of a sentence is dropped.
_TOKEN = re.compile(r"[^\W_]+(?:[-_./][^\W_]+)*")
_JOIN = re.compile(r"[-_./]")


@lru_cache(maxsize=1)
def stemmer() -> Any:
    """GIVEN. PyStemmer's English Snowball stemmer: ``stemmer().stemWord("policies") == "polici"``."""
    import Stemmer  # PyStemmer: the Snowball stemmers, in C

    return Stemmer.Stemmer("english")


def _word(word: str, stem: bool) -> str:
    return str(stemmer().stemWord(word)) if stem else word


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
    tokens: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        token = match.group()
        if not _JOIN.search(token):
            if token not in STOPWORDS:
                tokens.append(_word(token, stem))
            continue
        tokens.append(token)
        tokens.extend(_word(part, stem) for part in _JOIN.split(token) if part not in STOPWORDS)
    return tokens


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
        if len(doc_ids) != len(texts):
            raise ValueError(f"{len(doc_ids)} ids for {len(texts)} texts")
        if not doc_ids:
            raise ValueError("BM25Index needs at least one document")
        self.doc_ids = list(doc_ids)
        self.stem = stem
        self.tokenized = [tokenize(text, stem=stem) for text in texts]
        self._token_sets = [set(tokens) for tokens in self.tokenized]
        self._bm25 = BM25Okapi(self.tokenized, k1=k1, b=b, epsilon=epsilon)

    def scores(self, query: str) -> dict[str, float]:
        """The BM25 score of every document for ``query``.

        Args:
            query: the query text (tokenized like the documents).

        Returns:
            ``{doc_id: score}`` for every document, as plain floats.
        """
        values = self._bm25.get_scores(tokenize(query, stem=self.stem))
        return {doc_id: float(v) for doc_id, v in zip(self.doc_ids, values, strict=True)}

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` best documents for ``query``.

        Args:
            query: the query text.
            k: how many results at most.

        Returns:
            ``(doc_id, score)`` pairs, best first; equal scores in doc-id order; documents with
            no query token at all are left out (their score says nothing).
        """
        wanted = set(tokenize(query, stem=self.stem))
        scores = self.scores(query)
        ranked = sorted(
            (
                (doc_id, scores[doc_id])
                for doc_id, tokens in zip(self.doc_ids, self._token_sets, strict=True)
                if wanted & tokens
            ),
            key=lambda pair: (-pair[1], pair[0]),
        )
        return ranked[:k]
