"""Pull typed values (emails, ids, numbers, dates, names, places...) out of free text.

Used by the JSON-schema filler and the tool policy to fill arguments "from what the user said".
Every extractor is a regular expression or a short rule, documented where it is defined, and an
:class:`Extractor` hands out each value once, in text order, so two fields of the same kind get
two different values ("from alice@x.io to bob@y.io" → from=alice..., to=bob...).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from labkit import lexical

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
URL_RE = re.compile(r"https?://[^\s<>\"')\]]+")
# Ids such as C-1001, ORD-42, INV_2024_7, A12345 (capital prefix, then digits), or #1234.
ID_RE = re.compile(r"\b[A-Z]{1,6}[-_]?\d{2,}(?:[-_]\d+)*\b|#\d{3,}\b")
PHONE_RE = re.compile(r"(?<!\w)\+?\d[\d\s().-]{6,}\d(?!\w)")
ISO_DATE_RE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")
SLASH_DATE_RE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")  # read as month/day/year
MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m
}
_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
MONTH_DAY_RE = re.compile(
    rf"\b({_MONTH_ALT})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.IGNORECASE
)
DAY_MONTH_RE = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_ALT})\.?,?\s+(\d{{4}})\b", re.IGNORECASE
)
TIME_RE = re.compile(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(am|pm)?\b|\b(\d{1,2})\s*(am|pm)\b", re.I)
NUMBER_RE = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w@])")
QUOTED_RE = re.compile(r"\"([^\"]{1,200})\"|“([^”]{1,200})”|(?<!\w)'([^']{1,200})'(?!\w)")
EXPRESSION_RE = re.compile(r"[-+(]*\d+(?:\.\d+)?(?:\s*[-+*/^x×÷%]\s*[-+(]*\d+(?:\.\d+)?\)*)+")
NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
}
NAME_CUE_RE = re.compile(
    r"\b(?:my name is|name is|i am|i'm|this is|call me|named|called|signed|regards,?|from)\s+"
    r"([A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+){0,2})"
)
CAPITALISED_RE = re.compile(r"\b[A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+){0,2}\b")
PLACE_CUE_RE = re.compile(
    r"\b(?:in|to|from|at|for|near|of|about|visit|visiting)\s+([A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+){0,2})"
)
NOT_NAMES = frozenset(
    {m.lower() for m in MONTHS}
    | set("monday tuesday wednesday thursday friday saturday sunday".split())
    | set(
        "i hi hello hey dear please thanks thank what who when where why how which the a an".split()
    )
    | set("can could would should is are do does did my our your this that these those".split())
    | set("yes no ok okay if it its in on at to for from and or but".split())
)


@dataclass(frozen=True)
class Found:
    """One value found in the text, with its character position (for "nearest to" rules)."""

    value: str
    start: int


def _scan(pattern: re.Pattern[str], text: str, group: int = 0) -> list[Found]:
    return [Found(m.group(group), m.start(group)) for m in pattern.finditer(text)]


def emails(text: str) -> list[Found]:
    """Email addresses."""
    return _scan(EMAIL_RE, text)


def urls(text: str) -> list[Found]:
    """http(s) URLs (trailing punctuation removed)."""
    return [Found(f.value.rstrip(".,;:!?"), f.start) for f in _scan(URL_RE, text)]


def ids(text: str) -> list[Found]:
    """Identifiers: capital-letter prefix + digits (``C-1001``, ``ORD42``) or ``#1234``."""
    masked = mask(text, [EMAIL_RE, URL_RE])
    return [
        Found(f.value.lstrip("#") if f.value.startswith("#") else f.value, f.start)
        for f in _scan(ID_RE, masked)
    ]


def phones(text: str) -> list[Found]:
    """Phone numbers: 8+ digits with spaces, dots, dashes or parentheses, optional ``+``."""
    masked = mask(text, [ISO_DATE_RE, SLASH_DATE_RE, ID_RE])
    return [f for f in _scan(PHONE_RE, masked) if sum(c.isdigit() for c in f.value) >= 8]


def dates(text: str) -> list[Found]:
    """Dates as ISO ``YYYY-MM-DD``: ISO, ``M/D/YYYY`` (US order), ``March 3, 2024``,
    ``3 March 2024``. Impossible dates are skipped."""
    found: list[Found] = []
    for m in ISO_DATE_RE.finditer(text):
        found.append(Found(f"{m.group(1)}-{m.group(2)}-{m.group(3)}", m.start()))
    for m in SLASH_DATE_RE.finditer(text):
        found.append(Found(_iso(int(m.group(3)), int(m.group(1)), int(m.group(2))), m.start()))
    for m in MONTH_DAY_RE.finditer(text):
        found.append(
            Found(_iso(int(m.group(3)), MONTHS[m.group(1).lower()], int(m.group(2))), m.start())
        )
    for m in DAY_MONTH_RE.finditer(text):
        found.append(
            Found(_iso(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1))), m.start())
        )
    return sorted((f for f in found if f.value), key=lambda f: f.start)


def _iso(year: int, month: int, day: int) -> str:
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return ""
    return f"{year:04d}-{month:02d}-{day:02d}"


def times(text: str) -> list[Found]:
    """Times of day as ``HH:MM:SS``: ``15:30``, ``3:30 pm``, ``3pm``."""
    found = []
    for m in TIME_RE.finditer(text):
        if m.group(1) is not None:
            hour, minute, second, half = (
                int(m.group(1)),
                int(m.group(2)),
                int(m.group(3) or 0),
                m.group(4),
            )
        else:
            hour, minute, second, half = int(m.group(5)), 0, 0, m.group(6)
        if half and half.lower() == "pm" and hour < 12:
            hour += 12
        if half and half.lower() == "am" and hour == 12:
            hour = 0
        if hour < 24 and minute < 60 and second < 60:
            found.append(Found(f"{hour:02d}:{minute:02d}:{second:02d}", m.start()))
    return found


def numbers(text: str) -> list[Found]:
    """Numbers that are not part of an id, email, URL, date, time or phone number; plus the
    words zero…twelve. Thousands separators are removed (``1,250`` → ``1250``)."""
    masked = mask(text, [EMAIL_RE, URL_RE, ID_RE, ISO_DATE_RE, SLASH_DATE_RE, TIME_RE])
    found = [Found(f.value.replace(",", "").lstrip("+"), f.start) for f in _scan(NUMBER_RE, masked)]
    for m in re.finditer(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", masked, re.IGNORECASE):
        found.append(Found(str(NUMBER_WORDS[m.group(1).lower()]), m.start()))
    return sorted(found, key=lambda f: f.start)


def quoted(text: str) -> list[Found]:
    """Strings in double quotes, curly quotes or single quotes."""
    out = []
    for m in QUOTED_RE.finditer(text):
        idx = next(i for i in (1, 2, 3) if m.group(i) is not None)
        out.append(Found(m.group(idx), m.start(idx)))
    return out


def expressions(text: str) -> list[Found]:
    """Arithmetic expressions such as ``12 * (3 + 4)`` or ``17% of 250`` (``x``/``×``/``÷`` are
    normalised to ``*``/``/``)."""
    out = []
    for m in EXPRESSION_RE.finditer(text):
        expr = m.group(0).strip()
        expr = expr.replace("×", "*").replace("÷", "/").replace("^", "**")
        expr = re.sub(r"(?<=\d)\s*x\s*(?=\d)", " * ", expr)
        out.append(Found(expr, m.start()))
    return out


def names(text: str) -> list[Found]:
    """Person names: first the capitalised words after a cue (``my name is``, ``I'm``,
    ``call me``, ``named``, ``from``, a sign-off), then other capitalised word runs that do not
    start a sentence and are not a month, weekday or common word."""
    found = [Found(m.group(1), m.start(1)) for m in NAME_CUE_RE.finditer(text)]
    found = [f for f in found if f.value.split()[0].lower() not in NOT_NAMES]
    seen = {f.value for f in found}
    for m in CAPITALISED_RE.finditer(text):
        value, start = m.group(0), m.start()
        before = text[:start].rstrip()
        if not before or before[-1] in '.!?\n"“':
            continue  # sentence-initial capital: not evidence of a name
        if value.split()[0].lower() in NOT_NAMES or value in seen:
            continue
        seen.add(value)
        found.append(Found(value, start))
    return found


def places(text: str) -> list[Found]:
    """Place names: capitalised words after ``in``, ``to``, ``from``, ``at``, ``for``, ``near``,
    ``of``, ``about``, ``visit(ing)`` (``weather in New York`` → ``New York``)."""
    return [
        Found(m.group(1), m.start(1))
        for m in PLACE_CUE_RE.finditer(text)
        if m.group(1).split()[0].lower() not in NOT_NAMES
    ]


def key_value(text: str, key_words: list[str]) -> Found | None:
    """The value written after a field's name: ``order id: C-1001``, ``age is 42``,
    ``email = x@y.io``. The value runs to the next comma, semicolon, full stop (not inside a
    number), newline, ``and`` or ``but``."""
    if not key_words:
        return None
    key = r"[\s_-]*".join(re.escape(w) for w in key_words)
    m = re.search(
        rf"\b{key}s?\b\s*(?:[:=]|\bis\b|\bwas\b|\bare\b|\bof\b)\s*(\"[^\"]+\"|[^,;\n]+?)(?=\s*(?:[,;\n]|\.(?!\d)|\band\b|\bbut\b|$))",
        text,
        re.IGNORECASE,
    )
    if not m:
        return None
    value = m.group(1).strip().strip("\"'")
    return Found(value, m.start(1)) if value else None


def search_phrase(text: str) -> str:
    """What to search for: the first quoted string, else the words after ``for``/``about``/
    ``on``/``regarding`` to the end of the sentence, else the whole text; trailing ``?`` and
    leading politeness removed."""
    q = quoted(text)
    if q:
        return q[0].value
    m = re.search(
        r"\b(?:for|about|regarding|on)\s+(.+?)(?:[?.!]\s|[?.!]?$)", text, re.IGNORECASE | re.S
    )
    phrase = m.group(1) if m else text
    phrase = re.sub(r"^(?:please|can you|could you)\s+", "", phrase.strip(), flags=re.IGNORECASE)
    return " ".join(phrase.split()).rstrip("?.! ")


def mask(text: str, patterns: Iterable[re.Pattern[str]]) -> str:
    """Replace matches by spaces (positions kept) so other extractors do not see inside them."""
    chars = list(text)
    for pattern in patterns:
        for m in pattern.finditer(text):
            chars[m.start() : m.end()] = " " * (m.end() - m.start())
    return "".join(chars)


KINDS: dict[str, Callable[[str], list[Found]]] = {
    "email": emails,
    "url": urls,
    "id": ids,
    "phone": phones,
    "date": dates,
    "time": times,
    "number": numbers,
    "quoted": quoted,
    "expression": expressions,
    "name": names,
    "place": places,
}


@dataclass
class Extractor:
    """Values found in one text, handed out once each (per kind), in text order."""

    text: str
    _cache: dict[str, list[Found]] = field(default_factory=dict)
    _used: dict[str, set[int]] = field(default_factory=dict)

    def all(self, kind: str) -> list[Found]:
        """Every value of ``kind`` in the text (used or not)."""
        if kind not in self._cache:
            self._cache[kind] = KINDS[kind](self.text)
        return self._cache[kind]

    def take(
        self,
        kind: str,
        near: list[str] | None = None,
        prefer: Callable[[str], bool] | None = None,
    ) -> str | None:
        """The next unused value of ``kind``; with ``near`` (words of a field name), prefer the
        unused value closest after (then before) a mention of one of those words; with
        ``prefer``, consider only the values it accepts when there are any (integers for an
        integer field)."""
        values = self.all(kind)
        used = self._used.setdefault(kind, set())
        free = [i for i in range(len(values)) if i not in used]
        if prefer is not None:
            free = [i for i in free if prefer(values[i].value)] or free
        if not free:
            return None
        choice = free[0]
        if near:
            mentions = _mentions(self.text, near)
            if mentions:

                def distance(i: int) -> tuple[int, int]:
                    gaps = [values[i].start - pos for pos in mentions]
                    after = [g for g in gaps if g >= 0]
                    return (0, min(after)) if after else (1, min(-g for g in gaps))

                choice = min(free, key=distance)
        used.add(choice)
        return values[choice].value

    def mark_used(self, kind: str, value: str) -> None:
        """Record that ``value`` was used (so ``take`` skips it)."""
        for i, f in enumerate(self.all(kind)):
            if f.value == value:
                self._used.setdefault(kind, set()).add(i)
                return


def _mentions(text: str, key_words: list[str]) -> list[int]:
    stems = {lexical.stem(w) for w in key_words if w not in lexical.STOP_WORDS}
    return [m.start() for m in lexical.WORD_RE.finditer(text) if lexical.stem(m.group(0)) in stems]
