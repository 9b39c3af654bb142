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


# The two errors every parser raises, worded as the OpenAI API words them.

_NO_VALUE = object()


def missing(param: str) -> RequestError:
    """``Missing required parameter: '<param>'.``, naming the field."""
    return RequestError(f"Missing required parameter: '{param}'.", param=param)


def invalid_type(param: str, expected: str, value: Any = _NO_VALUE) -> RequestError:
    """``Invalid type for '<param>': expected <expected>, but got <its JSON type> instead.``;
    without ``value``, the message stops after what was expected."""
    got = "" if value is _NO_VALUE else f", but got {json_type(value)} instead"
    return RequestError(f"Invalid type for '{param}': expected {expected}{got}.", param=param)
