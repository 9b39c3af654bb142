"""The extractive answerer: quote the source sentences that best answer the question, with [n]
citations, or say "I don't know" (rules in :class:`ExtractiveAnswerer`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from labkit import lexical
from labkit.fakellm import extract
from labkit.fakellm.sources import Source, find_sources, question_of
from labkit.fakellm.types import ChatRequest, Reply


@dataclass(frozen=True)
class Answer:
    """An extractive answer: its text and the source numbers it cites (empty for a refusal)."""

    text: str
    citations: tuple[int, ...]
    labels: dict[int, str]


# A token of the question that names something exactly: it has a digit (ERR-4044, 2025, 3.4,
# tier-1), an inner dot or underscore (ingest.dedupe_window_s), or is a --flag.
_HEADING = re.compile(r"^#{1,6}\s+")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}")
_BLOCK_START = re.compile(r"^(?:[-*+>|#]|\d{1,3}[.)]\s|```)")
_LINE_END = re.compile(r"(?:[.!?:|]|```)$")
_LIST_MARKER = re.compile(r"^(?:[-*+>]\s+|\d{1,3}[.)]\s+)")
_ANAPHOR = re.compile(r"^(?:It|Its|This|That|These|Those|They|Their|Them|Such)\b")
_UNITS = r"(?:%|percent|seconds?|minutes?|hours?|days?|weeks?|months?|years?|ms|times|[KMGT]B)"
_MONTHS = (
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday"
)
# Answer types: (what the question asks, what a sentence holding that kind of answer contains).
ANSWER_TYPES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "duration": (
        re.compile(
            r"\bhow (?:long|quickly|fast|soon|often)\b|\bhow much time\b"
            r"|\bhow many (?:seconds|minutes|hours|days|weeks|months|years|times)\b",
            re.IGNORECASE,
        ),
        re.compile(
            r"\d[\d,.]*\s*" + _UNITS + r"\b|\b(?:once|twice|hourly|daily|weekly|monthly)\b",
            re.IGNORECASE,
        ),
    ),
    "quantity": (
        re.compile(
            r"\bhow (?:many|much|big|large|far|high|low)\b"
            r"|\bwhat (?:size|percentage|share|price|cost|limit|amount|number|rate|version|port)\b"
            r"|\bwhat (?:is|are) (?:the |an? )?(?:[\w'.-]+ ){0,3}(?:default|limit|cap|maximum"
            r"|minimum|price|cost|fee|size|rate|timeout|threshold|number|quota|allowance)s?\b",
            re.IGNORECASE,
        ),
        # a number that is not part of a name (v1, ERR-5031), a date or a bare year (2024)
        re.compile(r"(?<![\w,.-])(?!(?:19|20)\d\d(?!\d))\d|\b(?:once|twice|double|half)\b", re.I),
    ),
    "time": (
        re.compile(r"^\s*when\b|\bwhat (?:date|time|day)\b", re.IGNORECASE),
        re.compile(
            r"\d|\b(?:" + _MONTHS.replace(" ", "|") + r"|before|after|within)\b", re.IGNORECASE
        ),
    ),
}
_DATES = (extract.ISO_DATE_RE, extract.SLASH_DATE_RE, extract.MONTH_DAY_RE, extract.DAY_MONTH_RE)
# A pseudo question word that a unit "covers" when it holds the kind of value the question asks.
_ANSWER_TYPE = "\x00answer-type"
_EXACT = "\x00exact:"  # prefix of a question term that is an exact name (see lexical.exact_terms())


def weight(terms: set[str]) -> int:
    """How much a set of question terms counts: an exact name (see :func:`labkit.lexical.exact_terms`) counts
    twice, as it says precisely what the question is about; any other word once."""
    return sum(2 if term.startswith(_EXACT) else 1 for term in terms)


def mentions(text: str, token: str) -> bool:
    """Whether ``token`` occurs in ``text`` as a whole token (case-insensitive)."""
    pattern = r"(?<![\w])" + re.escape(token.lower()) + r"(?![\w])"
    return re.search(pattern, text.lower()) is not None


@dataclass(frozen=True)
class Unit:
    """One quotable piece of a source (a sentence, list item or table row) and what frames it:
    the source's label, the heading above it and, for a table row, the table's header row."""

    text: str
    context: str
    source: Source
    order: int


def source_units(source: Source, start: int = 0) -> list[Unit]:
    """The quotable units of ``source``, in order (rules in :class:`ExtractiveAnswerer`)."""
    blocks: list[str] = []
    for line in source.lines or (source.text,):
        previous = blocks[-1] if blocks else ""
        if previous and not _BLOCK_START.match(line) and not _ends_block(previous):
            blocks[-1] += " " + line  # a wrapped line of prose continues its paragraph
        else:
            blocks.append(line)
    units: list[Unit] = []
    heading = ""
    table_header: str | None = None
    for block in blocks:
        if _HEADING.match(block):
            heading, table_header = _HEADING.sub("", block), None
            continue
        context = " ".join(filter(None, [source.label or "", heading]))
        if block.startswith("|"):
            if _TABLE_RULE.match(block):
                continue
            if table_header is None:
                table_header = block  # the header row frames the rows below; it is not quoted
            else:
                units.append(Unit(block, f"{context} {table_header}", source, start + len(units)))
            continue
        table_header = None
        for sentence in _sentences(block):
            units.append(Unit(sentence, context, source, start + len(units)))
    return units


def _sentences(block: str) -> list[str]:
    """The sentences of a prose block or list item, each readable on its own: a list marker stays
    with the item's first sentence (``1. Book early.`` is not split after ``1.``), and a sentence
    that opens with a pronoun referring back (``It``, ``This``, ``They``...) is joined to the one
    before it, so ``Standard support is included. It offers a first response within 4 hours.`` is
    one unit."""
    marker = _LIST_MARKER.match(block)
    body = block[marker.end() :] if marker else block
    found: list[str] = []
    for sentence in lexical.sentences(body):
        if found and _ANAPHOR.match(sentence):
            found[-1] += " " + sentence
        else:
            found.append(sentence)
    if marker and found:
        found[0] = marker.group(0) + found[0]
    return found


def _ends_block(line: str) -> bool:
    """Whether nothing may continue ``line``: a heading, or a line ending a sentence or row."""
    return bool(_HEADING.match(line) or _LINE_END.search(line))


def _quote(unit: Unit) -> str:
    """A unit as quoted in an answer: list markers and a table row's outer pipes dropped."""
    body = _LIST_MARKER.sub("", unit.text.strip())
    if body.startswith("|"):
        body = body.strip("|").strip()
    body = body.rstrip()
    end = body[-1] if body and body[-1] in ".!?" else "."
    return f"{body.rstrip('.!?').rstrip()} [{unit.source.number}]{end}"


class ExtractiveAnswerer:
    """Answer from numbered sources by quoting the best-matching sentence(s), citing [n].

    Applies when the system prompt, the last user message or trailing tool results contain
    sources (see :func:`find_sources`). The question is found by :func:`question_of` in the last
    user message.

    **Refusal first.** The reply is the refusal :data:`REFUSAL` (it contains "I don't know") when
    the question has no content word, or when it names something exactly — a token with a digit
    (``ERR-4044``, ``2025``, ``3.4``), an inner ``.`` or ``_`` (``ingest.dedupe_window_s``) or a
    ``--flag`` — that occurs in no source and no source label: the sources are about something
    else, and a careful model does not answer for them.

    **Units.** Each source is read line by line: a line that does not start a list item, table
    row, heading, quote or code fence continues the previous line unless that one ended with
    ``. ! ? :`` or ``|``. Markdown headings (``#``…) are not quoted; they frame the units below
    them, and so does a table's first (header) row. Each later table row is a unit (separator
    rows skipped); every other block is split into sentences
    (:func:`labkit.lexical.sentences`; a list marker such as ``1.`` stays with its item),
    and a sentence that opens with a pronoun referring back (``It``, ``Its``, ``This``,
    ``They``…) is joined to the sentence before it, so every unit reads on its own. A unit's
    *context* is its source's label, the heading above it and, for a table row, the table's
    first row.

    **Matching.** Question and units are reduced to terms: content words (stop words and
    instruction words such as "answer", "source", "cite" removed; suffixes stemmed, see
    :mod:`labkit.lexical`), except that an exact name of the question (see above) is one
    term, matched whole (``AGT-115`` is not matched by ``AGT-101``), that counts twice. A unit's
    score is the count of distinct question terms in the unit or its context, plus 1 when the
    question asks for a kind of value (``how long``, ``how many``, ``what is the … limit``,
    ``when``…, see :data:`ANSWER_TYPES`) and the unit contains one (for a quantity, a number
    that is not part of a name, a date or a year). A unit is *relevant* when at least one
    question term is in the unit itself and the unit with its context holds question terms
    counting at least ``min(2, q)``, ``q`` being what all the question's terms count.

    **Meaning.** The packaged MiniLM sentence embedder
    (:func:`labkit.models.embedder.get_embedder`, loaded on first use, only when there are
    sources) gives each relevant unit its cosine similarity to the question. Words find and
    rank the candidates; similarity tells whether the best of them is about the question at all,
    and lets further units in. (Without the model package, the rules that use similarity are
    skipped.)

    **The answer** quotes the best-scoring relevant unit (ties: the earlier one) among those
    whose terms, with their context, cover at least ``MIN_COVERAGE`` (30 %) of the question
    terms that occur anywhere in the sources (a word no source uses cannot be quoted, so it does
    not count). If no such unit has a similarity of at least ``MIN_SIMILARITY`` (0.35), the
    quotes would share words with the question without being about it, and the reply is the
    refusal. Then up to two more relevant units are added, each the best-scoring one over what
    the quotes so far do not say yet (ties: the earlier one), as long as it adds a question term
    or the kind of value asked, scores as high as the first unit, or has a similarity of at
    least ``EXTRA_SIMILARITY`` (0.45). When an exact name of the question occurs in none of the
    quoted sources, the reply is the refusal: those sources are about something else. Units
    are quoted in source order, list markers and a table row's outer pipes dropped, each with
    its citation before the final punctuation: ``Damaged items can be refunded within 30 days
    [2].`` When no unit is relevant and strong enough, the reply is the refusal.

    The similarity thresholds were chosen on the dev split of the course's knowledge-base
    questions. Same request, same reply: the embedder is deterministic, and its vectors are
    cached.
    """

    # Not ``blocking = False``: with sources it runs MiniLM (milliseconds; seconds for the first
    # load), which must not stall the server's event loop.

    MIN_COVERAGE = 0.3
    MAX_SENTENCES = 3
    MIN_SIMILARITY = 0.35
    EXTRA_SIMILARITY = 0.45
    REFUSAL = "I don't know. The provided sources do not contain the answer to this question."

    def sources(self, request: ChatRequest) -> list[Source]:
        """The sources this behaviour would answer from (system, last user turn, tool results)."""
        texts = [request.system]
        last_user = next((m for m in reversed(request.messages) if m.role == "user"), None)
        if last_user is not None:
            texts.append(last_user.text)
        texts.extend(r.content for r in request.trailing_tool_results)
        found: list[Source] = []
        for text in texts:
            found.extend(find_sources(text))
        return found

    def answer(self, request: ChatRequest) -> Answer | None:
        """The extractive answer, or None when the request has no sources."""
        sources = self.sources(request)
        if not sources:
            return None
        refusal = Answer(self.REFUSAL, (), {})
        question = question_of(request.last_user_text)
        reading = _Reading.of(question, sources)
        if reading is None:
            return refusal
        relevant = reading.relevant()
        # Coverage counts only the question words the sources use at all: a word no source
        # mentions (a paraphrase, a typo) cannot be matched by any quote, so it does not count.
        known_words = set().union(*reading.framed.values()) if reading.framed else set()
        strong = [
            u
            for u in relevant
            if weight(reading.framed[u.order]) >= self.MIN_COVERAGE * weight(known_words)
        ]
        if not strong:
            return refusal
        best = max(strong, key=lambda u: (reading.offers(u, set()), -u.order))
        sim = self.similarities(question, relevant)
        if sim and max(sim[u.order] for u in strong) < self.MIN_SIMILARITY:
            return refusal  # the best quotes match words of the question, not what it asks
        chosen = self._quotes(reading, relevant, best, sim)
        quoted = " ".join(f"{u.source.label or ''} {u.source.text}" for u in chosen)
        if any(not mentions(quoted, token) for token in reading.exact):
            return refusal  # the sources quoted are not about the exact thing asked for
        cites: list[int] = []
        labels: dict[int, str] = {}
        for unit in chosen:
            if unit.source.number not in cites:
                cites.append(unit.source.number)
            if unit.source.label:
                labels[unit.source.number] = unit.source.label
        return Answer(" ".join(_quote(u) for u in chosen), tuple(cites), labels)

    def _quotes(
        self, reading: _Reading, relevant: list[Unit], best: Unit, sim: dict[int, float]
    ) -> list[Unit]:
        """``best`` and up to two more relevant units that say more, in source order."""
        own, typed, offers = reading.own, reading.typed, reading.offers

        def adds(unit: Unit, covered: set[str]) -> bool:
            """Whether quoting ``unit`` too says more: a question term or the kind of value asked
            that the quotes do not hold yet; or, when it keeps every exact name the first quote
            is framed by (no 2023 sentence joins a 2024 answer), as high a score as the first
            quote or a meaning close to the question's."""
            if (own[unit.order] | typed(unit)) - covered:
                return True
            if not reading.names_of(best) <= reading.names_of(unit):
                return False
            return (
                offers(unit, set()) >= offers(best, set())
                or sim.get(unit.order, 0.0) >= self.EXTRA_SIMILARITY
            )

        chosen = [best]
        covered = own[best.order] | typed(best)  # what the quotes themselves say
        while len(chosen) < self.MAX_SENTENCES:
            rest = [u for u in relevant if u not in chosen and adds(u, covered)]
            if not rest:
                break
            pick = max(rest, key=lambda u: (offers(u, covered), -u.order))
            chosen.append(pick)
            covered |= own[pick.order] | typed(pick)
        chosen.sort(key=lambda u: u.order)
        return chosen

    def similarities(self, question: str, units: Sequence[Unit]) -> dict[int, float]:
        """Cosine similarity of ``question`` to each unit (by ``order``, rounded to 3 decimals),
        from the packaged MiniLM; empty when the model is not installed."""
        if not units:
            return {}
        from labkit.errors import LabkitError
        from labkit.models.embedder import get_embedder

        try:
            vectors = get_embedder().embed([question, *(u.text for u in units)])
        except LabkitError:  # the model package is not installed: words alone decide
            return {}
        values = vectors[1:] @ vectors[0]
        return {u.order: round(float(v), 3) for u, v in zip(units, values, strict=True)}

    def respond(self, request: ChatRequest) -> Reply | None:
        """The answer as a text reply (None when there are no sources)."""
        found = self.answer(request)
        return Reply(text=found.text) if found else None


class _Reading:
    """A question read against the units of its sources: the question's terms, the kinds of value
    it asks for, and the terms each unit holds on its own (``own``) and with its context
    (``framed``)."""

    def __init__(self, question: str, q_words: set[str], exact: list[str], units: list[Unit]):
        self.q_words = q_words
        self.exact = exact
        self.kinds = [
            (kind, value) for kind, (asks, value) in ANSWER_TYPES.items() if asks.search(question)
        ]
        self.units = units
        self.own: dict[int, set[str]] = {}
        self.framed: dict[int, set[str]] = {}
        for unit in units:
            words = self.terms(unit.text)
            self.own[unit.order] = words
            self.framed[unit.order] = words | self.terms(unit.context)

    @classmethod
    def of(cls, question: str, sources: list[Source]) -> _Reading | None:
        """The reading, or None when the answer is a refusal before any unit is read: the
        question has no content word, or names something exactly that no source mentions."""
        q_words = lexical.content_set(question, lexical.INSTRUCTION_WORDS)
        if not q_words:
            return None
        known = " ".join(f"{s.label or ''} {s.text}" for s in sources)
        exact = lexical.exact_terms(question)
        if any(not mentions(known, token) for token in exact):
            return None
        # An exact name is one term, matched whole: AGT-115 is not matched by AGT-101's "agt".
        parts = {lexical.stem(w) for token in exact for w in lexical.words(token)}
        q_words = (q_words - parts) | {_EXACT + token.lower() for token in exact}
        units: list[Unit] = []
        for source in sources:
            units.extend(source_units(source, len(units)))
        return cls(question, q_words, exact, units)

    def terms(self, text: str) -> set[str]:
        """The question terms in ``text``."""
        found = self.q_words & lexical.content_set(text)
        return found | {_EXACT + t.lower() for t in self.exact if mentions(text, t)}

    def relevant(self) -> list[Unit]:
        """Units holding a question term themselves, and enough of them with their context."""
        needed = min(2, weight(self.q_words))
        return [
            u for u in self.units if self.own[u.order] and weight(self.framed[u.order]) >= needed
        ]

    def typed(self, unit: Unit) -> set[str]:
        """The answer-type pseudo term, when ``unit`` holds the kind of value asked for."""
        undated = extract.mask(unit.text, _DATES)  # a date is no quantity
        found = any(
            value.search(undated if kind == "quantity" else unit.text) for kind, value in self.kinds
        )
        return {_ANSWER_TYPE} if found else set()

    def offers(self, unit: Unit, covered: set[str]) -> int:
        """What quoting ``unit`` adds to ``covered``, weighed."""
        return weight((self.framed[unit.order] | self.typed(unit)) - covered)

    def names_of(self, unit: Unit) -> set[str]:
        """The exact names ``unit`` is framed by."""
        return {term for term in self.framed[unit.order] if term.startswith(_EXACT)}
