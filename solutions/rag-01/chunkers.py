"""Three ways to cut a document into chunks, all keeping exact character offsets.

Every chunk satisfies ``text[chunk.start:chunk.end] == chunk.text``: that is what lets a RAG system
cite, highlight and evaluate precisely what it retrieved. Token limits are checked with the real
tokenizer (``labkit.tokens``), because that is what the embedding model and the LLM will see.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from labkit.tokens import count_tokens, encode, encoding

# The documented defaults (README, "Task 3"): the same budget for every chunker, so the comparison
# is about WHERE the cuts are, not how big the chunks are.
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
    tokens = encode(text)
    _, offsets = encoding().decode_with_offsets(tokens)
    return [*offsets, len(text)]


def _make_chunks(
    doc_id: str, text: str, spans: list[Span], headings: list[tuple[str, ...]] | None = None
) -> list[Chunk]:
    """Chunks for ``spans`` (in order), numbered from 0; empty and whitespace-only spans dropped."""
    chunks: list[Chunk] = []
    for i, (start, end) in enumerate(spans):
        piece = text[start:end]
        if piece.strip():
            path = headings[i] if headings is not None else ()
            chunks.append(Chunk(doc_id, len(chunks), start, end, piece, path))
    return chunks


def _token_windows(
    text: str, start: int, end: int, max_tokens: int, overlap_tokens: int
) -> list[Span]:
    """Sliding token windows over ``text[start:end]`` as character spans of ``text``.

    Consecutive windows share exactly ``overlap_tokens`` tokens of the slice's own tokenization.
    A window whose text re-tokenises to more than ``max_tokens`` (BPE merges differ at the edges,
    and a cut inside a multi-byte character moves the whole character) is shortened until it fits.
    """
    offsets = [start + o for o in token_offsets(text[start:end])]
    n = len(offsets) - 1
    spans: list[Span] = []
    a = 0
    while a < n:
        b = min(a + max_tokens, n)
        while b > a + 1 and count_tokens(text[offsets[a] : offsets[b]]) > max_tokens:
            b -= 1
        spans.append((offsets[a], offsets[b]))
        if b == n:
            break
        # Only a pathological window (shortened below the overlap) could stall; move on by one.
        a = b - overlap_tokens if b - overlap_tokens > a else a + 1
    return spans


def _strip(text: str, start: int, end: int) -> Span:
    piece = text[start:end]
    first = start + len(piece) - len(piece.lstrip())
    return first, first + len(piece.strip())


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
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(
            f"overlap_tokens must be >= 0 and < max_tokens ({max_tokens}), got {overlap_tokens}"
        )
    return _make_chunks(
        doc_id, text, _token_windows(text, 0, len(text), max_tokens, overlap_tokens)
    )


# --- (b) sentence-aware ----------------------------------------------------------------------

# Inside a line, a sentence ends where whitespace follows ".", "!" or "?".
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_LINE = re.compile(r"[^\r\n]+")


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
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        cursor = line.start()
        breaks = [m.start() for m in _SENTENCE_BREAK.finditer(text, line.start(), line.end())]
        for cut in [*breaks, line.end()]:
            start, end = _strip(text, cursor, cut)
            if end > start:
                spans.append((start, end))
            cursor = cut
    return spans


def _pack(text: str, units: list[Span], max_tokens: int) -> list[Span]:
    """Greedily join consecutive units while the joined text (gaps included) fits ``max_tokens``.

    Every unit must already fit on its own.
    """
    packed: list[Span] = []
    for start, end in units:
        if packed and count_tokens(text[packed[-1][0] : end]) <= max_tokens:
            packed[-1] = (packed[-1][0], end)
        else:
            packed.append((start, end))
    return packed


def _fit(text: str, spans: list[Span], max_tokens: int) -> list[Span]:
    """Each span as is if it fits, else cut into token windows (no overlap) that do."""
    units: list[Span] = []
    for start, end in spans:
        if count_tokens(text[start:end]) <= max_tokens:
            units.append((start, end))
        else:
            units.extend(_token_windows(text, start, end, max_tokens, 0))
    return units


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
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    return _make_chunks(
        doc_id, text, _pack(text, _fit(text, sentence_spans(text), max_tokens), max_tokens)
    )


# --- (c) markdown-structure-aware ------------------------------------------------------------

_HEADING = re.compile(r"(#{1,6})(?:[ \t]|$)")
_FENCE = re.compile(r" {0,3}(```|~~~)")
_TABLE_ROW = re.compile(r"[ \t]*\|")


@dataclass(frozen=True)
class _Block:
    """A markdown block (heading, fence, table or text), as a span without surrounding whitespace."""

    kind: str
    start: int
    end: int
    level: int = 0  # headings only: 1 for "#", 2 for "##", ...


def _lines(text: str) -> list[Span]:
    """Every line as a span without its line break (``\\n``, ``\\r\\n`` or ``\\r``)."""
    spans: list[Span] = []
    pos = 0
    for m in re.finditer(r"\r\n|\r|\n", text):
        spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    return spans


def _markdown_blocks(text: str) -> list[_Block]:
    """Headings, fenced code blocks, tables and text blocks (runs of other non-blank lines).

    A fence opens at a line starting (after up to 3 spaces) with ``` or ~~~ and closes at the
    next line that starts with the same three characters, or at the end of the document; nothing
    inside it is a heading or a table. A table is a run of lines whose first non-space character
    is ``|``.
    """
    lines = _lines(text)
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        start, end = lines[i]
        line = text[start:end]
        heading, fence = _HEADING.match(line), _FENCE.match(line)
        if not line.strip():
            i += 1
            continue
        if heading:
            blocks.append(_Block("heading", *_strip(text, start, end), len(heading.group(1))))
            i += 1
            continue
        if fence:
            j = i + 1
            while j < len(lines) and not text[lines[j][0] : lines[j][1]].lstrip().startswith(
                fence.group(1)
            ):
                j += 1
            j = min(j, len(lines) - 1)
            blocks.append(_Block("fence", *_strip(text, start, lines[j][1])))
            i = j + 1
            continue
        kind = "table" if _TABLE_ROW.match(line) else "text"
        j = i
        while j + 1 < len(lines):
            nxt = text[lines[j + 1][0] : lines[j + 1][1]]
            if not nxt.strip() or _HEADING.match(nxt) or _FENCE.match(nxt):
                break
            if (kind == "table") != bool(_TABLE_ROW.match(nxt)):
                break
            j += 1
        blocks.append(_Block(kind, *_strip(text, start, lines[j][1])))
        i = j + 1
    return blocks


def _block_atoms(text: str, block: _Block, max_tokens: int) -> list[Span]:
    """A block as the smallest pieces a chunk may end between: the whole block if it fits, else
    its sentences (text) or lines (code, tables), each cut by tokens if it is still too long."""
    if count_tokens(text[block.start : block.end]) <= max_tokens:
        return [(block.start, block.end)]
    if block.kind == "text":
        inner = sentence_spans(text[block.start : block.end])
    else:
        inner = [
            _strip(text[block.start : block.end], s, e)
            for s, e in _lines(text[block.start : block.end])
        ]
    shifted = [(block.start + s, block.start + e) for s, e in inner if e > s]
    return _fit(text, shifted, max_tokens)


def _sections(text: str, blocks: list[_Block]) -> list[tuple[tuple[str, ...], list[_Block]]]:
    """Group blocks into sections, each with its heading path (outermost heading first).

    Every heading starts a section; text before the first heading is a section with no path.
    """
    sections: list[tuple[tuple[str, ...], list[_Block]]] = []
    stack: list[_Block] = []
    for block in blocks:
        if block.kind == "heading":
            while stack and stack[-1].level >= block.level:
                stack.pop()
            stack.append(block)
            sections.append((tuple(text[b.start : b.end] for b in stack), [block]))
        elif sections:
            sections[-1][1].append(block)
        else:
            sections.append(((), [block]))
    return sections


def _section_spans(text: str, blocks: list[_Block], max_tokens: int) -> list[Span]:
    """One section as spans that fit: whole if it fits, else its blocks' atoms packed greedily.

    The heading shares its chunk with the start of the section's text: if the first atom is too
    long to join it, the heading takes the longest token prefix of that atom that fits with it
    (unless that atom is a whole code block or table, which is never cut).
    """
    first, last = blocks[0].start, blocks[-1].end
    if count_tokens(text[first:last]) <= max_tokens:
        return [(first, last)]
    atoms = [atom for block in blocks for atom in _block_atoms(text, block, max_tokens)]
    heading, body = blocks[0], blocks[1] if len(blocks) > 1 else None
    if heading.kind == "heading" and body is not None and atoms[0] == (heading.start, heading.end):
        b_start, b_end = atoms[1]
        uncuttable = body.kind != "text" and (b_start, b_end) == (body.start, body.end)
        if count_tokens(text[heading.start : b_end]) > max_tokens and not uncuttable:
            offsets = [b_start + o for o in token_offsets(text[b_start:b_end])]
            cut = len(offsets) - 2
            while cut > 0 and count_tokens(text[heading.start : offsets[cut]]) > max_tokens:
                cut -= 1
            if offsets[cut] > b_start:
                atoms[0:2] = [(heading.start, offsets[cut]), (offsets[cut], b_end)]
    return _pack(text, atoms, max_tokens)


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
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    spans: list[Span] = []
    paths: list[tuple[str, ...]] = []
    for path, section in _sections(text, _markdown_blocks(text)):
        for span in _section_spans(text, section, max_tokens):
            spans.append(span)
            paths.append(path)
    return _make_chunks(doc_id, text, spans, paths)


CHUNKERS: dict[str, Chunker] = {
    "fixed": fixed_size_chunks,
    "sentence": sentence_chunks,
    "markdown": markdown_chunks,
}
"""The three chunkers with their default parameters, by name. GIVEN."""
