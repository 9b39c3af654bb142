"""Small checks shared by the protocol parsers: each raises RequestError naming the field.

Both providers name the offending field in a 400, in their own notation; the parsers pass the
notation in (``messages[0].role`` for OpenAI, ``messages.0.role`` for Anthropic).
"""

from __future__ import annotations

from typing import Any

from labkit.fakellm.types import RequestError


def json_type(value: Any) -> str:
    """The JSON type name of a value, with its article (for error messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def is_int(value: Any) -> bool:
    """A JSON integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A JSON number (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def require_object(body: Any, message: str) -> dict[str, Any]:
    """The request body as a JSON object, or a 400."""
    if not isinstance(body, dict):
        raise RequestError(message)
    return body
