"""The OpenAI wire protocol: Chat Completions, Responses, embeddings, models, errors.

Parsers turn a JSON body into a :class:`ChatRequest` (or raise RequestError naming the field the
way the real API does: ``messages[2].tool_call_id``); renderers turn a settled
:class:`Completion` into a ``chat.completion`` / ``response`` body or into SSE frames. Shapes were
checked against the openai SDK's own pydantic types (see tests/fakellm).
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.fakellm.completion import Completion
from labkit.fakellm.state import CREATED
from labkit.fakellm.transport import FrameKind, sse_data, sse_event
from labkit.fakellm.types import (
    ChatRequest,
    HttpError,
    Message,
    RequestError,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from labkit.fakellm.validate import is_int, is_number, json_type, require_object

FINGERPRINT = "fp_labkit"
TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ROLES = ("system", "developer", "user", "assistant", "tool", "function")

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


# --------------------------------------------------------------------------- parsing helpers


def _content_text(content: Any, param: str, *, allow_null: bool) -> str:
    if content is None:
        if allow_null:
            return ""
        raise RequestError(f"Missing required parameter: '{param}'.", param=param)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for j, part in enumerate(content):
            where = f"{param}[{j}]"
            if not isinstance(part, dict):
                raise RequestError(
                    f"Invalid type for '{where}': expected an object, but got {json_type(part)} instead.",
                    param=where,
                )
            kind = part.get("type")
            if kind in ("text", "input_text", "output_text", "refusal"):
                value = part.get("refusal") if kind == "refusal" else part.get("text")
                if not isinstance(value, str):
                    field = "refusal" if kind == "refusal" else "text"
                    raise RequestError(
                        f"Missing required parameter: '{where}.{field}'.", param=f"{where}.{field}"
                    )
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
    raise RequestError(
        f"Invalid type for '{param}': expected one of a string or array of objects, but got "
        f"{json_type(content)} instead.",
        param=param,
    )


def _common_params(body: dict[str, Any], req: ChatRequest, token_fields: tuple[str, ...]) -> None:
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
            raise RequestError(
                f"Invalid type for 'stream': expected a boolean, but got {json_type(body['stream'])} instead.",
                param="stream",
            )
        req.stream = body["stream"]
    if "parallel_tool_calls" in body and body["parallel_tool_calls"] is not None:
        req.parallel_tool_calls = bool(body["parallel_tool_calls"])


def _require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise RequestError("you must provide a model parameter", param="model")
    if not isinstance(model, str) or not model:
        raise RequestError(
            f"Invalid type for 'model': expected a string, but got {json_type(model)} instead.",
            param="model",
        )
    return model


def _schema_param(schema: Any, param: str) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise RequestError(
            f"Invalid type for '{param}': expected an object, but got {json_type(schema)} instead.",
            param=param,
        )
    return schema


# --------------------------------------------------------------------------- chat completions


def parse_chat(body: Any, headers: dict[str, str]) -> ChatRequest:
    """Validate and normalise a Chat Completions request body."""
    body = require_object(
        body,
        "We could not parse the JSON body of your request. (HINT: the body must be a JSON object.)",
    )
    req = ChatRequest(
        api="openai", endpoint="chat", model=_require_model(body), raw=body, headers=headers
    )
    if "messages" not in body:
        raise RequestError("Missing required parameter: 'messages'.", param="messages")
    raw_messages = body["messages"]
    if not isinstance(raw_messages, list):
        raise RequestError(
            f"Invalid type for 'messages': expected an array, but got {json_type(raw_messages)} instead.",
            param="messages",
        )
    if not raw_messages:
        raise RequestError(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
        )
    system: list[str] = []
    messages: list[Message] = []
    call_names: dict[str, str] = {}
    open_calls: dict[str, int] = {}  # tool_call_id -> index of the assistant message awaiting it
    for i, m in enumerate(raw_messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise RequestError(
                f"Invalid type for '{where}': expected an object, but got {json_type(m)} instead.",
                param=where,
            )
        role = m.get("role")
        if role is None:
            raise RequestError(
                f"Missing required parameter: '{where}.role'.", param=f"{where}.role"
            )
        if role not in ROLES:
            raise RequestError(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                "'function', 'tool', and 'developer'.",
                param=f"{where}.role",
            )
        if role != "tool" and open_calls:
            _unanswered(open_calls)
        if role in ("system", "developer"):
            if "content" not in m:
                raise RequestError(
                    f"Missing required parameter: '{where}.content'.", param=f"{where}.content"
                )
            system.append(_content_text(m.get("content"), f"{where}.content", allow_null=False))
        elif role == "user":
            if "content" not in m:
                raise RequestError(
                    f"Missing required parameter: '{where}.content'.", param=f"{where}.content"
                )
            messages.append(
                Message(
                    "user", _content_text(m.get("content"), f"{where}.content", allow_null=False)
                )
            )
        elif role == "assistant":
            calls = _assistant_calls(m.get("tool_calls"), where)
            text = _content_text(m.get("content"), f"{where}.content", allow_null=True)
            for c in calls:
                assert c.id is not None
                call_names[c.id] = c.name
                open_calls[c.id] = i
            messages.append(Message("assistant", text, tool_calls=tuple(calls)))
        else:  # tool / function
            if role == "function":
                name = m.get("name")
                content = _content_text(m.get("content"), f"{where}.content", allow_null=True)
                messages.append(
                    Message(
                        "tool", tool_results=(ToolResult(str(name), content, tool_name=str(name)),)
                    )
                )
                continue
            call_id = m.get("tool_call_id")
            if call_id is None:
                raise RequestError(
                    f"Missing required parameter: '{where}.tool_call_id'.",
                    param=f"{where}.tool_call_id",
                )
            if not isinstance(call_id, str):
                raise RequestError(
                    f"Invalid type for '{where}.tool_call_id': expected a string, but got {json_type(call_id)} instead.",
                    param=f"{where}.tool_call_id",
                )
            if call_id not in open_calls:
                raise RequestError(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                    "message with 'tool_calls'.",
                    param=f"{where}.role",
                )
            del open_calls[call_id]
            content = _content_text(m.get("content"), f"{where}.content", allow_null=False)
            messages.append(
                Message(
                    "tool",
                    tool_results=(ToolResult(call_id, content, tool_name=call_names.get(call_id)),),
                )
            )
    if open_calls:
        _unanswered(open_calls)
    req.system = "\n\n".join(s for s in system if s)
    req.messages = messages
    req.tools = _chat_tools(body.get("tools"))
    _chat_tool_choice(body, req)
    _chat_response_format(body.get("response_format"), req, raw_messages)
    _common_params(body, req, ("max_tokens", "max_completion_tokens"))
    n = body.get("n")
    if n is not None:
        if not is_int(n) or not 1 <= n <= 128:
            raise RequestError(
                f"Invalid 'n': expected an integer between 1 and 128, but got {n!r}.", param="n"
            )
        req.n = n
    seed = body.get("seed")
    if seed is not None:
        if not is_int(seed):
            raise RequestError(
                f"Invalid type for 'seed': expected an integer, but got {json_type(seed)} instead.",
                param="seed",
            )
        req.seed = seed
    stop = body.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if (
            not isinstance(stops, list)
            or not all(isinstance(s, str) for s in stops)
            or len(stops) > 4
        ):
            raise RequestError(
                "Invalid 'stop': expected a string or an array of up to 4 strings.", param="stop"
            )
        req.stop = list(stops)
    options = body.get("stream_options")
    if options is not None:
        if not req.stream:
            raise RequestError(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        if not isinstance(options, dict):
            raise RequestError(
                f"Invalid type for 'stream_options': expected an object, but got {json_type(options)} instead.",
                param="stream_options",
            )
        req.include_usage = bool(options.get("include_usage"))
    return req


def _unanswered(open_calls: dict[str, int]) -> None:
    index = min(open_calls.values())
    ids = ", ".join(k for k, v in open_calls.items() if v == index)
    raise RequestError(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {ids}",
        param=f"messages[{index}].role",
    )


def _assistant_calls(raw: Any, where: str) -> list[ToolCall]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RequestError(
            f"Invalid type for '{where}.tool_calls': expected an array, but got {json_type(raw)} instead.",
            param=f"{where}.tool_calls",
        )
    calls = []
    for k, c in enumerate(raw):
        at = f"{where}.tool_calls[{k}]"
        if not isinstance(c, dict):
            raise RequestError(f"Invalid type for '{at}': expected an object.", param=at)
        if not isinstance(c.get("id"), str):
            raise RequestError(f"Missing required parameter: '{at}.id'.", param=f"{at}.id")
        fn = c.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise RequestError(
                f"Missing required parameter: '{at}.function.name'.", param=f"{at}.function.name"
            )
        args = fn.get("arguments")
        if not isinstance(args, str):
            raise RequestError(
                f"Missing required parameter: '{at}.function.arguments'.",
                param=f"{at}.function.arguments",
            )
        calls.append(ToolCall(fn["name"], args, c["id"]))
    return calls


def _chat_tools(raw: Any) -> list[ToolSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RequestError(
            f"Invalid type for 'tools': expected an array, but got {json_type(raw)} instead.",
            param="tools",
        )
    tools = []
    for i, t in enumerate(raw):
        at = f"tools[{i}]"
        if not isinstance(t, dict):
            raise RequestError(
                f"Invalid type for '{at}': expected an object, but got {json_type(t)} instead.",
                param=at,
            )
        if t.get("type") != "function":
            if t.get("type") == "custom":
                continue  # custom (grammar) tools are accepted but never called by the fake
            raise RequestError(
                f"Invalid value: '{t.get('type')}'. Supported values are: 'function' and 'custom'.",
                param=f"{at}.type",
            )
        fn = t.get("function")
        if not isinstance(fn, dict):
            raise RequestError(
                f"Missing required parameter: '{at}.function'.", param=f"{at}.function"
            )
        name = fn.get("name")
        if not isinstance(name, str):
            raise RequestError(
                f"Missing required parameter: '{at}.function.name'.", param=f"{at}.function.name"
            )
        if not TOOL_NAME_RE.match(name):
            raise RequestError(
                f"Invalid '{at}.function.name': string does not match pattern. Expected a string that "
                "matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param=f"{at}.function.name",
            )
        params = fn.get("parameters") or {}
        _schema_param(params, f"{at}.function.parameters")
        tools.append(
            ToolSpec(name, str(fn.get("description") or ""), params, bool(fn.get("strict")))
        )
    return tools


def _chat_tool_choice(body: dict[str, Any], req: ChatRequest) -> None:
    choice = body.get("tool_choice")
    if choice is None:
        return
    if not req.tools:
        raise RequestError(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            param="tool_choice",
        )
    if choice in ("auto", "none", "required"):
        req.tool_choice = choice
        return
    if isinstance(choice, dict):
        if choice.get("type") == "function" and isinstance(choice.get("function"), dict):
            name = choice["function"].get("name")
            if req.tool(str(name)) is None:
                raise RequestError(
                    f"Invalid value for 'tool_choice': function '{name}' is not one of the provided tools.",
                    param="tool_choice",
                )
            req.forced_tool = str(name)
            req.tool_choice = "required"
            return
        if choice.get("type") == "allowed_tools":
            mode = (choice.get("allowed_tools") or {}).get("mode", "auto")
            req.tool_choice = "required" if mode == "required" else "auto"
            return
    raise RequestError(
        "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or a named function.",
        param="tool_choice",
    )


def _chat_response_format(raw: Any, req: ChatRequest, raw_messages: list[Any]) -> None:
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise RequestError(
            f"Invalid type for 'response_format': expected an object, but got {json_type(raw)} instead.",
            param="response_format",
        )
    kind = raw.get("type")
    if kind == "text":
        return
    if kind == "json_object":
        if "json" not in (str(raw_messages)).lower():
            raise RequestError(
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                param="messages",
            )
        req.response_format = "json_object"
        return
    if kind == "json_schema":
        spec = raw.get("json_schema")
        if not isinstance(spec, dict):
            raise RequestError(
                "Missing required parameter: 'response_format.json_schema'.",
                param="response_format.json_schema",
            )
        if not isinstance(spec.get("name"), str):
            raise RequestError(
                "Missing required parameter: 'response_format.json_schema.name'.",
                param="response_format.json_schema.name",
            )
        req.response_format = "json_schema"
        req.schema_name = spec["name"]
        req.response_schema = _schema_param(
            spec.get("schema") or {}, "response_format.json_schema.schema"
        )
        return
    raise RequestError(
        f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object', and 'json_schema'.",
        param="response_format.type",
    )


def _usage(comp: Completion, n: int = 1) -> dict[str, Any]:
    out = comp.completion_tokens() * n
    return {
        "prompt_tokens": comp.prompt_tokens,
        "completion_tokens": out,
        "total_tokens": comp.prompt_tokens + out,
        "prompt_tokens_details": {"cached_tokens": comp.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat_body(req: ChatRequest, comp: Completion, completion_id: str) -> dict[str, Any]:
    """A ``chat.completion`` object (``n`` identical choices)."""
    text = comp.full_text()
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text if (text or not comp.tool_calls) else None,
        "refusal": None,
        "annotations": [],
    }
    if text is None and not comp.tool_calls:
        message["content"] = ""
    if comp.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in comp.tool_calls
        ]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": req.model,
        "system_fingerprint": FINGERPRINT,
        "service_tier": "default",
        "choices": [
            {"index": i, "message": message, "logprobs": None, "finish_reason": comp.finish}
            for i in range(req.n)
        ],
        "usage": _usage(comp, req.n),
    }


async def chat_frames(
    req: ChatRequest, comp: Completion, completion_id: str
) -> AsyncIterator[tuple[FrameKind, bytes]]:
    """SSE frames of a streamed chat completion (first delta has the role; tool calls stream as an
    opening fragment with id/type/name then argument pieces; a final ``delta: {}`` chunk carries the
    finish reason; with ``include_usage`` one last chunk has ``choices: []`` and the usage)."""
    base = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": req.model,
        "system_fingerprint": FINGERPRINT,
        "service_tier": "default",
    }

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        body: dict[str, Any] = {
            **base,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }
        if req.include_usage:
            body["usage"] = None
        return sse_data(body)

    choices = 1 if comp.lazy is not None else req.n
    for i in range(choices):
        has_text = comp.lazy is not None or bool(comp.text) or not comp.tool_calls
        yield (
            "head",
            chunk(i, {"role": "assistant", "content": "" if has_text else None, "refusal": None}),
        )
        if i == 0:
            async for piece in comp.atext_pieces():
                yield "content", chunk(i, {"content": piece})
        else:
            for piece in comp.text_pieces():
                yield "content", chunk(i, {"content": piece})
        for k, call in enumerate(comp.tool_calls):
            opening = {
                "index": k,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            yield "content", chunk(i, {"tool_calls": [opening]})
            for piece in comp.argument_pieces(call):
                yield (
                    "content",
                    chunk(i, {"tool_calls": [{"index": k, "function": {"arguments": piece}}]}),
                )
        yield "tail", chunk(i, {}, comp.finish)
    if req.include_usage:
        yield "tail", sse_data({**base, "choices": [], "usage": _usage(comp, choices)})
    yield "tail", sse_data("[DONE]")


# --------------------------------------------------------------------------- responses API


def parse_responses(
    body: Any, headers: dict[str, str], previous: list[Message] | None = None
) -> ChatRequest:
    """Validate and normalise a Responses API request body (``previous``: the conversation stored
    under ``previous_response_id``, already resolved by the caller)."""
    body = require_object(body, "We could not parse the JSON body of your request.")
    req = ChatRequest(
        api="openai", endpoint="responses", model=_require_model(body), raw=body, headers=headers
    )
    if "input" not in body:
        raise RequestError("Missing required parameter: 'input'.", param="input")
    raw_input = body["input"]
    messages: list[Message] = list(previous or [])
    system: list[str] = []
    if isinstance(body.get("instructions"), str):
        system.append(body["instructions"])
    call_names = {c.id: c.name for m in messages for c in m.tool_calls if c.id}
    if isinstance(raw_input, str):
        messages.append(Message("user", raw_input))
    elif isinstance(raw_input, list):
        for i, item in enumerate(raw_input):
            where = f"input[{i}]"
            if not isinstance(item, dict):
                raise RequestError(
                    f"Invalid type for '{where}': expected an object, but got {json_type(item)} instead.",
                    param=where,
                )
            kind = item.get("type", "message")
            if kind == "message":
                role = item.get("role")
                if role not in ("user", "assistant", "system", "developer"):
                    raise RequestError(
                        f"Invalid value: '{role}'. Supported values are: 'user', 'assistant', 'system', and 'developer'.",
                        param=f"{where}.role",
                    )
                text = _content_text(item.get("content"), f"{where}.content", allow_null=False)
                if role in ("system", "developer"):
                    system.append(text)
                else:
                    messages.append(Message(role, text))
            elif kind == "function_call":
                for field in ("call_id", "name", "arguments"):
                    if not isinstance(item.get(field), str):
                        raise RequestError(
                            f"Missing required parameter: '{where}.{field}'.",
                            param=f"{where}.{field}",
                        )
                call = ToolCall(item["name"], item["arguments"], item["call_id"])
                call_names[item["call_id"]] = item["name"]
                if messages and messages[-1].role == "assistant" and not messages[-1].text:
                    last = messages[-1]
                    messages[-1] = Message(
                        "assistant", last.text, tool_calls=(*last.tool_calls, call)
                    )
                else:
                    messages.append(Message("assistant", tool_calls=(call,)))
            elif kind == "function_call_output":
                call_id = item.get("call_id")
                if not isinstance(call_id, str):
                    raise RequestError(
                        f"Missing required parameter: '{where}.call_id'.", param=f"{where}.call_id"
                    )
                if call_id not in call_names:
                    raise RequestError(
                        f"No tool call found for function call output with call_id {call_id}.",
                        param=f"{where}.call_id",
                    )
                output = item.get("output")
                content = (
                    output
                    if isinstance(output, str)
                    else _content_text(output, f"{where}.output", allow_null=False)
                )
                messages.append(
                    Message(
                        "tool",
                        tool_results=(ToolResult(call_id, content, tool_name=call_names[call_id]),),
                    )
                )
            elif kind in ("reasoning", "item_reference"):
                continue
            else:
                raise RequestError(f"Invalid value: '{kind}'.", param=f"{where}.type")
    else:
        raise RequestError(
            f"Invalid type for 'input': expected one of a string or array of input items, but got {json_type(raw_input)} instead.",
            param="input",
        )
    req.system = "\n\n".join(s for s in system if s)
    req.messages = messages
    tools = []
    raw_tools = body.get("tools") or []
    if not isinstance(raw_tools, list):
        raise RequestError(
            f"Invalid type for 'tools': expected an array, but got {json_type(raw_tools)} instead.",
            param="tools",
        )
    for i, t in enumerate(raw_tools):
        if not isinstance(t, dict):
            raise RequestError(
                f"Invalid type for 'tools[{i}]': expected an object.", param=f"tools[{i}]"
            )
        if t.get("type") != "function":
            continue  # hosted tools (web_search, file_search...) are accepted and never called
        if not isinstance(t.get("name"), str) or not TOOL_NAME_RE.match(t["name"]):
            raise RequestError(
                f"Missing required parameter: 'tools[{i}].name'.", param=f"tools[{i}].name"
            )
        params = _schema_param(t.get("parameters") or {}, f"tools[{i}].parameters")
        tools.append(
            ToolSpec(t["name"], str(t.get("description") or ""), params, bool(t.get("strict")))
        )
    req.tools = tools
    choice = body.get("tool_choice")
    if choice in ("auto", "none", "required"):
        req.tool_choice = choice
    elif isinstance(choice, dict) and choice.get("type") == "function":
        if req.tool(str(choice.get("name"))) is None:
            raise RequestError(
                f"Tool choice '{choice.get('name')}' not found in 'tools' parameter.",
                param="tool_choice",
            )
        req.forced_tool = str(choice["name"])
        req.tool_choice = "required"
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            if not isinstance(fmt.get("name"), str):
                raise RequestError(
                    "Missing required parameter: 'text.format.name'.", param="text.format.name"
                )
            req.response_format = "json_schema"
            req.schema_name = fmt["name"]
            req.response_schema = _schema_param(fmt.get("schema") or {}, "text.format.schema")
        elif fmt.get("type") == "json_object":
            req.response_format = "json_object"
    _common_params(body, req, ("max_output_tokens",))
    return req


def _response_tools(req: ChatRequest) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": t.name,
            "description": t.description or None,
            "parameters": dict(t.parameters),
            "strict": t.strict,
        }
        for t in req.tools
    ]


def _response_tool_choice(req: ChatRequest) -> Any:
    if req.forced_tool:
        return {"type": "function", "name": req.forced_tool}
    return req.tool_choice


def _text_config(req: ChatRequest) -> dict[str, Any]:
    if req.response_format == "json_schema":
        return {
            "format": {
                "type": "json_schema",
                "name": req.schema_name or "response",
                "schema": req.response_schema or {},
                "strict": bool((req.raw.get("text") or {}).get("format", {}).get("strict", False)),
            }
        }
    return {
        "format": {"type": req.response_format if req.response_format == "json_object" else "text"}
    }


def response_output(comp: Completion, ids: dict[str, str]) -> list[dict[str, Any]]:
    """The ``output`` items: a message (when there is text) then one function_call per call."""
    items: list[dict[str, Any]] = []
    text = comp.full_text() if comp.lazy is None else "".join(comp.streamed_text)
    status = "incomplete" if comp.finish == "length" else "completed"
    if text or not comp.tool_calls:
        items.append(
            {
                "type": "message",
                "id": ids["message"],
                "status": status,
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": text or "", "annotations": [], "logprobs": []}
                ],
            }
        )
    for c in comp.tool_calls:
        items.append(
            {
                "type": "function_call",
                "id": ids[f"fc:{c.id}"],
                "call_id": c.id,
                "name": c.name,
                "arguments": c.arguments,
                "status": "completed",
            }
        )
    return items


def response_body(
    req: ChatRequest,
    comp: Completion | None,
    response_id: str,
    ids: dict[str, str],
    *,
    status: str | None = None,
) -> dict[str, Any]:
    """A ``response`` object; ``comp=None`` gives the empty in-progress form used by
    ``response.created`` events."""
    output = response_output(comp, ids) if comp is not None else []
    final_status = status or (
        "incomplete" if comp is not None and comp.finish == "length" else "completed"
    )
    usage = None
    if comp is not None:
        out = comp.completion_tokens()
        usage = {
            "input_tokens": comp.prompt_tokens,
            "input_tokens_details": {"cached_tokens": comp.cached_tokens, "cache_write_tokens": 0},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": comp.prompt_tokens + out,
        }
    return {
        "id": response_id,
        "object": "response",
        "created_at": CREATED,
        "status": final_status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"}
        if final_status == "incomplete"
        else None,
        "instructions": req.raw.get("instructions")
        if isinstance(req.raw.get("instructions"), str)
        else None,
        "max_output_tokens": req.max_tokens,
        "model": req.model,
        "output": output,
        "parallel_tool_calls": req.parallel_tool_calls,
        "previous_response_id": req.raw.get("previous_response_id"),
        "temperature": req.temperature if req.temperature is not None else 1.0,
        "text": _text_config(req),
        "tool_choice": _response_tool_choice(req),
        "tools": _response_tools(req),
        "top_p": req.top_p if req.top_p is not None else 1.0,
        "truncation": "disabled",
        "usage": usage,
        "metadata": {},
    }


def response_ids(comp: Completion, next_id: Any) -> dict[str, str]:
    """Stable ids for a response's output items."""
    ids = {"message": next_id("msg_")}
    for c in comp.tool_calls:
        ids[f"fc:{c.id}"] = next_id("fc_")
    return ids


async def response_frames(
    req: ChatRequest, comp: Completion, response_id: str, ids: dict[str, str]
) -> AsyncIterator[tuple[FrameKind, bytes]]:
    """Named SSE events of a streamed Responses call, each with a ``sequence_number``."""
    seq = 0

    def event(kind: str, payload: dict[str, Any]) -> bytes:
        nonlocal seq
        frame = sse_event(kind, {"type": kind, "sequence_number": seq, **payload})
        seq += 1
        return frame

    empty = response_body(req, None, response_id, ids, status="in_progress")
    yield "head", event("response.created", {"response": empty})
    yield "head", event("response.in_progress", {"response": empty})
    index = 0
    has_text = comp.lazy is not None or bool(comp.text) or not comp.tool_calls
    if has_text:
        item_id = ids["message"]
        message_item: dict[str, Any] = {
            "type": "message",
            "id": item_id,
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        yield "head", event("response.output_item.added", {"output_index": 0, "item": message_item})
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield (
            "head",
            event(
                "response.content_part.added",
                {"item_id": item_id, "output_index": 0, "content_index": 0, "part": part},
            ),
        )
        async for piece in comp.atext_pieces():
            yield (
                "content",
                event(
                    "response.output_text.delta",
                    {
                        "item_id": item_id,
                        "output_index": 0,
                        "content_index": 0,
                        "delta": piece,
                        "logprobs": [],
                    },
                ),
            )
        text = "".join(comp.streamed_text)
        yield (
            "tail",
            event(
                "response.output_text.done",
                {
                    "item_id": item_id,
                    "output_index": 0,
                    "content_index": 0,
                    "text": text,
                    "logprobs": [],
                },
            ),
        )
        done_part = {**part, "text": text}
        yield (
            "tail",
            event(
                "response.content_part.done",
                {"item_id": item_id, "output_index": 0, "content_index": 0, "part": done_part},
            ),
        )
        status = "incomplete" if comp.finish == "length" else "completed"
        yield (
            "tail",
            event(
                "response.output_item.done",
                {
                    "output_index": 0,
                    "item": {**message_item, "status": status, "content": [done_part]},
                },
            ),
        )
        index = 1
    for offset, c in enumerate(comp.tool_calls):
        out_index = index + offset
        fc_id = ids[f"fc:{c.id}"]
        item: dict[str, Any] = {
            "type": "function_call",
            "id": fc_id,
            "call_id": c.id,
            "name": c.name,
            "arguments": "",
            "status": "in_progress",
        }
        yield (
            "content",
            event("response.output_item.added", {"output_index": out_index, "item": item}),
        )
        for piece in comp.argument_pieces(c):
            yield (
                "content",
                event(
                    "response.function_call_arguments.delta",
                    {"item_id": fc_id, "output_index": out_index, "delta": piece},
                ),
            )
        yield (
            "tail",
            event(
                "response.function_call_arguments.done",
                {
                    "item_id": fc_id,
                    "output_index": out_index,
                    "name": c.name,
                    "arguments": c.arguments,
                },
            ),
        )
        yield (
            "tail",
            event(
                "response.output_item.done",
                {
                    "output_index": out_index,
                    "item": {**item, "arguments": c.arguments, "status": "completed"},
                },
            ),
        )
    final = response_body(req, comp, response_id, ids)
    kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    yield "tail", event(kind, {"response": final})


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


# --------------------------------------------------------------------------- embeddings, models


@dataclass
class EmbeddingRequest:
    """A validated embeddings request."""

    model: str
    texts: list[str]
    encoding_format: str
    dimensions: int | None


def parse_embeddings(body: Any, decode_tokens: Any, max_dimensions: int) -> EmbeddingRequest:
    """Validate an embeddings body; token-id inputs are decoded back to text."""
    body = require_object(body, "We could not parse the JSON body of your request.")
    model = _require_model(body)
    if "input" not in body:
        raise RequestError("Missing required parameter: 'input'.", param="input")
    raw = body["input"]
    texts: list[str]
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        texts = list(raw)
    elif isinstance(raw, list) and raw and all(is_int(x) for x in raw):
        texts = [decode_tokens(raw)]
    elif (
        isinstance(raw, list)
        and raw
        and all(isinstance(x, list) and all(is_int(t) for t in x) for x in raw)
    ):
        texts = [decode_tokens(x) for x in raw]
    else:
        raise RequestError(
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            param="input",
        )
    if any(not t for t in texts):
        raise RequestError("'$.input' is invalid: empty strings cannot be embedded.", param="input")
    if len(texts) > 2048:
        raise RequestError("'$.input' is invalid: at most 2048 inputs per request.", param="input")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise RequestError(
            f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'.",
            param="encoding_format",
        )
    dims = body.get("dimensions")
    if dims is not None and (not is_int(dims) or not 1 <= dims <= max_dimensions):
        raise RequestError(
            f"Invalid 'dimensions': expected an integer between 1 and {max_dimensions}, but got {dims!r}.",
            param="dimensions",
        )
    return EmbeddingRequest(model, texts, fmt, dims)


def embeddings_body(
    req: EmbeddingRequest, vectors: np.ndarray, prompt_tokens: int
) -> dict[str, Any]:
    """A ``list`` of embeddings; ``dimensions`` truncates then re-normalises (as OpenAI's
    text-embedding-3 models do); base64 is little-endian float32, what the SDK decodes."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if req.dimensions is not None:
        vectors = vectors[:, : req.dimensions]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1, norms)
    data = []
    for i, vector in enumerate(vectors):
        little = vector.astype("<f4")
        value: Any = (
            base64.b64encode(little.tobytes()).decode("ascii")
            if req.encoding_format == "base64"
            else [float(x) for x in little]
        )
        data.append({"object": "embedding", "index": i, "embedding": value})
    return {
        "object": "list",
        "model": req.model,
        "data": data,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def model_object(model_id: str) -> dict[str, Any]:
    """One OpenAI ``model`` object."""
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "labkit"}


def models_body(model_ids: list[str]) -> dict[str, Any]:
    """``GET /v1/models``."""
    return {"object": "list", "data": [model_object(m) for m in model_ids]}
