"""Chat Completions: parse a request body into a :class:`ChatRequest`, render a settled
:class:`Completion` as a ``chat.completion`` object or as ``chat.completion.chunk`` SSE frames."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from labkit.fakellm.completion import Completion
from labkit.fakellm.openai.params import (
    TOOL_NAME_RE,
    common_params,
    content_text,
    require_model,
    schema_param,
)
from labkit.fakellm.state import CREATED
from labkit.fakellm.transport import FrameKind, sse_data
from labkit.fakellm.types import ChatRequest, Message, RequestError, ToolCall, ToolResult, ToolSpec
from labkit.fakellm.validate import invalid_type, is_int, missing, require_object

FINGERPRINT = "fp_labkit"
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


# --------------------------------------------------------------------------- parsing


def parse_chat(body: Any, headers: dict[str, str]) -> ChatRequest:
    """Validate and normalise a Chat Completions request body."""
    body = require_object(
        body,
        "We could not parse the JSON body of your request. (HINT: the body must be a JSON object.)",
    )
    req = ChatRequest(
        api="openai", endpoint="chat", model=require_model(body), raw=body, headers=headers
    )
    if "messages" not in body:
        raise missing("messages")
    raw_messages = body["messages"]
    if not isinstance(raw_messages, list):
        raise invalid_type("messages", "an array", raw_messages)
    if not raw_messages:
        raise RequestError(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
        )
    history = _History()
    for i, m in enumerate(raw_messages):
        history.add(i, m)
    if history.open_calls:
        _unanswered(history.open_calls)
    req.system = "\n\n".join(s for s in history.system if s)
    req.messages = history.messages
    req.tools = _chat_tools(body.get("tools"))
    _chat_tool_choice(body, req)
    _chat_response_format(body.get("response_format"), req, raw_messages)
    common_params(body, req, ("max_tokens", "max_completion_tokens"))
    _chat_options(body, req)
    return req


@dataclass
class _History:
    """The conversation read so far from ``messages``."""

    system: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    call_names: dict[str, str] = field(default_factory=dict)
    # tool_call_id -> index of the assistant message awaiting its result
    open_calls: dict[str, int] = field(default_factory=dict)

    def add(self, i: int, m: Any) -> None:
        """Read ``messages[i]``."""
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise invalid_type(where, "an object", m)
        role = m.get("role")
        if role is None:
            raise missing(f"{where}.role")
        if role not in ROLES:
            raise RequestError(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                "'function', 'tool', and 'developer'.",
                param=f"{where}.role",
            )
        if role != "tool" and self.open_calls:
            _unanswered(self.open_calls)
        if role in ("system", "developer", "user"):
            if "content" not in m:
                raise missing(f"{where}.content")
            text = content_text(m.get("content"), f"{where}.content", allow_null=False)
            if role == "user":
                self.messages.append(Message("user", text))
            else:
                self.system.append(text)
        elif role == "assistant":
            calls = _assistant_calls(m.get("tool_calls"), where)
            text = content_text(m.get("content"), f"{where}.content", allow_null=True)
            for c in calls:
                assert c.id is not None
                self.call_names[c.id] = c.name
                self.open_calls[c.id] = i
            self.messages.append(Message("assistant", text, tool_calls=tuple(calls)))
        elif role == "function":
            name = str(m.get("name"))
            content = content_text(m.get("content"), f"{where}.content", allow_null=True)
            result = ToolResult(name, content, tool_name=name)
            self.messages.append(Message("tool", tool_results=(result,)))
        else:
            self._tool_result(m, where)

    def _tool_result(self, m: dict[str, Any], where: str) -> None:
        call_id = m.get("tool_call_id")
        if call_id is None:
            raise missing(f"{where}.tool_call_id")
        if not isinstance(call_id, str):
            raise invalid_type(f"{where}.tool_call_id", "a string", call_id)
        if call_id not in self.open_calls:
            raise RequestError(
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                "message with 'tool_calls'.",
                param=f"{where}.role",
            )
        del self.open_calls[call_id]
        content = content_text(m.get("content"), f"{where}.content", allow_null=False)
        result = ToolResult(call_id, content, tool_name=self.call_names.get(call_id))
        self.messages.append(Message("tool", tool_results=(result,)))


def _chat_options(body: dict[str, Any], req: ChatRequest) -> None:
    """``n``, ``seed``, ``stop`` and ``stream_options``."""
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
            raise invalid_type("seed", "an integer", seed)
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
            raise invalid_type("stream_options", "an object", options)
        req.include_usage = bool(options.get("include_usage"))


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
        raise invalid_type(f"{where}.tool_calls", "an array", raw)
    calls = []
    for k, c in enumerate(raw):
        at = f"{where}.tool_calls[{k}]"
        if not isinstance(c, dict):
            raise invalid_type(at, "an object")
        if not isinstance(c.get("id"), str):
            raise missing(f"{at}.id")
        fn = c.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise missing(f"{at}.function.name")
        args = fn.get("arguments")
        if not isinstance(args, str):
            raise missing(f"{at}.function.arguments")
        calls.append(ToolCall(fn["name"], args, c["id"]))
    return calls


def _chat_tools(raw: Any) -> list[ToolSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid_type("tools", "an array", raw)
    tools = []
    for i, t in enumerate(raw):
        at = f"tools[{i}]"
        if not isinstance(t, dict):
            raise invalid_type(at, "an object", t)
        if t.get("type") != "function":
            if t.get("type") == "custom":
                continue  # custom (grammar) tools are accepted but never called by the fake
            raise RequestError(
                f"Invalid value: '{t.get('type')}'. Supported values are: 'function' and 'custom'.",
                param=f"{at}.type",
            )
        fn = t.get("function")
        if not isinstance(fn, dict):
            raise missing(f"{at}.function")
        name = fn.get("name")
        if not isinstance(name, str):
            raise missing(f"{at}.function.name")
        if not TOOL_NAME_RE.match(name):
            raise RequestError(
                f"Invalid '{at}.function.name': string does not match pattern. Expected a string that "
                "matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param=f"{at}.function.name",
            )
        params = fn.get("parameters") or {}
        schema_param(params, f"{at}.function.parameters")
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
        raise invalid_type("response_format", "an object", raw)
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
            raise missing("response_format.json_schema")
        if not isinstance(spec.get("name"), str):
            raise missing("response_format.json_schema.name")
        req.response_format = "json_schema"
        req.schema_name = spec["name"]
        req.response_schema = schema_param(
            spec.get("schema") or {}, "response_format.json_schema.schema"
        )
        return
    raise RequestError(
        f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object', and 'json_schema'.",
        param="response_format.type",
    )


# --------------------------------------------------------------------------- rendering


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
