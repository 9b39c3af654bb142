"""Split a markdown document into chunks. GIVEN: you do not need to change this file.

rag-01 is about chunkers; here one simple, structure-aware chunker is enough. A document is cut
at its headings into sections, and each section's paragraphs (blocks separated by blank lines)
are packed into chunks of at most ``max_chars`` characters. A paragraph longer than that (a big
table, a code block) becomes a chunk of its own rather than being cut in the middle.

Every chunk is an exact slice of the document, ``text == document[start:end]``, so its offsets
point back to the source, and it starts at a paragraph: the first chunk of a section begins with
its heading line (``## 4. Lodging``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 400

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$")
_PARAGRAPH = re.compile(r"(?:[^\n]|\n(?![ \t]*\n))+")


@dataclass(frozen=True)
class Chunk:
    """One chunk of a document: its position, its character offsets and its text."""

    index: int  # 0, 1, 2 ... in document order
    start: int  # offset of the first character in the document's text
    end: int  # offset just after the last character
    text: str  # == document_text[start:end]
    heading: str  # the heading of the section it comes from ("" before the first heading)


def _sections(text: str) -> list[tuple[int, int, str]]:
    """(start, end, heading) of each section: a heading line up to the next heading."""
    sections: list[tuple[int, int, str]] = []
    start, heading, pos = 0, "", 0
    for line in text.splitlines(keepends=True):
        match = _HEADING.match(line.rstrip("\n"))
        if match and pos > start:
            sections.append((start, pos, heading))
            start = pos
        if match:
            heading = match.group(2)
        pos += len(line)
    sections.append((start, len(text), heading))
    return sections


def chunk_document(text: str, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """The chunks of one markdown document, in order.

    Args:
        text: the whole document (``Document.text``).
        max_chars: the most characters packed into one chunk (a longer paragraph stays whole).

    Returns:
        Chunks with consecutive indexes from 0; ``chunk.text == text[chunk.start:chunk.end]``.
    """
    spans: list[tuple[int, int, str]] = []
    for sec_start, sec_end, heading in _sections(text):
        current: tuple[int, int] | None = None
        for match in _PARAGRAPH.finditer(text, sec_start, sec_end):
            paragraph = match.group()
            if not paragraph.strip():
                continue
            begin = match.start() + len(paragraph) - len(paragraph.lstrip())
            end = match.start() + len(paragraph.rstrip())
            if current is None:
                current = (begin, end)
            elif end - current[0] > max_chars:
                spans.append((current[0], current[1], heading))
                current = (begin, end)
            else:
                current = (current[0], end)
        if current is not None:
            spans.append((current[0], current[1], heading))
    return [
        Chunk(index=i, start=start, end=end, text=text[start:end], heading=heading)
        for i, (start, end, heading) in enumerate(spans)
    ]
