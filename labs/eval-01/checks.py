"""Rule-based checks: the cheap, exact tests every evaluation harness runs before any judge.

A rule never needs a model, never costs a call and never disagrees with itself; whatever a rule
can decide (is it JSON, is it short enough, does it hold the required facts, do its citations
point at real sources), a judge should not be asked.
"""

from __future__ import annotations

import json
import re

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def is_valid_json(text: str) -> bool:
    """Whether ``text`` parses as JSON (any value; surrounding whitespace allowed).

    Args:
        text: a model's raw reply.

    Returns:
        True when ``json.loads`` accepts it.
    """
    raise NotImplementedError("not implemented yet — see task 1")


def within_length(text: str, max_words: int) -> bool:
    """Whether ``text`` has at most ``max_words`` words (whitespace-separated)."""
    raise NotImplementedError("not implemented yet — see task 1")


def missing_facts(answer: str, facts: list[str]) -> list[str]:
    """The required facts the answer does not contain (case-insensitive substring), in order.

    Args:
        answer: the answer to check.
        facts: short strings a correct answer must contain (``"14 days"``, ``"$300"``).

    Returns:
        The facts not found; ``[]`` when all are there.
    """
    raise NotImplementedError("not implemented yet — see task 1")


def cited_numbers(answer: str) -> list[int]:
    """Every source number cited with ``[n]`` or ``[n, m]``, in order of appearance, repeats kept."""
    return [int(n) for group in _CITATION.findall(answer) for n in group.split(",")]


def invalid_citations(answer: str, n_sources: int) -> list[int]:
    """Cited numbers that point at no source (outside ``1..n_sources``), in order, no repeats."""
    raise NotImplementedError("not implemented yet — see task 1")


def run_checks(
    answer: str, facts: list[str], n_sources: int, *, max_words: int = 80
) -> dict[str, bool]:
    """All rule checks of one RAG answer.

    Returns:
        ``{"within_length": ..., "has_facts": ..., "cites_a_source": ..., "citations_valid": ...}``
        — ``cites_a_source`` is True when at least one valid ``[n]`` is cited.
    """
    raise NotImplementedError("not implemented yet — see task 1")
