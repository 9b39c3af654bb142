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

from collections.abc import Callable, Mapping
from typing import Any

from labkit import lexical
from labkit.fakellm import extract
from labkit.fakellm.schema.context import CITATION_WORDS, TAG_WORDS, FillContext, field_words
from labkit.fakellm.schema.scalars import choose_enum, clamp, fill_scalar, string_kind


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
        return choose_enum(list(schema["enum"]), ctx, path)
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
    value, _ = fill_scalar(kind, schema, ctx, path)
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
        return choose_enum(list(first["enum"]), ctx, path, nullable=True)
    if not has_null or kind in ("object", "array", "enum") or depth > 8:
        return _fill(first, ctx, path, depth + 1)
    if kind == "string" and string_kind(first, path) == "free":
        return _fill(first, ctx, path, depth + 1)
    value, evidence = fill_scalar(kind, first, ctx, path)
    return value if evidence else None


def _minimal(kind: str, schema: Mapping[str, Any]) -> Any:
    if kind == "object":
        return {}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return clamp(0, schema, kind == "integer")
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
    words = field_words(path)
    values: list[Any] = []
    item_types = _types(items)
    item_kind = item_types[0] if item_types else "string"
    if words & CITATION_WORDS and item_kind in ("integer", "number", "string"):
        for n in ctx.citations:
            values.append(n if item_kind != "string" else ctx.citation_labels.get(n, str(n)))
    elif words & TAG_WORDS and item_kind == "string" and "enum" not in items:
        values = _tags(ctx)
    elif item_kind == "string" and "enum" not in items:
        skind = string_kind(items, path)
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
