"""Produce a JSON value that validates against a JSON Schema, filled from the user's text.

This is what makes ``client.chat.completions.parse(response_format=MyModel)`` and forced tool
calls work offline: the fake returns a value of the right shape whose fields come, where the text
allows, from what the user actually wrote. Rules (lab tests rely on them):

- ``$ref`` / ``$defs`` / ``definitions`` are resolved; ``allOf`` is merged; ``const`` wins;
  ``default`` is used for a scalar when the text gives no evidence.
- ``anyOf``/``oneOf`` with ``null`` (pydantic's ``Optional``): the non-null branch when the text
  has evidence for it (or it is an object/array/free-text field), else ``null``. Otherwise the
  first branch.
- Objects: every listed property, in schema order (strict mode requires them all); a dict-like
  object (``additionalProperties`` only) is ``{}``.
- Strings, by ``format`` first, then by the words of the field name: ``email``;
  ``url``/``link``/``website``; ``phone``/``mobile``; ``date``/``deadline``/``birthday``/
  ``due``/``when``; ``*_at``/``timestamp``/``datetime``; ``time``; ``id``/``*_id``/``code``/
  ``sku``/``reference`` (ids like ``C-1001``); ``name``/``customer``/``author``/``person``...;
  ``city``/``location``/``country``/``destination``... (a place after in/to/from/about...,
  else any capitalised name); ``query``/``search``/``question``/``topic`` (the search
  phrase); ``expression``/``formula``; free text (``answer``, ``summary``, ``reason``,
  ``description``, ``text``...: the answer the other behaviours would give). Before any of
  these, ``<field name>: value`` / ``<field name> is value`` in the text wins. Unknown string
  fields take the next quoted string, else the first sentence (≤ 12 words).
  ``minLength``/``maxLength`` are honoured; a ``pattern`` is searched for in the text.
- Numbers: ``<field>: 42``; then a cue by field name (``age`` → "42 years old", ``price``/
  ``amount``/``cost``/``total`` → a number with a currency sign or word, ``year`` → 19xx/20xx,
  ``rating``/``score``/``stars`` → "4 stars", "8/10", ``percent`` → "15%"); then the unused
  number nearest after a mention of the field name; then the next unused number (integer
  fields take whole numbers first); else ``minimum`` or 0. Clamped to ``minimum``/``maximum``
  (exclusive bounds by one step).
- Booleans: ``<field>: yes/no/true/false``; else true when a word of the field name (without
  ``is_``/``has_``) appears in the text not preceded within three words by not/no/never/
  without/n't; else false.
- Enums: the option sharing most words with the text (+1 when the option appears verbatim);
  when none shares any and the options include positive/negative, a small sentiment lexicon
  decides (neutral on a tie, if offered); else the first option.
- Arrays: several values when the items are of a kind the text has several of (emails, ids,
  names, places, quoted strings, dates); ``tags``/``keywords``/``topics`` get up to 3 topical
  words (the longest lower-case words that are not stop words or property names, in text
  order); citation fields (``citations``, ``sources``, ``references``) get the [n] numbers the
  extractive answer cited; otherwise one item — except arrays of objects nested three or more
  levels deep, which stay empty so recursive schemas end. ``minItems``/``maxItems``/
  ``uniqueItems`` are honoured.
"""

from __future__ import annotations

import re
import uuid
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


def fill_schema(
    schema: Mapping[str, Any],
    text: str,
    *,
    answer: Callable[[], str] | None = None,
    citations: list[int] | None = None,
    citation_labels: dict[int, str] | None = None,
) -> Any:
    """A value valid against ``schema`` with fields taken from ``text`` (rules: module doc)."""
    ctx = FillContext(
        text=text,
        root=schema,
        answer=answer,
        citations=list(citations or []),
        citation_labels=dict(citation_labels or {}),
    )
    return _fill(schema, ctx, [], depth=0)


def first_sentence(text: str, max_words: int = 12) -> str:
    """The first sentence of ``text``, at most ``max_words`` words."""
    parts = lexical.sentences(text)
    if not parts:
        return ""
    return " ".join(parts[0].split()[:max_words])


# --------------------------------------------------------------------------- dispatch


def _resolve(schema: Mapping[str, Any], ctx: FillContext) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        ref = str(schema["$ref"])
        target: Any = ctx.root
        if ref.startswith("#"):
            for part in [p for p in ref[1:].split("/") if p]:
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
        else:
            target = {}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if isinstance(target, Mapping) else rest
        seen += 1
    if "allOf" in schema:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in schema["allOf"]:
            sub = _resolve(sub, ctx)
            for key, value in sub.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        schema = merged
    return schema


def _types(schema: Mapping[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, list):
        return [str(x) for x in t]
    if isinstance(t, str):
        return [t]
    if "properties" in schema or "additionalProperties" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    if "enum" in schema:
        return []
    return []


def _fill(schema: Mapping[str, Any], ctx: FillContext, path: list[str], depth: int) -> Any:
    schema = _resolve(schema, ctx)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return _choose_enum(list(schema["enum"]), ctx, path)
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return _fill_union([_resolve(s, ctx) for s in schema[key]], ctx, path, depth)
    types = _types(schema)
    non_null = [t for t in types if t != "null"]
    if "null" in types and non_null:
        branch = {**schema, "type": non_null[0]}
        return _fill_union([branch, {"type": "null"}], ctx, path, depth)
    kind = non_null[0] if non_null else ("null" if types else "string")
    if depth > 8:
        return _minimal(kind, schema)
    if kind == "object":
        return _fill_object(schema, ctx, path, depth)
    if kind == "array":
        return _fill_array(schema, ctx, path, depth)
    value, _ = _fill_scalar(kind, schema, ctx, path)
    return value


def _fill_union(
    options: list[Mapping[str, Any]], ctx: FillContext, path: list[str], depth: int
) -> Any:
    non_null = [o for o in options if _types(o) != ["null"]]
    has_null = len(non_null) < len(options)
    if not non_null:
        return None
    first = non_null[0]
    kinds = _types(first)
    kind = kinds[0] if kinds else ("enum" if "enum" in first else "string")
    if has_null and "enum" in first and depth <= 8:  # a nullable choice: null without evidence
        return _choose_enum(list(first["enum"]), ctx, path, nullable=True)
    if not has_null or kind in ("object", "array", "enum") or depth > 8:
        return _fill(first, ctx, path, depth + 1)
    if kind == "string" and _string_kind(first, path) == "free":
        return _fill(first, ctx, path, depth + 1)
    value, evidence = _fill_scalar(kind, first, ctx, path)
    return value if evidence else None


def _minimal(kind: str, schema: Mapping[str, Any]) -> Any:
    if kind == "object":
        return {}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return _clamp(0, schema, kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "x" * int(schema.get("minLength", 0))


# --------------------------------------------------------------------------- containers


def _fill_object(
    schema: Mapping[str, Any], ctx: FillContext, path: list[str], depth: int
) -> dict[str, Any]:
    props = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for name, sub in props.items():
        out[name] = _fill(sub, ctx, [*path, name], depth + 1)
    return out


def _fill_array(
    schema: Mapping[str, Any], ctx: FillContext, path: list[str], depth: int
) -> list[Any]:
    items = _resolve(schema.get("items") or {}, ctx)
    min_items = int(schema.get("minItems", 0))
    max_items = int(schema.get("maxItems", 10))
    words = _field_words(path)
    values: list[Any] = []
    item_types = _types(items)
    item_kind = item_types[0] if item_types else "string"
    if words & CITATION_WORDS and item_kind in ("integer", "number", "string"):
        for n in ctx.citations:
            values.append(n if item_kind != "string" else ctx.citation_labels.get(n, str(n)))
    elif words & TAG_WORDS and item_kind == "string" and "enum" not in items:
        values = _tags(ctx)
    elif item_kind == "string" and "enum" not in items:
        skind = _string_kind(items, path)
        many = {
            "email": "email",
            "id": "id",
            "name": "name",
            "place": "place",
            "date": "date",
            "url": "url",
            "phone": "phone",
        }
        if skind in many:
            values = [f.value for f in ctx.extractor.all(many[skind])]
            values = list(dict.fromkeys(values))
        if not values:
            quoted_values = [f.value for f in ctx.extractor.all("quoted")]
            if len(quoted_values) > 1 and skind == "plain":
                values = quoted_values
    # One item by default; but nested arrays of objects stay empty (when allowed) below two
    # levels, so recursive schemas (a tree of nodes) end instead of nesting to the depth limit.
    if not values and (
        min_items > 0
        or (item_kind == "object" and depth < 3)
        or item_kind in ("string", "integer", "number", "boolean")
        or "enum" in items
    ):
        values = [_fill(items, ctx, path, depth + 1)]
    if schema.get("uniqueItems"):
        unique: list[Any] = []
        for v in values:
            if v not in unique:
                unique.append(v)
        values = unique
    while len(values) < min_items:
        values.append(_fill(items, ctx, path, depth + 1) if not values else values[-1])
        if schema.get("uniqueItems") and len(values) > 1 and values[-1] == values[-2]:
            values[-1] = _vary(values[-1], len(values))
    return values[:max_items]


def _tags(ctx: FillContext) -> list[str]:
    """Up to 3 topical words: the longest lower-case content words of the text (ties: earlier),
    skipping words that are property names of the schema (``name``, ``email``...)."""
    fields = _property_names(ctx.root)
    candidates: list[str] = []
    text = extract.mask(ctx.text, [extract.EMAIL_RE, extract.URL_RE, extract.ID_RE])
    for m in lexical.WORD_RE.finditer(text):
        w = m.group(0)
        lower = w.lower()
        if (
            w[0].isupper()
            or not w.isalpha()
            or len(w) <= 3
            or lower in lexical.STOP_WORDS
            or lower in lexical.INSTRUCTION_WORDS
            or lower in fields
            or lower in candidates
        ):
            continue
        candidates.append(lower)
    ranked = sorted(candidates, key=lambda w: (-len(w), candidates.index(w)))[:3]
    return sorted(ranked, key=candidates.index)


def _property_names(schema: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, Mapping):
                for prop in value:
                    names |= set(lexical.identifier_words(str(prop)))
            names |= _property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= _property_names(value)
    return names


def _vary(value: Any, n: int) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + n
    if isinstance(value, str):
        return f"{value} {n}"
    return value


# --------------------------------------------------------------------------- scalars


def _field_words(path: list[str]) -> set[str]:
    return set(lexical.identifier_words(path[-1])) if path else set()


def _last_word(path: list[str]) -> str:
    words = lexical.identifier_words(path[-1]) if path else []
    return words[-1] if words else ""


def _fill_scalar(
    kind: str, schema: Mapping[str, Any], ctx: FillContext, path: list[str]
) -> tuple[Any, bool]:
    """(value, evidence): evidence is True when the value came from the text."""
    if kind == "null":
        return None, True
    if kind in ("integer", "number"):
        return _fill_number(schema, ctx, path, kind == "integer")
    if kind == "boolean":
        return _fill_bool(schema, ctx, path)
    return _fill_string(schema, ctx, path)


def _string_kind(schema: Mapping[str, Any], path: list[str]) -> str:
    fmt = str(schema.get("format", ""))
    by_format = {
        "email": "email",
        "idn-email": "email",
        "uri": "url",
        "url": "url",
        "iri": "url",
        "date": "date",
        "date-time": "datetime",
        "time": "time",
        "uuid": "uuid",
        "ipv4": "ipv4",
        "ipv6": "ipv6",
        "hostname": "hostname",
        "duration": "duration",
    }
    if fmt in by_format:
        return by_format[fmt]
    words = _field_words(path)
    last = _last_word(path)
    if words & {"email", "mail"}:
        return "email"
    if words & {"url", "link", "website", "uri", "homepage"}:
        return "url"
    if words & {"phone", "tel", "telephone", "mobile"}:
        return "phone"
    if words & DATETIME_WORDS and last in DATETIME_WORDS:
        return "datetime"
    if words & DATE_WORDS:
        return "date"
    if last == "time":
        return "time"
    if last in ID_LAST_WORDS or (last == "number" and len(words) > 1):
        return "id"
    if words & EXPRESSION_WORDS:
        return "expression"
    if words & QUERY_WORDS:
        return "query"
    if words & FREE_TEXT_WORDS:
        return "free"
    if words & NAME_WORDS:
        return "name"
    if words & PLACE_WORDS:
        return "place"
    return "plain"


def _fill_string(schema: Mapping[str, Any], ctx: FillContext, path: list[str]) -> tuple[str, bool]:
    skind = _string_kind(schema, path)
    words = lexical.identifier_words(path[-1]) if path else []
    ex = ctx.extractor
    value: str | None = None
    evidence = True
    kv = extract.key_value(ctx.text, words) if words and skind not in ("free", "query") else None
    if kv is not None and skind not in ("date", "datetime", "time", "uuid"):
        value = " ".join(kv.value.split()[:12])
        for k in ("email", "id", "url", "name", "place", "quoted"):
            ex.mark_used(k, value)
    elif skind in ("email", "url", "phone", "id", "date", "time", "expression"):
        value = ex.take(skind, near=words)
    elif skind == "place":
        value = ex.take("place", near=words) or ex.take("name", near=words)
    elif skind == "datetime":
        day = ex.take("date", near=words)
        if day:
            t = ex.take("time") or "00:00:00"
            value = f"{day}T{t}Z"
    elif skind == "name":
        value = ex.take("name", near=words)
        if value and words and words[0] in ("first", "given"):
            value = value.split()[0]
        elif value and words and words[0] in ("last", "family", "surname"):
            value = value.split()[-1]
    elif skind == "query":
        value = extract.search_phrase(ctx.text) or None
    elif skind == "free":
        value = ctx.answer_text()
    elif skind == "uuid":
        value = str(uuid.uuid5(uuid.NAMESPACE_URL, ctx.text + "/" + "/".join(path)))
    else:
        value = ex.take("quoted")
        if value is None:
            evidence = False
            value = first_sentence(ctx.text) or None
    if value is None:
        evidence = False
        if "default" in schema and isinstance(schema["default"], str):
            value = schema["default"]
        else:
            value = _placeholder(skind, path)
    return _fit_string(value, schema, ctx), evidence


def _placeholder(skind: str, path: list[str]) -> str:
    return {
        "email": "unknown@example.com",
        "url": "https://example.com/",
        "phone": "unknown",
        "id": "unknown",
        "date": DEFAULT_DATE,
        "datetime": DEFAULT_DATE + "T00:00:00Z",
        "time": "00:00:00",
        "name": "Unknown",
        "place": "Unknown",
        "ipv4": "127.0.0.1",
        "ipv6": "::1",
        "hostname": "localhost",
        "duration": "P1D",
        "expression": "0",
    }.get(skind, path[-1] if path else "value")


def _fit_string(value: str, schema: Mapping[str, Any], ctx: FillContext) -> str:
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            if not re.search(pattern, value):
                core = pattern.lstrip("^").rstrip("$")
                m = re.search(core, ctx.text)
                if m:
                    value = m.group(0)
        except re.error:
            pass
    max_len = schema.get("maxLength")
    if isinstance(max_len, int) and len(value) > max_len:
        value = value[:max_len]
    min_len = schema.get("minLength")
    if isinstance(min_len, int) and len(value) < min_len:
        value = value + "." * (min_len - len(value))
    return value


_CUES: dict[frozenset[str], re.Pattern[str]] = {
    frozenset({"age"}): re.compile(r"(\d+)\s*(?:years?[\s-]old|year-old|yo\b|years?\b)", re.I),
    frozenset(
        {"price", "amount", "cost", "total", "budget", "salary", "fee", "balance", "paid"}
    ): re.compile(
        r"[$€£]\s*(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s*(?:dollars|usd|eur|euros?|gbp|pounds)\b",
        re.I,
    ),
    frozenset({"year"}): re.compile(r"\b((?:19|20)\d{2})\b"),
    frozenset({"rating", "score", "stars", "star"}): re.compile(
        r"(\d+(?:\.\d+)?)\s*(?:stars?\b|/\s*\d+|out of\b)", re.I
    ),
    frozenset({"percent", "percentage", "pct", "rate"}): re.compile(r"(\d+(?:\.\d+)?)\s*%"),
}


def _fill_number(
    schema: Mapping[str, Any], ctx: FillContext, path: list[str], integer: bool
) -> tuple[float | int, bool]:
    words = lexical.identifier_words(path[-1]) if path else []
    ex = ctx.extractor
    raw: str | None = None
    kv = extract.key_value(ctx.text, words) if words else None
    if kv is not None:
        m = extract.NUMBER_RE.search(kv.value)
        if m:
            raw = m.group(0).replace(",", "")
    if raw is None:
        wordset = set(words)
        for cue_words, pattern in _CUES.items():
            if wordset & cue_words:
                m = pattern.search(ctx.text)
                if m:
                    raw = next(g for g in m.groups() if g is not None).replace(",", "")
                    break
    if raw is not None:
        ex.mark_used("number", raw)
    else:
        raw = ex.take("number", near=words, prefer=(lambda v: "." not in v) if integer else None)
    evidence = raw is not None
    if raw is None:
        default = schema.get("default")
        number: float = (
            float(default)
            if isinstance(default, int | float) and not isinstance(default, bool)
            else 0.0
        )
    else:
        try:
            number = float(raw)
        except ValueError:
            number, evidence = 0.0, False
    return _clamp(number, schema, integer), evidence


def _clamp(number: float, schema: Mapping[str, Any], integer: bool) -> float | int:
    step = 1.0 if integer else 1e-6
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    xlo = schema.get("exclusiveMinimum")
    xhi = schema.get("exclusiveMaximum")
    if isinstance(xlo, int | float) and not isinstance(xlo, bool):
        lo = max(lo, xlo + step) if isinstance(lo, int | float) else xlo + step
    if isinstance(xhi, int | float) and not isinstance(xhi, bool):
        hi = min(hi, xhi - step) if isinstance(hi, int | float) else xhi - step
    if isinstance(lo, int | float) and number < lo:
        number = float(lo)
    if isinstance(hi, int | float) and number > hi:
        number = float(hi)
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int | float) and multiple > 0:
        number = round(number / multiple) * multiple
    if integer:
        as_int = round(number)
        if isinstance(lo, int | float) and as_int < lo:
            as_int += 1
        if isinstance(hi, int | float) and as_int > hi:
            as_int -= 1
        return as_int
    return number


def _fill_bool(schema: Mapping[str, Any], ctx: FillContext, path: list[str]) -> tuple[bool, bool]:
    words = [
        w
        for w in (lexical.identifier_words(path[-1]) if path else [])
        if w not in ("is", "has", "should", "can", "needs")
    ]
    kv = extract.key_value(ctx.text, words)
    if kv is not None:
        head = kv.value.lower().split()[0] if kv.value.split() else ""
        if head in ("yes", "true", "y", "1", "on"):
            return True, True
        if head in ("no", "false", "n", "0", "off", "none"):
            return False, True
    stems = {lexical.stem(w) for w in words if w not in lexical.STOP_WORDS}
    tokens = lexical.words(ctx.text)
    for i, token in enumerate(tokens):
        if lexical.stem(token) in stems:
            negated = any(t in NEGATIONS or t.endswith("n't") for t in tokens[max(0, i - 3) : i])
            return not negated, True
    default = schema.get("default")
    return (bool(default) if isinstance(default, bool) else False), False


def _choose_enum(
    options: list[Any], ctx: FillContext, path: list[str], *, nullable: bool = False
) -> Any:
    """The option the text supports best; with no evidence, null when the field allows it (as a
    real model leaves an optional filter unset), else the first option."""
    text_set = lexical.content_set(ctx.text)
    text_lower = ctx.text.lower()

    def score(option: Any) -> int:
        label = str(option)
        overlap = len(lexical.content_set(label.replace("_", " ")) & text_set)
        exact = 1 if label and re.search(rf"\b{re.escape(label.lower())}\b", text_lower) else 0
        return exact + overlap

    best = max(options, key=score)  # max keeps the first of equal scores
    if score(best) > 0:
        return best
    lowered = {str(o).lower(): o for o in options}
    if {"positive", "negative"} <= set(lowered):
        tokens = set(lexical.words(ctx.text))
        pos, neg = len(tokens & POSITIVE), len(tokens & NEGATIVE)
        if pos > neg:
            return lowered["positive"]
        if neg > pos:
            return lowered["negative"]
        if "neutral" in lowered:
            return lowered["neutral"]
    if nullable or None in options:
        return None
    return options[0]
