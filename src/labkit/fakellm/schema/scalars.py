"""Scalar fields: strings (by format, then by the words of the field name), numbers, booleans
and enums, each filled from the text with a flag saying whether the text gave evidence for it.
The rules are listed in :mod:`labkit.fakellm.schema.fill`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from labkit import lexical
from labkit.fakellm import extract
from labkit.fakellm.schema.context import (
    DATE_WORDS,
    DATETIME_WORDS,
    DEFAULT_DATE,
    EXPRESSION_WORDS,
    FREE_TEXT_WORDS,
    ID_LAST_WORDS,
    NAME_WORDS,
    NEGATIONS,
    NEGATIVE,
    PLACE_WORDS,
    POSITIVE,
    QUERY_WORDS,
    FillContext,
    field_words,
    first_sentence,
    last_word,
)


def fill_scalar(
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


def string_kind(schema: Mapping[str, Any], path: list[str]) -> str:
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
    words = field_words(path)
    last = last_word(path)
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
    skind = string_kind(schema, path)
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
    return clamp(number, schema, integer), evidence


def clamp(number: float, schema: Mapping[str, Any], integer: bool) -> float | int:
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


def choose_enum(
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
