"""Numbered sources in a prompt (``[n] (label) text`` or ``Source n: text``) and the question
asked about them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Source:
    """A numbered source found in a prompt: ``[n] (label) text`` or ``Source n: text``.

    ``text`` is the source's lines joined with single spaces; ``lines`` keeps them as they were
    (stripped), so the answerer can tell headings, list items and table rows apart.
    """

    number: int
    label: str | None
    text: str
    lines: tuple[str, ...] = field(default=(), compare=False)


_SOURCE_LINE = re.compile(
    r"^\s*(?:\[(\d{1,3})\]|source\s+(\d{1,3})\b)\s*(?:\(([^)\n]{1,80})\)|\[([^\]\n]{1,80})\])?\s*[:.\-–]?\s*(.*)$",
    re.IGNORECASE,
)
_QUESTION_LINE = re.compile(
    r"^\s*(?:question|q|query|user question)\s*[:：]\s*(.*)$", re.IGNORECASE
)


def find_sources(text: str) -> list[Source]:
    """Numbered sources in ``text``.

    A source starts on a line beginning with ``[n]`` or ``Source n`` (optionally followed by a
    ``(doc-id)`` or ``[doc-id]`` label and a ``:``); it continues on the following lines until a
    blank line, the next source, or a ``Question:`` line.
    """
    found: list[Source] = []
    current: list[Any] | None = None

    def close(entry: list[Any]) -> None:
        lines = tuple(line for line in entry[2] if line)
        found.append(Source(entry[0], entry[1], " ".join(lines).strip(), lines))

    for line in text.splitlines():
        m = _SOURCE_LINE.match(line)
        if m:
            if current:
                close(current)
            number = int(m.group(1) or m.group(2))
            current = [number, m.group(3) or m.group(4), [m.group(5).strip()]]
        elif current is not None and line.strip() and not _QUESTION_LINE.match(line):
            current[2].append(line.strip())
        elif current is not None:
            close(current)
            current = None
    if current:
        close(current)
    return [s for s in found if s.text]


def question_of(text: str) -> str:
    """The question in a prompt: the text of a ``Question:`` line, else the last non-source line
    containing ``?``, else all non-source lines."""
    lines = text.splitlines()
    for line in reversed(lines):
        m = _QUESTION_LINE.match(line)
        if m and m.group(1).strip():
            return m.group(1).strip()
    plain: list[str] = []
    in_source = False
    for line in lines:
        if _SOURCE_LINE.match(line):
            in_source = True
            continue
        if not line.strip():
            in_source = False
            continue
        if not in_source:
            plain.append(line.strip())
    asked = [line for line in plain if "?" in line]
    return asked[-1] if asked else " ".join(plain)
