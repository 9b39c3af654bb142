"""What a schema fill reads: the text and its extractor, the answer, and the word lists that
tell what a field is for (by the words of its name)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labkit import lexical
from labkit.fakellm import extract

FREE_TEXT_WORDS = frozenset(
    """answer response reply summary text content description reason reasoning explanation
    message body comment comments note notes feedback justification rationale analysis output
    result conclusion details detail verdict critique thought thoughts statement""".split()
)
QUERY_WORDS = frozenset("query q search question keywords keyword topic term terms prompt".split())
NAME_WORDS = frozenset(
    """name customer person author user username sender recipient contact assignee owner
    employee speaker""".split()
)
PLACE_WORDS = frozenset(
    "city location place country destination origin town region address where".split()
)
ID_LAST_WORDS = frozenset("id ids code sku ref reference".split())
DATE_WORDS = frozenset("date day deadline birthday dob due when".split())
DATETIME_WORDS = frozenset("timestamp datetime at".split())
TAG_WORDS = frozenset("tags tag keywords topics labels categories".split())
CITATION_WORDS = frozenset("citations citation sources source references refs cited".split())
EXPRESSION_WORDS = frozenset("expression expr formula equation calculation".split())
NEGATIONS = frozenset("not no never without don't doesn't isn't wasn't aren't won't can't".split())

POSITIVE = frozenset(
    """love loved great good excellent happy thanks amazing awesome perfect like liked best
    wonderful fantastic pleased helpful fast works recommend""".split()
)
NEGATIVE = frozenset(
    """hate hated bad terrible awful broken angry worst poor disappointed disappointing slow
    refund useless never fails failed problem issue wrong late damaged""".split()
)

DEFAULT_DATE = "2025-01-01"


@dataclass
class FillContext:
    """What a fill draws on: the text, its extractor, the $defs root, and lazily the answer."""

    text: str
    root: Mapping[str, Any]
    answer: Callable[[], str] | None = None
    citations: list[int] = field(default_factory=list)
    citation_labels: dict[int, str] = field(default_factory=dict)
    extractor: extract.Extractor = field(init=False)
    _answer_text: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.extractor = extract.Extractor(self.text)

    def answer_text(self) -> str:
        """The free-text answer (computed once)."""
        if self._answer_text is None:
            produced = self.answer() if self.answer else ""
            self._answer_text = produced or first_sentence(self.text) or "No answer."
        return self._answer_text


def first_sentence(text: str, max_words: int = 12) -> str:
    """The first sentence of ``text``, at most ``max_words`` words."""
    parts = lexical.sentences(text)
    if not parts:
        return ""
    return " ".join(parts[0].split()[:max_words])


# --------------------------------------------------------------------------- dispatch


def field_words(path: list[str]) -> set[str]:
    return set(lexical.identifier_words(path[-1])) if path else set()


def last_word(path: list[str]) -> str:
    words = lexical.identifier_words(path[-1]) if path else []
    return words[-1] if words else ""
