"""Request parsing shared by the OpenAI endpoints: message content, sampling parameters, the model
and JSON-schema parameters. Each check raises RequestError naming the field as the API does."""

from __future__ import annotations

import re
from typing import Any

from labkit.fakellm.types import ChatRequest, RequestError
from labkit.fakellm.validate import invalid_type, is_int, is_number, missing

TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def content_text(content: Any, param: str, *, allow_null: bool) -> str:
    """A message's text: a string, or the text parts of a content array joined by newlines
    (images, audio and files are accepted and skipped)."""
    if content is None:
        if allow_null:
            return ""
        raise missing(param)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for j, part in enumerate(content):
            where = f"{param}[{j}]"
            if not isinstance(part, dict):
                raise invalid_type(where, "an object", part)
            kind = part.get("type")
            if kind in ("text", "input_text", "output_text", "refusal"):
                value = part.get("refusal") if kind == "refusal" else part.get("text")
                if not isinstance(value, str):
                    field = "refusal" if kind == "refusal" else "text"
                    raise missing(f"{where}.{field}")
                texts.append(value)
            elif kind in ("image_url", "input_audio", "file", "input_image", "input_file", "audio"):
                continue
            else:
                raise RequestError(
                    f"Invalid value: '{kind}'. Supported values are: 'text', 'image_url', "
                    "'input_audio', 'refusal', 'audio', and 'file'.",
                    param=f"{where}.type",
                )
        return "\n".join(texts)
    raise invalid_type(param, "one of a string or array of objects", content)


def common_params(body: dict[str, Any], req: ChatRequest, token_fields: tuple[str, ...]) -> None:
    """The token limit (under the endpoint's names), temperature, top_p, stream and
    parallel_tool_calls, checked and set on ``req``."""
    for name in token_fields:
        if name in body and body[name] is not None:
            value = body[name]
            if not is_int(value) or value < 1:
                raise RequestError(
                    f"Invalid '{name}': expected an integer greater than or equal to 1, but got {value!r}.",
                    param=name,
                )
            req.max_tokens = value
    for name, low, high in (("temperature", 0, 2), ("top_p", 0, 1)):
        if name in body and body[name] is not None:
            value = body[name]
            if not is_number(value) or not low <= value <= high:
                raise RequestError(
                    f"Invalid '{name}': expected a number between {low} and {high}, but got {value!r}.",
                    param=name,
                )
            setattr(req, name, float(value))
    if "stream" in body and body["stream"] is not None:
        if not isinstance(body["stream"], bool):
            raise invalid_type("stream", "a boolean", body["stream"])
        req.stream = body["stream"]
    if "parallel_tool_calls" in body and body["parallel_tool_calls"] is not None:
        req.parallel_tool_calls = bool(body["parallel_tool_calls"])


def require_model(body: dict[str, Any]) -> str:
    """The ``model`` parameter: a non-empty string."""
    model = body.get("model")
    if model is None:
        raise RequestError("you must provide a model parameter", param="model")
    if not isinstance(model, str) or not model:
        raise invalid_type("model", "a string", model)
    return model


def schema_param(schema: Any, param: str) -> dict[str, Any]:
    """A JSON-schema parameter: an object."""
    if not isinstance(schema, dict):
        raise invalid_type(param, "an object", schema)
    return schema
