"""The Anthropic wire protocol: Messages (plain and named-event streaming), count_tokens, models.

Anthropic names bad fields with dots (``messages.1.content.0.tool_use_id``) and answers errors
as ``{"type": "error", "error": {"type": ..., "message": ...}}``; this module reproduces both,
including the pairing rules between ``tool_use`` and ``tool_result`` blocks that trip up agent
code written by learners.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from labkit.fakellm.completion import Completion
from labkit.fakellm.transport import FrameKind, sse_event
from labkit.fakellm.types import (
    ChatRequest,
    HttpError,
    Message,
    RequestError,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from labkit.fakellm.validate import is_int, is_number, require_object

TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
MODEL_CREATED_AT = "2025-01-01T00:00:00Z"

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
FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
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


def check_headers(headers: dict[str, str]) -> None:
    """Auth (``x-api-key`` or ``Authorization: Bearer``) and the ``anthropic-version`` header."""
    if not headers.get("x-api-key") and not headers.get("authorization", "").lower().startswith(
        "bearer "
    ):
        raise RequestError("x-api-key header is required", status=401, kind="authentication_error")
    if not headers.get("anthropic-version"):
        raise RequestError("anthropic-version: header is required")


# --------------------------------------------------------------------------- parsing


def _text_blocks(value: Any, where: str) -> str:
    """Text of a string or of a list of text blocks (system, tool_result content)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for j, block in enumerate(value):
            if not isinstance(block, dict) or "type" not in block:
                raise RequestError(
                    f"{where}.{j}: Input should be a valid dictionary or object",
                    param=f"{where}.{j}",
                )
            if block["type"] == "text":
                if not isinstance(block.get("text"), str):
                    raise RequestError(
                        f"{where}.{j}.text: Field required", param=f"{where}.{j}.text"
                    )
                texts.append(block["text"])
        return "\n".join(texts)
    raise RequestError(f"{where}: Input should be a valid string", param=where)


def parse_messages(
    body: Any, headers: dict[str, str], *, require_max_tokens: bool = True
) -> ChatRequest:
    """Validate and normalise a Messages (or count_tokens) request body."""
    body = require_object(body, "Request body must be a JSON object")
    model = body.get("model")
    if model is None:
        raise RequestError("model: Field required", param="model")
    if not isinstance(model, str):
        raise RequestError("model: Input should be a valid string", param="model")
    req = ChatRequest(api="anthropic", endpoint="messages", model=model, raw=body, headers=headers)
    if require_max_tokens:
        if "max_tokens" not in body:
            raise RequestError("max_tokens: Field required", param="max_tokens")
        max_tokens = body["max_tokens"]
        if not is_int(max_tokens):
            raise RequestError("max_tokens: Input should be a valid integer", param="max_tokens")
        if max_tokens < 1:
            raise RequestError(
                "max_tokens: Input should be greater than or equal to 1", param="max_tokens"
            )
        req.max_tokens = max_tokens
    if "messages" not in body:
        raise RequestError("messages: Field required", param="messages")
    raw_messages = body["messages"]
    if not isinstance(raw_messages, list):
        raise RequestError("messages: Input should be a valid list", param="messages")
    if not raw_messages:
        raise RequestError("messages: at least one message is required", param="messages")
    req.messages = _messages(raw_messages)
    if "system" in body and body["system"] is not None:
        req.system = _text_blocks(body["system"], "system")
    req.tools = _tools(body.get("tools"))
    _tool_choice(body.get("tool_choice"), req)
    _output_config(body.get("output_config"), req)
    for name, high in (("temperature", 1.0), ("top_p", 1.0)):
        value = body.get(name)
        if value is not None:
            if not is_number(value) or not 0 <= value <= high:
                raise RequestError(
                    f"{name}: Input should be less than or equal to {high:g}", param=name
                )
            setattr(req, name, float(value))
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise RequestError(
                "stop_sequences: Input should be a valid list of strings", param="stop_sequences"
            )
        req.stop = list(stops)
    stream = body.get("stream")
    if stream is not None:
        if not isinstance(stream, bool):
            raise RequestError("stream: Input should be a valid boolean", param="stream")
        req.stream = stream
    return req


def _messages(raw_messages: list[Any]) -> list[Message]:
    messages: list[Message] = []
    names: dict[str, str] = {}
    pending_uses: list[str] = []  # tool_use ids of the previous assistant message
    for i, m in enumerate(raw_messages):
        where = f"messages.{i}"
        if not isinstance(m, dict):
            raise RequestError(
                f"{where}: Input should be a valid dictionary or object", param=where
            )
        role = m.get("role")
        if role == "system":
            raise RequestError(
                'messages: Unexpected role "system". The Messages API accepts a top-level `system` '
                'parameter, not "system" as an input message role.',
                param=f"{where}.role",
            )
        if role not in ("user", "assistant"):
            raise RequestError(
                f"{where}.role: Input should be 'user' or 'assistant'", param=f"{where}.role"
            )
        if "content" not in m:
            raise RequestError(f"{where}.content: Field required", param=f"{where}.content")
        content = m["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list):
            raise RequestError(
                f"{where}.content: Input should be a valid list", param=f"{where}.content"
            )
        texts: list[str] = []
        calls: list[ToolCall] = []
        results: list[ToolResult] = []
        for j, block in enumerate(blocks):
            at = f"{where}.content.{j}"
            if not isinstance(block, dict):
                raise RequestError(f"{at}: Input should be a valid dictionary or object", param=at)
            kind = block.get("type")
            if kind == "text":
                if not isinstance(block.get("text"), str):
                    raise RequestError(f"{at}.text: Field required", param=f"{at}.text")
                texts.append(block["text"])
            elif kind == "tool_use":
                if role != "assistant":
                    raise RequestError(
                        f"{at}: tool_use blocks may only appear in assistant messages", param=at
                    )
                for field in ("id", "name"):
                    if not isinstance(block.get(field), str):
                        raise RequestError(f"{at}.{field}: Field required", param=f"{at}.{field}")
                if not isinstance(block.get("input"), dict):
                    raise RequestError(
                        f"{at}.input: Input should be a valid dictionary", param=f"{at}.input"
                    )
                calls.append(ToolCall(block["name"], json.dumps(block["input"]), block["id"]))
                names[block["id"]] = block["name"]
            elif kind == "tool_result":
                if role != "user":
                    raise RequestError(
                        f"{at}: tool_result blocks may only appear in user messages", param=at
                    )
                use_id = block.get("tool_use_id")
                if not isinstance(use_id, str):
                    raise RequestError(
                        f"{at}.tool_use_id: Field required", param=f"{at}.tool_use_id"
                    )
                if use_id not in pending_uses:
                    raise RequestError(
                        f"{at}: unexpected `tool_use_id` found in `tool_result` blocks: {use_id}. Each "
                        "`tool_result` block must have a corresponding `tool_use` block in the previous message.",
                        param=f"{at}.tool_use_id",
                    )
                raw_content = block.get("content", "")
                text = _text_blocks(raw_content, f"{at}.content") if raw_content is not None else ""
                results.append(
                    ToolResult(use_id, text, bool(block.get("is_error")), names.get(use_id))
                )
            elif kind in (
                "image",
                "document",
                "thinking",
                "redacted_thinking",
                "search_result",
                "container_upload",
            ):
                if (
                    kind == "document"
                    and isinstance(block.get("source"), dict)
                    and block["source"].get("type") == "text"
                ):
                    texts.append(str(block["source"].get("data", "")))
                continue
            else:
                raise RequestError(
                    f"{at}: Input tag '{kind}' found using 'type' does not match any of the expected tags",
                    param=f"{at}.type",
                )
        if pending_uses:
            answered = {r.call_id for r in results}
            missing = [u for u in pending_uses if u not in answered]
            if missing:
                raise RequestError(
                    f"{where}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` "
                    "block in the next message.",
                    param=where,
                )
        pending_uses = [c.id for c in calls if c.id]
        if results:
            messages.append(Message("tool", tool_results=tuple(results)))
        text = "\n".join(texts)
        if role == "assistant":
            messages.append(Message("assistant", text, tool_calls=tuple(calls)))
        elif text or not results:
            messages.append(Message("user", text))
    if pending_uses:
        raise RequestError(
            f"messages.{len(raw_messages) - 1}: `tool_use` ids were found without `tool_result` blocks "
            f"immediately after: {', '.join(pending_uses)}. Each `tool_use` block must have a "
            "corresponding `tool_result` block in the next message.",
            param=f"messages.{len(raw_messages) - 1}",
        )
    return messages


def _tools(raw: Any) -> list[ToolSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RequestError("tools: Input should be a valid list", param="tools")
    tools = []
    for i, t in enumerate(raw):
        at = f"tools.{i}"
        if not isinstance(t, dict):
            raise RequestError(f"{at}: Input should be a valid dictionary or object", param=at)
        if t.get("type") not in (None, "custom"):
            continue  # server tools (web_search, bash...) are accepted and never called by the fake
        name = t.get("name")
        if not isinstance(name, str):
            raise RequestError(f"{at}.name: Field required", param=f"{at}.name")
        if not TOOL_NAME_RE.match(name):
            raise RequestError(
                f"{at}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'",
                param=f"{at}.name",
            )
        if "input_schema" not in t:
            raise RequestError(f"{at}.input_schema: Field required", param=f"{at}.input_schema")
        if not isinstance(t["input_schema"], dict):
            raise RequestError(
                f"{at}.input_schema: Input should be a valid dictionary", param=f"{at}.input_schema"
            )
        tools.append(
            ToolSpec(
                name, str(t.get("description") or ""), t["input_schema"], bool(t.get("strict"))
            )
        )
    return tools


def _tool_choice(raw: Any, req: ChatRequest) -> None:
    if raw is None:
        return
    if not isinstance(raw, dict) or raw.get("type") not in ("auto", "any", "tool", "none"):
        raise RequestError(
            "tool_choice: Input tag found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'",
            param="tool_choice",
        )
    kind = raw["type"]
    req.parallel_tool_calls = not raw.get("disable_parallel_tool_use", False)
    if kind == "auto":
        req.tool_choice = "auto"
    elif kind == "none":
        req.tool_choice = "none"
    elif kind == "any":
        req.tool_choice = "required"
    else:
        name = raw.get("name")
        if not isinstance(name, str):
            raise RequestError("tool_choice.tool.name: Field required", param="tool_choice.name")
        if req.tool(name) is None:
            raise RequestError(
                f"tool_choice: tool '{name}' was not found in tools", param="tool_choice.name"
            )
        req.tool_choice = "required"
        req.forced_tool = name


def _output_config(raw: Any, req: ChatRequest) -> None:
    if not isinstance(raw, dict):
        return
    fmt = raw.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise RequestError(
                "output_config.format.schema: Field required", param="output_config.format.schema"
            )
        req.response_format = "json_schema"
        req.response_schema = fmt["schema"]


# --------------------------------------------------------------------------- rendering


def _input_object(call: ToolCall) -> dict[str, Any]:
    """A tool_use ``input`` must be an object: arguments that do not decode to one are sent as
    ``{"raw_arguments": "<the text>"}`` (only streaming can carry truly invalid JSON)."""
    parsed = call.parsed_arguments()
    return parsed if isinstance(parsed, dict) else {"raw_arguments": call.arguments}


def _stop_reason(comp: Completion) -> str:
    if comp.stop_sequence is not None:
        return "stop_sequence"
    return FINISH_TO_STOP[comp.finish]


def _usage(input_tokens: int, output_tokens: int, cached: int = 0) -> dict[str, Any]:
    # Anthropic's input_tokens excludes what was read from the prompt cache.
    return {
        "input_tokens": input_tokens - cached,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "service_tier": "standard",
    }


def message_body(req: ChatRequest, comp: Completion, message_id: str) -> dict[str, Any]:
    """A ``message`` object."""
    text = comp.full_text()
    content: list[dict[str, Any]] = []
    if text or not comp.tool_calls:
        content.append({"type": "text", "text": text or ""})
    for c in comp.tool_calls:
        content.append({"type": "tool_use", "id": c.id, "name": c.name, "input": _input_object(c)})
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": req.model,
        "content": content,
        "stop_reason": _stop_reason(comp),
        "stop_sequence": comp.stop_sequence,
        "usage": _usage(comp.prompt_tokens, comp.completion_tokens(), comp.cached_tokens),
    }


async def message_frames(
    req: ChatRequest, comp: Completion, message_id: str
) -> AsyncIterator[tuple[FrameKind, bytes]]:
    """Named SSE events: message_start, per block content_block_start → deltas → stop (a ping
    after the first block starts, as the real API sends), message_delta, message_stop."""
    start: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": req.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(comp.prompt_tokens, 1, comp.cached_tokens),
    }
    yield "head", sse_event("message_start", {"type": "message_start", "message": start})
    index = 0
    has_text = comp.lazy is not None or bool(comp.text) or not comp.tool_calls
    if has_text:
        yield (
            "head",
            sse_event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
        )
        yield "head", sse_event("ping", {"type": "ping"})
        async for piece in comp.atext_pieces():
            yield (
                "content",
                sse_event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                ),
            )
        yield "tail", sse_event("content_block_stop", {"type": "content_block_stop", "index": 0})
        index = 1
    for offset, c in enumerate(comp.tool_calls):
        i = index + offset
        block: dict[str, Any] = {"type": "tool_use", "id": c.id, "name": c.name, "input": {}}
        yield (
            "content",
            sse_event(
                "content_block_start",
                {"type": "content_block_start", "index": i, "content_block": block},
            ),
        )
        for piece in comp.argument_pieces(c):
            yield (
                "content",
                sse_event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                ),
            )
        yield "content", sse_event("content_block_stop", {"type": "content_block_stop", "index": i})
    delta = {"stop_reason": _stop_reason(comp), "stop_sequence": comp.stop_sequence}
    yield (
        "tail",
        sse_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": delta,
                "usage": {"output_tokens": comp.completion_tokens()},
            },
        ),
    )
    yield "tail", sse_event("message_stop", {"type": "message_stop"})


def model_info(model_id: str) -> dict[str, Any]:
    """One Anthropic ``model`` object."""
    return {
        "type": "model",
        "id": model_id,
        "display_name": f"{model_id} (labkit fake)",
        "created_at": MODEL_CREATED_AT,
        "lifecycle": "active",
    }


def models_body(model_ids: list[str]) -> dict[str, Any]:
    """``GET /v1/models`` for the Anthropic SDK: one page, ``has_more: false`` so pagination ends."""
    data = [model_info(m) for m in model_ids]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
