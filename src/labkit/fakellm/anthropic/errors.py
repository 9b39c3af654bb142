"""Anthropic error bodies: ``{"type": "error", "error": {"type": ..., "message": ...}}``, and
the mid-stream ``error`` event."""

from __future__ import annotations

from typing import Any

from labkit.fakellm.transport import sse_event
from labkit.fakellm.types import HttpError

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
DEFAULT_MESSAGES = {
    400: "Invalid request.",
    401: "invalid x-api-key",
    403: "Your API key does not have permission to use the specified resource.",
    404: "The requested resource could not be found.",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of request tokens has exceeded your per-minute rate limit.",
    500: "Internal server error",
    529: "Overloaded",
}


def error_type(status: int) -> str:
    """Anthropic's error ``type`` for an HTTP status."""
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, message: str = "", *, type: str | None = None) -> dict[str, Any]:
    """``{"type": "error", "error": {"type", "message"}}``."""
    return {
        "type": "error",
        "error": {
            "type": type or error_type(status),
            "message": message or DEFAULT_MESSAGES.get(status, f"Error {status}"),
        },
    }


def http_error_body(error: HttpError) -> Any:
    """The body for a scripted HTTP error (its own ``body`` when given)."""
    if error.body is not None:
        return error.body
    message = error.message
    if error.param and message and not message.startswith(error.param):
        message = f"{error.param}: {message}"
    return error_body(error.status, message, type=error.type)


def stream_error_frame(message: str, type: str | None) -> bytes:
    """``event: error`` (the SDK raises the matching APIStatusError subclass, without retry)."""
    return sse_event(
        "error",
        {"type": "error", "error": {"type": type or "overloaded_error", "message": message}},
    )
