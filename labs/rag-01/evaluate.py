"""Recall@k of each chunker on the knowledge base's dev questions.

    python -m evaluate                       # the table: chunker x k in {1, 3, 5, 10}
    python -m evaluate --split test          # the same on the held-out questions
    python -m evaluate --max-tokens 256      # another chunk budget
    python -m evaluate --embedder provider   # embeddings from LABKIT_PROVIDER's /v1/embeddings

Embeds every chunk of the corpus (by default with the course's MiniLM, in-process and cached on
disk: the first run takes a minute or two, later runs a few seconds), retrieves the top-k chunks for
each question and counts the gold passages those chunks overlap.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Protocol

import numpy as np
from chunkers import CHUNKERS, MAX_TOKENS, OVERLAP_TOKENS, Chunk, Chunker
from vectors import top_k

from labkit.datasets import Document, Question, load_documents, load_questions

KS: tuple[int, ...] = (1, 3, 5, 10)


class Embedder(Protocol):
    """Anything with ``embed(texts) -> (n, d) array``: the course's MiniLM, or a test double. GIVEN."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def passage_span(doc_text: str, passage_text: str) -> tuple[int, int]:
    """Where a gold passage sits in its document.

    Args:
        doc_text: the document's whole text.
        passage_text: a passage quoted character for character from it.

    Returns:
        ``(start, end)`` of its first occurrence: ``doc_text[start:end] == passage_text``.

    Raises:
        ValueError: if the passage does not occur in the document (the golden set is broken).
    """
    raise NotImplementedError("not implemented yet — see task 3")


def chunk_corpus(documents: Sequence[Document], chunker: Chunker) -> list[Chunk]:
    """All chunks of all documents, document by document, in order.

    Args:
        documents: the corpus.
        chunker: called as ``chunker(doc.id, doc.text)``.

    Returns:
        One flat list of chunks.
    """
    raise NotImplementedError("not implemented yet — see task 3")


def found_passages(
    question: Question, retrieved: Sequence[Chunk], doc_texts: Mapping[str, str]
) -> int:
    """How many of ``question``'s gold passages the retrieved chunks found.

    Args:
        question: a golden question with its passages.
        retrieved: the chunks retrieved for it.
        doc_texts: document id -> text (to locate each passage).

    Returns:
        The number of passages that some retrieved chunk of the passage's document overlaps
        (shares at least one character with: ``chunk.start < end and start < chunk.end``).
    """
    raise NotImplementedError("not implemented yet — see task 3")


def recall_at_k(
    questions: Sequence[Question],
    question_vectors: np.ndarray,
    chunks: Sequence[Chunk],
    chunk_vectors: np.ndarray,
    doc_texts: Mapping[str, str],
    ks: Sequence[int] = KS,
) -> dict[int, float]:
    """Mean recall@k over the questions that have gold passages.

    Args:
        questions: golden questions; those without passages (unanswerable) are skipped.
        question_vectors: row ``i`` embeds ``questions[i].question``.
        chunks: every chunk of the corpus.
        chunk_vectors: row ``j`` embeds ``chunks[j].text``.
        doc_texts: document id -> text.
        ks: the cut-offs.

    Returns:
        ``{k: mean over questions of found passages / gold passages}`` for each k, where the
        retrieved chunks are the ``top_k(question_vector, chunk_vectors, k)``.

    Raises:
        ValueError: if no question has a gold passage.
    """
    raise NotImplementedError("not implemented yet — see task 3")


def evaluate_chunker(
    chunker: Chunker,
    documents: Sequence[Document],
    questions: Sequence[Question],
    embedder: Embedder,
    ks: Sequence[int] = KS,
) -> dict[int, float]:
    """Chunk the corpus, embed chunks and questions, and measure recall@k.

    Args:
        chunker: the chunker to evaluate.
        documents: the corpus.
        questions: golden questions (unanswerable ones are skipped).
        embedder: embeds texts (``chunk.text`` and ``question.question``, nothing else).
        ks: the cut-offs.

    Returns:
        ``{k: recall@k}`` as defined by :func:`recall_at_k`.
    """
    raise NotImplementedError("not implemented yet — see task 3")


# --- the command line (GIVEN) ----------------------------------------------------------------


def format_table(
    results: Mapping[str, Mapping[int, float]], chunk_counts: Mapping[str, int]
) -> str:
    """A plain-text table: one row per chunker, one column per k. GIVEN."""
    ks = sorted({k for row in results.values() for k in row})
    header = f"{'chunker':<10} {'chunks':>6}  " + "  ".join(f"{'R@' + str(k):>6}" for k in ks)
    lines = [header, "-" * len(header)]
    for name, row in results.items():
        cells = "  ".join(f"{row[k]:>6.3f}" for k in ks)
        lines.append(f"{name:<10} {chunk_counts[name]:>6}  {cells}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print recall@k for each chunker on the dev questions. GIVEN."""
    parser = argparse.ArgumentParser(description="Recall@k of each chunker on the dev questions.")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--overlap-tokens", type=int, default=OVERLAP_TOKENS)
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument(
        "--embedder",
        default="local",
        choices=["local", "provider"],
        help="local: MiniLM in this process; provider: the configured provider's /v1/embeddings",
    )
    args = parser.parse_args(argv)

    from labkit.models.embedder import ProviderEmbedder, get_embedder

    documents = load_documents()
    questions = [q for q in load_questions(split=args.split) if q.answerable]
    chunkers: dict[str, Chunker] = {
        "fixed": partial(
            CHUNKERS["fixed"], max_tokens=args.max_tokens, overlap_tokens=args.overlap_tokens
        ),
        "sentence": partial(CHUNKERS["sentence"], max_tokens=args.max_tokens),
        "markdown": partial(CHUNKERS["markdown"], max_tokens=args.max_tokens),
    }
    embedder: Embedder = get_embedder() if args.embedder == "local" else ProviderEmbedder()
    results: dict[str, dict[int, float]] = {}
    counts: dict[str, int] = {}
    for name, chunker in chunkers.items():
        print(f"embedding the {name} chunks...", file=sys.stderr, flush=True)
        counts[name] = len(chunk_corpus(documents, chunker))
        results[name] = evaluate_chunker(chunker, documents, questions, embedder, KS)
    print(
        f"recall@k on {len(questions)} {args.split} questions, max_tokens={args.max_tokens}, "
        f"embedder {getattr(embedder, 'model_id', '?')}"
    )
    print(format_table(results, counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
