"""RAGAS's judge prompts, recognised by their output schema and answered with real judgements
(the table in :mod:`labkit.fakellm.judge`)."""

from __future__ import annotations

import json
from typing import Any

from labkit.fakellm.judge.text import is_refusal, statements_of, supported, useful
from labkit.fakellm.schema.prompt import json_objects
from labkit.fakellm.types import ChatRequest, Reply


def _schema_shape(schema: dict[str, Any]) -> str | None:
    """Which RAGAS prompt an output schema belongs to (by its properties), or None."""
    props = schema.get("properties") or {}
    defs = schema.get("$defs") or schema.get("definitions") or {}

    def item_props(prop: dict[str, Any]) -> set[str]:
        items = prop.get("items") or {}
        ref = items.get("$ref", "")
        if ref:
            items = defs.get(ref.rsplit("/", 1)[-1], {})
        return set((items.get("properties") or {}).keys())

    keys = set(props)
    if keys == {"statements"}:
        inner = item_props(props["statements"])
        if not inner and (props["statements"].get("items") or {}).get("type") == "string":
            return "statements"
        if {"statement", "verdict"} <= inner:
            return "nli"
    if keys == {"classifications"} and {"statement", "attributed"} <= item_props(
        props["classifications"]
    ):
        return "recall"
    if keys == {"reason", "verdict"}:
        return "precision"
    if keys == {"question", "noncommittal"}:
        return "relevance"
    return None


_INPUT_KEYS = {
    "statements": {"answer"},
    "nli": {"context", "statements"},
    "precision": {"context", "answer"},
    "recall": {"context", "answer"},
    "relevance": {"response"},
}


class RagasJudge:
    """Answer RAGAS's judge prompts with real judgements (rules in the module docstring)."""

    # Not ``blocking = False``: paraphrases are checked with MiniLM.

    def shape(self, request: ChatRequest) -> tuple[str, dict[str, Any]] | None:
        """(prompt kind, its input object), or None when this is not a RAGAS prompt."""
        schemas: list[dict[str, Any]] = []
        if isinstance(request.response_schema, dict):
            schemas.append(request.response_schema)
        for text in [request.system, *(m.text for m in request.messages)]:
            if "properties" in text:
                schemas.extend(v for _, _, v in json_objects(text) if isinstance(v, dict))
        kind = next((k for k in map(_schema_shape, schemas) if k), None)
        if kind is None:
            return None
        needed = _INPUT_KEYS[kind]
        for text in reversed([m.text for m in request.messages if m.role == "user"]):
            objects = [v for _, _, v in json_objects(text) if isinstance(v, dict)]
            for value in reversed(objects):
                if needed <= set(value):
                    return kind, value
        return None

    def respond(self, request: ChatRequest) -> Reply | None:
        """The judgement as JSON text; None when the request is not a RAGAS prompt."""
        found = self.shape(request)
        if found is None:
            return None
        kind, data = found
        return Reply(text=json.dumps(self.judge(kind, data)))

    def judge(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """The output object for one prompt kind and its input."""
        if kind == "statements":
            return {"statements": statements_of(str(data.get("answer", "")))}
        context = str(data.get("context", ""))
        if kind == "nli":
            out = []
            for statement in data.get("statements") or []:
                s = supported(str(statement), context)
                out.append(
                    {"statement": str(statement), "reason": s.reason, "verdict": int(s.verdict)}
                )
            return {"statements": out}
        if kind == "precision":
            s = useful(str(data.get("answer", "")), context)
            return {"reason": s.reason, "verdict": int(s.verdict)}
        if kind == "recall":
            reference = str(data.get("answer", ""))
            out = []
            for statement in statements_of(reference) or [reference]:
                s = supported(statement, context)
                out.append(
                    {"statement": statement, "reason": s.reason, "attributed": int(s.verdict)}
                )
            return {"classifications": out}
        response = str(data.get("response", ""))
        statements = statements_of(response) or [response]
        question = statements[0].rstrip(".!?") + "?"
        return {"question": question, "noncommittal": int(is_refusal(response))}
