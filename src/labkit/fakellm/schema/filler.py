"""The structured-output behaviour: :class:`SchemaFiller` decides when a request wants
structure and what to fill it from; :mod:`labkit.fakellm.schema.fill` does the filling."""

from __future__ import annotations

import json
from typing import Any

from labkit import lexical
from labkit.fakellm.extractive import ExtractiveAnswerer
from labkit.fakellm.schema.context import first_sentence
from labkit.fakellm.schema.fill import fill_schema
from labkit.fakellm.schema.prompt import infer_schema, json_objects, looks_like_schema, without_json
from labkit.fakellm.types import ChatRequest, Reply, ToolCall


class SchemaFiller:
    """Answer structured-output requests with a value that validates against the schema.

    Applies, in this order, when:

    1. a tool is forced (OpenAI ``tool_choice={"type": "function", ...}``, Anthropic
       ``tool_choice={"type": "tool", "name": ...}``): one call to that tool, arguments filled
       from its parameters schema;
    2. ``response_format`` is ``json_schema`` (OpenAI chat / Responses ``text.format``,
       Anthropic ``output_config.format``): the reply text is the filled schema as JSON;
    3. ``response_format`` is ``json_object``: the largest JSON Schema embedded in the prompt is
       filled; else the last example JSON object in the prompt is mirrored (same keys, values
       from the text); else ``{"answer": <answer>}``.

    Values come from the last user message (JSON embedded in it is ignored) by the rules of
    :mod:`labkit.fakellm.schema.fill`. Free-text fields (``answer``, ``summary``...) get the
    extractive answer when the prompt has sources (and citation fields its [n] numbers), else
    the first sentence of the user message.
    """

    # Not ``blocking = False``: free-text answers come from ExtractiveAnswerer, which runs MiniLM.

    def __init__(self, answerer: ExtractiveAnswerer | None = None) -> None:
        self.answerer = answerer or ExtractiveAnswerer()

    def respond(self, request: ChatRequest) -> Reply | None:
        """A forced tool call or a JSON text reply; None when no structure was requested."""
        if request.forced_tool is not None:
            tool = request.tool(request.forced_tool)
            if tool is None:
                return None
            return Reply(
                tool_calls=(ToolCall(tool.name, json.dumps(self.fill(tool.parameters, request))),)
            )
        if request.response_format == "json_schema" and request.response_schema is not None:
            return Reply(text=json.dumps(self.fill(request.response_schema, request)))
        if request.response_format == "json_object":
            return Reply(text=json.dumps(self.fill(self._prompt_schema(request), request)))
        return None

    def fill(self, schema: dict[str, Any] | Any, request: ChatRequest) -> Any:
        """Fill ``schema`` from the request's last user message (see class doc)."""
        text = without_json(request.last_user_text) or "\n".join(
            without_json(t) for t in request.user_texts
        )
        found = self.answerer.answer(request)

        def answer() -> str:
            if found is not None:
                return found.text
            return lexical.clip(first_sentence(text, max_words=40), 300)

        return fill_schema(
            schema if isinstance(schema, dict) else {},
            text,
            answer=answer,
            citations=list(found.citations) if found else [],
            citation_labels=dict(found.labels) if found else {},
        )

    def _prompt_schema(self, request: ChatRequest) -> dict[str, Any]:
        text = "\n".join([request.system, *(m.text for m in request.messages)])
        objects = [v for _, _, v in json_objects(text)]
        schemas = [v for v in objects if looks_like_schema(v)]
        if schemas:
            return max(schemas, key=lambda s: len(json.dumps(s)))
        examples = [v for v in objects if isinstance(v, dict) and v]
        if examples:
            return infer_schema(examples[-1])
        return {"type": "object", "properties": {"answer": {"type": "string"}}}
