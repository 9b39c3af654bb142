"""The Responses API: parse a request body into a :class:`ChatRequest` (input items, function
tools, ``text.format``), render a settled :class:`Completion` as a ``response`` object. Streaming
is in :mod:`labkit.fakellm.openai.responses_stream`."""

from __future__ import annotations

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
from labkit.fakellm.types import ChatRequest, Message, RequestError, ToolCall, ToolResult, ToolSpec
from labkit.fakellm.validate import invalid_type, missing, require_object

# --------------------------------------------------------------------------- parsing


def parse_responses(
    body: Any, headers: dict[str, str], previous: list[Message] | None = None
) -> ChatRequest:
    """Validate and normalise a Responses API request body (``previous``: the conversation stored
    under ``previous_response_id``, already resolved by the caller)."""
    body = require_object(body, "We could not parse the JSON body of your request.")
    req = ChatRequest(
        api="openai", endpoint="responses", model=require_model(body), raw=body, headers=headers
    )
    if "input" not in body:
        raise missing("input")
    raw_input = body["input"]
    items = _Input(list(previous or []))
    if isinstance(body.get("instructions"), str):
        items.system.append(body["instructions"])
    if isinstance(raw_input, str):
        items.messages.append(Message("user", raw_input))
    elif isinstance(raw_input, list):
        for i, item in enumerate(raw_input):
            items.add(i, item)
    else:
        raise invalid_type("input", "one of a string or array of input items", raw_input)
    req.system = "\n\n".join(s for s in items.system if s)
    req.messages = items.messages
    req.tools = _tools(body.get("tools") or [])
    _tool_choice(body.get("tool_choice"), req)
    _text_format(body, req)
    common_params(body, req, ("max_output_tokens",))
    return req


@dataclass
class _Input:
    """The conversation read so far from ``input`` (after the stored one, if any)."""

    messages: list[Message]
    system: list[str] = field(default_factory=list)
    call_names: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.call_names = {c.id: c.name for m in self.messages for c in m.tool_calls if c.id}

    def add(self, i: int, item: Any) -> None:
        """Read ``input[i]``."""
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise invalid_type(where, "an object", item)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise RequestError(
                    f"Invalid value: '{role}'. Supported values are: 'user', 'assistant', 'system', and 'developer'.",
                    param=f"{where}.role",
                )
            text = content_text(item.get("content"), f"{where}.content", allow_null=False)
            if role in ("system", "developer"):
                self.system.append(text)
            else:
                self.messages.append(Message(role, text))
        elif kind == "function_call":
            self._function_call(item, where)
        elif kind == "function_call_output":
            self._function_call_output(item, where)
        elif kind not in ("reasoning", "item_reference"):
            raise RequestError(f"Invalid value: '{kind}'.", param=f"{where}.type")

    def _function_call(self, item: dict[str, Any], where: str) -> None:
        for name in ("call_id", "name", "arguments"):
            if not isinstance(item.get(name), str):
                raise missing(f"{where}.{name}")
        call = ToolCall(item["name"], item["arguments"], item["call_id"])
        self.call_names[item["call_id"]] = item["name"]
        messages = self.messages
        if messages and messages[-1].role == "assistant" and not messages[-1].text:
            last = messages[-1]
            messages[-1] = Message("assistant", last.text, tool_calls=(*last.tool_calls, call))
        else:
            messages.append(Message("assistant", tool_calls=(call,)))

    def _function_call_output(self, item: dict[str, Any], where: str) -> None:
        call_id = item.get("call_id")
        if not isinstance(call_id, str):
            raise missing(f"{where}.call_id")
        if call_id not in self.call_names:
            raise RequestError(
                f"No tool call found for function call output with call_id {call_id}.",
                param=f"{where}.call_id",
            )
        output = item.get("output")
        content = (
            output
            if isinstance(output, str)
            else content_text(output, f"{where}.output", allow_null=False)
        )
        result = ToolResult(call_id, content, tool_name=self.call_names[call_id])
        self.messages.append(Message("tool", tool_results=(result,)))


def _tools(raw_tools: Any) -> list[ToolSpec]:
    """The function tools (hosted tools such as web_search are accepted and never called)."""
    if not isinstance(raw_tools, list):
        raise invalid_type("tools", "an array", raw_tools)
    tools = []
    for i, t in enumerate(raw_tools):
        if not isinstance(t, dict):
            raise invalid_type(f"tools[{i}]", "an object")
        if t.get("type") != "function":
            continue
        if not isinstance(t.get("name"), str) or not TOOL_NAME_RE.match(t["name"]):
            raise missing(f"tools[{i}].name")
        params = schema_param(t.get("parameters") or {}, f"tools[{i}].parameters")
        tools.append(
            ToolSpec(t["name"], str(t.get("description") or ""), params, bool(t.get("strict")))
        )
    return tools


def _tool_choice(choice: Any, req: ChatRequest) -> None:
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


def _text_format(body: dict[str, Any], req: ChatRequest) -> None:
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if not isinstance(fmt, dict):
        return
    if fmt.get("type") == "json_schema":
        if not isinstance(fmt.get("name"), str):
            raise missing("text.format.name")
        req.response_format = "json_schema"
        req.schema_name = fmt["name"]
        req.response_schema = schema_param(fmt.get("schema") or {}, "text.format.schema")
    elif fmt.get("type") == "json_object":
        req.response_format = "json_object"


# --------------------------------------------------------------------------- rendering


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


def response_status(comp: Completion | None) -> str:
    """What the Responses API calls a finished reply: ``incomplete`` when it stopped at
    ``max_output_tokens`` (Chat Completions' ``length``), else ``completed``. The message item, the
    response and its closing SSE event all say the same, so they all ask here."""
    return "incomplete" if comp is not None and comp.finish == "length" else "completed"


def response_output(comp: Completion, ids: dict[str, str]) -> list[dict[str, Any]]:
    """The ``output`` items: a message (when there is text) then one function_call per call."""
    items: list[dict[str, Any]] = []
    text = comp.full_text() if comp.lazy is None else "".join(comp.streamed_text)
    status = response_status(comp)
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
    final_status = status or response_status(comp)
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
