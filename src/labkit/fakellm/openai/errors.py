"""OpenAI error bodies: ``{"error": {"message", "type", "param", "code"}}`` and the mid-stream
error frames of Chat Completions and Responses streams."""

from __future__ import annotations

from typing import Any

from labkit.fakellm.transport import sse_data, sse_event
from labkit.fakellm.types import HttpError

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
DEFAULT_MESSAGES = {
    400: "Invalid request.",
    401: "Incorrect API key provided.",
    403: "You are not allowed to access this resource.",
    404: "The requested resource does not exist.",
    408: "Request timed out.",
    409: "The request conflicts with the current state of the resource.",
    422: "Unprocessable entity.",
    429: "Rate limit reached. Please try again shortly.",
    500: "The server had an error while processing your request.",
    503: "The engine is currently overloaded, please try again later.",
}


# --------------------------------------------------------------------------- errors


def error_body(
    status: int,
    message: str = "",
    *,
    type: str | None = None,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}`` with defaults for the status."""
    default_type = ERROR_TYPES.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )
    if code is None and status == 429:
        code = "rate_limit_exceeded"
    return {
        "error": {
            "message": message or DEFAULT_MESSAGES.get(status, f"Error {status}"),
            "type": type or default_type,
            "param": param,
            "code": code,
        }
    }


def http_error_body(error: HttpError) -> Any:
    """The body for a scripted HTTP error (its own ``body`` when given)."""
    if error.body is not None:
        return error.body
    return error_body(
        error.status, error.message, type=error.type, param=error.param, code=error.code
    )


def stream_error_frame(message: str, type: str | None) -> bytes:
    """The mid-stream error chunk (``data: {"error": ...}``): the SDK raises APIError on it."""
    return sse_data(
        {"error": {"message": message, "type": type or "server_error", "param": None, "code": None}}
    )


def response_error_frame(message: str, type: str | None) -> bytes:
    """A mid-stream error for the Responses API: an ``error`` event whose data also carries an
    ``error`` object, so the SDK raises APIError as it does for chat streams."""
    code = type or "server_error"
    return sse_event(
        "error",
        {
            "type": "error",
            "code": code,
            "message": message,
            "param": None,
            "sequence_number": 0,
            "error": {"type": code, "code": code, "message": message},
        },
    )
