"""Builders for scripted replies: ``fake.script(reply.text("hi"), reply.rate_limited())``.

Each builder returns a :class:`~labkit.fakellm.types.Reply`; the fluent modifiers on Reply
(``.streamed()``, ``.slow()``, ``.dropping()``, ``.failing()``, ``.only_for()``) compose with them::

    from labkit.fakellm import reply

    fake.script(
        reply.rate_limited(retry_after_ms=5),                   # 429, the SDK retries after 5 ms
        reply.text("Hello there").streamed(chunk_size=3, delay=0.005),
        reply.tool_calls(reply.call("get_weather", {"city": "Paris"}),
                         reply.call("get_weather", '{"city": "Lon')),   # invalid JSON on purpose
        reply.truncated("This answer is cut"),                  # finish_reason "length"
        reply.dropped("partial answer", after=2),               # connection closed mid-stream
    )
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from labkit.fakellm.types import HttpError, Reply, StreamError, ToolCall

__all__ = [
    "call",
    "dropped",
    "error",
    "lazy",
    "overloaded",
    "rate_limited",
    "server_error",
    "slow",
    "stream_error",
    "text",
    "tool_call",
    "tool_calls",
    "truncated",
]


def text(content: str) -> Reply:
    """A plain text answer (finish reason ``stop``)."""
    return Reply(text=content)


def call(
    name: str, arguments: str | Mapping[str, Any] = "{}", *, id: str | None = None
) -> ToolCall:
    """One tool call. A string ``arguments`` is sent verbatim (it may be invalid JSON, or name a
    tool that was never offered); a mapping is JSON-encoded.

    OpenAI carries the arguments as a string, so invalid JSON reaches the client as it is; so
    do Anthropic streams (``input_json_delta`` pieces). A non-streaming Anthropic ``tool_use``
    must hold an object: arguments that do not decode to one arrive as
    ``{"raw_arguments": "<the text>"}``.
    """
    raw = arguments if isinstance(arguments, str) else json.dumps(dict(arguments))
    return ToolCall(name=name, arguments=raw, id=id)


def tool_call(
    name: str,
    arguments: str | Mapping[str, Any] = "{}",
    *,
    id: str | None = None,
    text: str | None = None,
) -> Reply:
    """A reply making one tool call (finish reason ``tool_calls``), optionally with some text."""
    return Reply(text=text, tool_calls=(call(name, arguments, id=id),))


def tool_calls(*calls: ToolCall, text: str | None = None) -> Reply:
    """A reply making several tool calls at once (parallel tool calls), in this order."""
    if not calls:
        raise ValueError("tool_calls() needs at least one call(...)")
    return Reply(text=text, tool_calls=tuple(calls))


def truncated(content: str) -> Reply:
    """Text cut off by the token limit: finish_reason ``length`` / stop_reason ``max_tokens``
    (``chat.completions.parse`` then raises LengthFinishReasonError)."""
    return Reply(text=content, finish_reason="length")


def error(
    status: int,
    message: str | None = None,
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    retry_after_ms: float | None = None,
    retry_after: float | str | None = None,
    should_retry: bool | None = None,
) -> Reply:
    """An HTTP error in the provider's own shape.

    ``retry_after_ms`` / ``retry_after`` / ``should_retry`` set the headers the SDKs' retry logic
    reads (``retry-after-ms``, ``retry-after``, ``x-should-retry``). Keep delays small in tests:
    the SDK really sleeps that long.
    """
    all_headers = dict(headers or {})
    if retry_after_ms is not None:
        all_headers["retry-after-ms"] = f"{retry_after_ms:g}"
    if retry_after is not None:
        all_headers["retry-after"] = (
            retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        )
    if should_retry is not None:
        all_headers["x-should-retry"] = "true" if should_retry else "false"
    return Reply(
        error=HttpError(
            status=status,
            message=message or "",
            type=type,
            code=code,
            param=param,
            headers=all_headers,
            body=body,
        )
    )


def rate_limited(retry_after_ms: float = 10, message: str | None = None) -> Reply:
    """429 with ``retry-after-ms`` (the SDKs retry it; the default 10 ms keeps tests fast)."""
    return error(
        429,
        message or "Rate limit reached. Please try again shortly.",
        retry_after_ms=retry_after_ms,
    )


def overloaded(retry_after_ms: float = 10) -> Reply:
    """529 ``overloaded_error`` (Anthropic's OverloadedError; openai sees an InternalServerError)."""
    return error(529, "Overloaded", retry_after_ms=retry_after_ms)


def server_error(status: int = 500, retry_after_ms: float = 10) -> Reply:
    """A 5xx the SDKs retry (``retry-after-ms`` keeps the retry fast)."""
    return error(
        status,
        "The server had an error while processing your request.",
        retry_after_ms=retry_after_ms,
    )


def stream_error(
    content: str = "",
    *,
    after: int = 1,
    message: str | None = None,
    type: str | None = None,
) -> Reply:
    """A stream that sends ``after`` chunks of ``content`` and then an error event."""
    return Reply(
        text=content,
        stream_error=StreamError(message=message or StreamError.message, type=type, after=after),
    )


def dropped(content: str = "", *, after: int = 1) -> Reply:
    """The connection closes after ``after`` chunks (non-streaming: half-way through the body).

    The SDKs see a connection error (openai/anthropic ``APIConnectionError`` when not streaming;
    the underlying ``httpx`` RemoteProtocolError while iterating a stream) and RETRY non-streaming
    requests: script it ``times=3`` or build the client with ``max_retries=0``.
    """
    return Reply(text=content, drop_after=after)


def slow(seconds: float, content: str = "") -> Reply:
    """A text reply whose headers come only after ``seconds`` (to trip a client timeout)."""
    return Reply(text=content, delay=seconds)


def lazy(pieces: Iterable[str]) -> Reply:
    """A reply whose text is produced lazily, piece by piece (e.g. a real model's tokens).

    Each piece becomes one stream chunk; a non-streaming request joins them.
    """
    return Reply(text_stream=pieces)
