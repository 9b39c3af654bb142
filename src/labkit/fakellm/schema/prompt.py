"""JSON in a prompt: the objects embedded in a text, which of them look like JSON Schemas, the
schema an example value implies, and the text without them."""

from __future__ import annotations

import json
from typing import Any

_JSON_DECODER = json.JSONDecoder()


def json_objects(text: str, limit: int = 200) -> list[tuple[int, int, Any]]:
    """Top-level JSON objects embedded in ``text`` as (start, end, value)."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    tries = 0
    while tries < limit:
        start = text.find("{", pos)
        if start < 0:
            break
        tries += 1
        try:
            value, end = _JSON_DECODER.raw_decode(text, start)
        except ValueError:
            pos = start + 1
            continue
        out.append((start, end, value))
        pos = end
    return out


def looks_like_schema(value: Any) -> bool:
    return isinstance(value, dict) and (
        "properties" in value
        or value.get("type") == "object"
        or "$defs" in value
        or "$schema" in value
    )


def infer_schema(example: Any) -> dict[str, Any]:
    """A JSON Schema describing an example value (used when a prompt shows an example output)."""
    if isinstance(example, dict):
        return {"type": "object", "properties": {k: infer_schema(v) for k, v in example.items()}}
    if isinstance(example, list):
        return {
            "type": "array",
            "items": infer_schema(example[0]) if example else {"type": "string"},
        }
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, int):
        return {"type": "integer"}
    if isinstance(example, float):
        return {"type": "number"}
    return {"type": "string"}


def without_json(text: str) -> str:
    """``text`` with embedded JSON objects removed (schemas and examples are not user data)."""
    spans = json_objects(text)
    if not spans:
        return text
    out, pos = [], 0
    for start, end, _ in spans:
        out.append(text[pos:start])
        pos = end
    out.append(text[pos:])
    return "".join(out)
