"""Three ways to cut a document into chunks, all keeping exact character offsets.

Every chunk satisfies ``text[chunk.start:chunk.end] == chunk.text``: that is what lets a RAG system
cite, highlight and evaluate precisely what it retrieved. Token limits are checked with the real
tokenizer (``labkit.tokens``), because that is what the embedding model and the LLM will see.

Write any helpers you like (private ones start with ``_``). Useful ones: a function that turns a
list of ``(start, end)`` spans into ``Chunk`` objects (dropping whitespace-only spans and numbering
the rest), a greedy "pack these spans while the joined text fits" function, and a "cut this span
into token windows" function — all three chunkers need them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from labkit.tokens import count_tokens, encode, encoding  # noqa: F401  (you will need them)

# The documented defaults (README, task 3): the same budget for every chunker, so the comparison
# is about WHERE the cuts are, not how big the chunks are. GIVEN.
MAX_TOKENS = 128
OVERLAP_TOKENS = 32


@dataclass(frozen=True)
class Chunk:
    """One piece of a document. GIVEN.

    Attributes:
        doc_id: the document this chunk comes from.
        index: position of the chunk in its document (0, 1, 2, ...).
        start: character offset of the first character, in the document's text.
        end: character offset just after the last character (``text[start:end] == chunk.text``).
        text: the chunk's text, exactly as it appears in the document.
        headings: the markdown heading path above the chunk, outermost first (structure-aware
            chunker only; optional), e.g. ``("# API v2: Authentication", "## Errors")``.
    """

    doc_id: str
    index: int
    start: int
    end: int
    text: str
    headings: tuple[str, ...] = ()


Chunker = Callable[[str, str], list[Chunk]]
"""A chunker takes ``(doc_id, text)`` and returns the document's chunks in order. GIVEN."""

Span = tuple[int, int]


# --- tokens → characters ---------------------------------------------------------------------


def token_offsets(text: str) -> list[int]:
    """Character offset at which each token of ``text`` starts, plus ``len(text)`` at the end.

    Args:
        text: any string (may contain multi-byte characters such as "é" or "😀").

    Returns:
        A list of ``len(encode(text)) + 1`` non-decreasing offsets: entry ``i`` is where token
        ``i`` starts (a token that begins in the middle of a multi-byte character gets the offset
        of that character), and the last entry is ``len(text)``. ``""`` gives ``[0]``.
    """
    raise NotImplementedError("not implemented yet — see task 2")


# --- (a) fixed size by tokens ----------------------------------------------------------------


def fixed_size_chunks(
    doc_id: str,
    text: str,
    max_tokens: int = MAX_TOKENS,
    overlap_tokens: int = OVERLAP_TOKENS,
) -> list[Chunk]:
    """Cut ``text`` into windows of ``max_tokens`` tokens; neighbours share ``overlap_tokens``.

    Args:
        doc_id: copied into every chunk.
        text: the whole document.
        max_tokens: the most tokens a chunk may have (``count_tokens(chunk.text) <= max_tokens``).
        overlap_tokens: how many tokens consecutive chunks share (``0 <= overlap < max_tokens``).

    Returns:
        The chunks in document order. Window ``j`` covers tokens ``[a_j, b_j)`` of the document,
        with ``b_j = min(a_j + max_tokens, n)`` (shortened only if its text re-tokenises to more
        than ``max_tokens``) and ``a_{j+1} = b_j - overlap_tokens``; whitespace-only windows are
        dropped.

    Raises:
        ValueError: if ``max_tokens < 1`` or ``overlap_tokens`` is not in ``[0, max_tokens)``.
    """
    raise NotImplementedError("not implemented yet — see task 2")


# --- (b) sentence-aware ----------------------------------------------------------------------


def sentence_spans(text: str) -> list[Span]:
    """The sentences of ``text`` as ``(start, end)`` character spans.

    Args:
        text: any string.

    Returns:
        Spans in order, without leading or trailing whitespace, never empty, that together cover
        every non-whitespace character of ``text``. Every line break ends a sentence (so headings,
        list items and table rows are sentences of their own), and inside a line a sentence ends
        at whitespace that follows ``.``, ``!`` or ``?``.
    """
    raise NotImplementedError("not implemented yet — see task 2")


def sentence_chunks(doc_id: str, text: str, max_tokens: int = MAX_TOKENS) -> list[Chunk]:
    """Pack whole sentences into chunks of at most ``max_tokens`` tokens.

    Args:
        doc_id: copied into every chunk.
        text: the whole document.
        max_tokens: the most tokens a chunk may have.

    Returns:
        The chunks in document order. Each chunk runs from the start of its first sentence to the
        end of its last one (the whitespace between them included); a sentence longer than
        ``max_tokens`` is cut by tokens into pieces that fit.

    Raises:
        ValueError: if ``max_tokens < 1``.
    """
    raise NotImplementedError("not implemented yet — see task 2")


# --- (c) markdown-structure-aware ------------------------------------------------------------


def markdown_chunks(doc_id: str, text: str, max_tokens: int = MAX_TOKENS) -> list[Chunk]:
    """Chunk a markdown document along its structure (the rules are in the README, task 2.4).

    Args:
        doc_id: copied into every chunk.
        text: the whole markdown document.
        max_tokens: the most tokens a chunk may have.

    Returns:
        The chunks in document order, never overlapping. Every heading starts a new chunk; a
        section (a heading and everything up to the next heading) that fits in ``max_tokens`` is
        exactly one chunk; a longer one is packed from its blocks, and a block that does not fit is
        cut between sentences (text) or lines (code, tables). A heading always shares its chunk
        with the start of its section's text, and a fenced code block or table that fits is never
        cut. Optionally, ``Chunk.headings`` holds the heading path of the chunk's section.

    Raises:
        ValueError: if ``max_tokens < 1``.
    """
    raise NotImplementedError("not implemented yet — see task 2")


CHUNKERS: dict[str, Chunker] = {
    "fixed": fixed_size_chunks,
    "sentence": sentence_chunks,
    "markdown": markdown_chunks,
}
"""The three chunkers with their default parameters, by name. GIVEN."""
