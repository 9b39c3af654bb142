"""Parsing a Messages (or count_tokens) request: the headers, the body, and the pairing rules
between ``tool_use`` and ``tool_result`` blocks that trip up agent code written by learners.

Anthropic names bad fields with dots (``messages.1.content.0.tool_use_id``), each message in the
style of its pydantic validation errors; this module reproduces both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from labkit.fakellm.types import ChatRequest, Message, RequestError, ToolCall, ToolResult, ToolSpec
from labkit.fakellm.validate import is_int, is_number, require_object

TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")


def check_headers(headers: dict[str, str]) -> None:
    """Auth (``x-api-key`` or ``Authorization: Bearer``) and the ``anthropic-version`` header."""
    if not headers.get("x-api-key") and not headers.get("authorization", "").lower().startswith(
        "bearer "
    ):
        raise RequestError("x-api-key header is required", status=401, kind="authentication_error")
    if not headers.get("anthropic-version"):
        raise RequestError("anthropic-version: header is required")


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


_IGNORED_BLOCKS = (
    "image",
    "document",
    "thinking",
    "redacted_thinking",
    "search_result",
    "container_upload",
)


def _unanswered(where: str, ids: list[str]) -> RequestError:
    return RequestError(
        f"{where}: `tool_use` ids were found without `tool_result` blocks immediately after: "
        f"{', '.join(ids)}. Each `tool_use` block must have a corresponding `tool_result` "
        "block in the next message.",
        param=where,
    )


def _messages(raw_messages: list[Any]) -> list[Message]:
    conversation = _Conversation()
    for i, m in enumerate(raw_messages):
        conversation.add(i, m)
    if conversation.pending_uses:
        raise _unanswered(f"messages.{len(raw_messages) - 1}", conversation.pending_uses)
    return conversation.messages


@dataclass
class _Turn:
    """The blocks of one input message, sorted by kind."""

    role: str
    texts: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)


@dataclass
class _Conversation:
    """The messages read so far, and the tool_use ids the next message must answer."""

    messages: list[Message] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    pending_uses: list[str] = field(default_factory=list)  # of the previous assistant message

    def add(self, i: int, m: Any) -> None:
        """Read ``messages.<i>``."""
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
        turn = _Turn(role)
        for j, block in enumerate(blocks):
            self._block(turn, block, f"{where}.content.{j}")
        if self.pending_uses:
            answered = {r.call_id for r in turn.results}
            unanswered = [u for u in self.pending_uses if u not in answered]
            if unanswered:
                raise _unanswered(where, unanswered)
        self.pending_uses = [c.id for c in turn.calls if c.id]
        if turn.results:
            self.messages.append(Message("tool", tool_results=tuple(turn.results)))
        text = "\n".join(turn.texts)
        if role == "assistant":
            self.messages.append(Message("assistant", text, tool_calls=tuple(turn.calls)))
        elif text or not turn.results:
            self.messages.append(Message("user", text))

    def _block(self, turn: _Turn, block: Any, at: str) -> None:
        if not isinstance(block, dict):
            raise RequestError(f"{at}: Input should be a valid dictionary or object", param=at)
        kind = block.get("type")
        if kind == "text":
            if not isinstance(block.get("text"), str):
                raise RequestError(f"{at}.text: Field required", param=f"{at}.text")
            turn.texts.append(block["text"])
        elif kind == "tool_use":
            turn.calls.append(self._tool_use(turn.role, block, at))
        elif kind == "tool_result":
            turn.results.append(self._tool_result(turn.role, block, at))
        elif kind in _IGNORED_BLOCKS:
            source = block.get("source")
            if kind == "document" and isinstance(source, dict) and source.get("type") == "text":
                turn.texts.append(str(source.get("data", "")))
        else:
            raise RequestError(
                f"{at}: Input tag '{kind}' found using 'type' does not match any of the expected tags",
                param=f"{at}.type",
            )

    def _tool_use(self, role: str, block: dict[str, Any], at: str) -> ToolCall:
        if role != "assistant":
            raise RequestError(
                f"{at}: tool_use blocks may only appear in assistant messages", param=at
            )
        for name in ("id", "name"):
            if not isinstance(block.get(name), str):
                raise RequestError(f"{at}.{name}: Field required", param=f"{at}.{name}")
        if not isinstance(block.get("input"), dict):
            raise RequestError(
                f"{at}.input: Input should be a valid dictionary", param=f"{at}.input"
            )
        self.names[block["id"]] = block["name"]
        return ToolCall(block["name"], json.dumps(block["input"]), block["id"])

    def _tool_result(self, role: str, block: dict[str, Any], at: str) -> ToolResult:
        if role != "user":
            raise RequestError(
                f"{at}: tool_result blocks may only appear in user messages", param=at
            )
        use_id = block.get("tool_use_id")
        if not isinstance(use_id, str):
            raise RequestError(f"{at}.tool_use_id: Field required", param=f"{at}.tool_use_id")
        if use_id not in self.pending_uses:
            raise RequestError(
                f"{at}: unexpected `tool_use_id` found in `tool_result` blocks: {use_id}. Each "
                "`tool_result` block must have a corresponding `tool_use` block in the previous message.",
                param=f"{at}.tool_use_id",
            )
        raw_content = block.get("content", "")
        text = _text_blocks(raw_content, f"{at}.content") if raw_content is not None else ""
        return ToolResult(use_id, text, bool(block.get("is_error")), self.names.get(use_id))


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
