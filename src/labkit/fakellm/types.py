"""The two data types everything in the fake provider is built around.

- :class:`ChatRequest`: one generation request, normalised from whichever wire protocol it arrived
  on (OpenAI Chat Completions, OpenAI Responses, Anthropic Messages). Behaviours, handlers and lab
  tests read this one shape instead of three JSON dialects.
- :class:`Reply`: what the fake should answer — text, tool calls (raw argument strings, possibly
  invalid JSON on purpose), finish reason — and how: streamed in which pieces, how slowly, failing
  with an HTTP error, an error in mid-stream or a dropped connection. The protocol modules render a
  Reply in the dialect of the request.

Both are plain dataclasses so a test can build, compare and print them without a server.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, get_args

Api = Literal["openai", "anthropic"]
Endpoint = Literal["chat", "responses", "messages", "embeddings"]
Role = Literal["user", "assistant", "tool"]
ToolChoice = Literal["auto", "none", "required"]
ResponseFormat = Literal["text", "json_object", "json_schema"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]

API_NAMES: tuple[str, ...] = get_args(Api)
ENDPOINT_NAMES: tuple[str, ...] = get_args(Endpoint)
FINISH_REASONS: tuple[str, ...] = get_args(FinishReason)


class RequestError(Exception):
    """A request the real API would reject: rendered as a 4xx in the provider's own error shape.

    ``param`` names the offending field the way that provider does (``messages[2].tool_call_id``
    for OpenAI, ``messages.2.content.0.tool_use_id`` for Anthropic), because that field name is
    what a learner needs to see to fix their code.
    """

    def __init__(
        self, message: str, *, param: str | None = None, status: int = 400, kind: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status
        self.kind = kind


# --------------------------------------------------------------------------- the request


@dataclass(frozen=True)
class ToolCall:
    """A call to a tool, as the assistant makes it.

    ``arguments`` is the raw JSON text exactly as it travels on the wire. It may deliberately be
    invalid JSON (a test of a learner's error handling); ``id`` is assigned by the server when None.
    """

    name: str
    arguments: str = "{}"
    id: str | None = None

    def parsed_arguments(self) -> Any:
        """The arguments decoded from JSON, or None when they are not valid JSON."""
        try:
            return json.loads(self.arguments)
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True)
class ToolResult:
    """The output of a tool, sent back by the client (OpenAI ``tool`` message / Anthropic
    ``tool_result`` block / Responses ``function_call_output``)."""

    call_id: str
    content: str
    is_error: bool = False
    tool_name: str | None = None  # resolved from the assistant turn that made the call


@dataclass(frozen=True)
class Message:
    """One conversation turn. System/developer text is not a message: see ChatRequest.system."""

    role: Role
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()


@dataclass(frozen=True)
class ToolSpec:
    """A tool the client offers: name, description and the JSON Schema of its arguments."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    strict: bool = False


@dataclass
class ChatRequest:
    """A generation request normalised from any of the three protocols.

    ``tool_choice`` is ``auto`` / ``none`` / ``required`` (Anthropic ``any`` becomes ``required``);
    a choice naming one tool sets ``forced_tool``. ``response_format`` is ``text``,
    ``json_object`` or ``json_schema`` (then ``response_schema`` holds the schema; for Anthropic
    it stays ``text``: Anthropic asks for structure through a forced tool). ``raw`` is the parsed
    JSON body exactly as received.
    """

    api: Api
    endpoint: Endpoint
    model: str
    system: str = ""
    messages: list[Message] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice = "auto"
    forced_tool: str | None = None
    parallel_tool_calls: bool = True
    response_format: ResponseFormat = "text"
    response_schema: dict[str, Any] | None = None
    schema_name: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    n: int = 1
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False
    raw: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def last_message(self) -> Message | None:
        """The final turn of the conversation (None for an empty one)."""
        return self.messages[-1] if self.messages else None

    @property
    def user_texts(self) -> list[str]:
        """The text of every user turn, oldest first."""
        return [m.text for m in self.messages if m.role == "user"]

    @property
    def last_user_text(self) -> str:
        """Text of the latest user turn ("" when there is none)."""
        texts = self.user_texts
        return texts[-1] if texts else ""

    @property
    def trailing_tool_results(self) -> list[ToolResult]:
        """Tool results at the end of the conversation (the turn the model must now answer)."""
        results: list[ToolResult] = []
        for message in reversed(self.messages):
            if message.role != "tool":
                break
            results[:0] = list(message.tool_results)
        return results

    def tool(self, name: str) -> ToolSpec | None:
        """The offered tool called ``name``, if any."""
        return next((t for t in self.tools if t.name == name), None)

    def prompt_texts(self) -> list[str]:
        """Every piece of prompt text (system, turns, tool calls and results, tool schemas), in
        order: what the token count of the prompt is computed from."""
        parts = [self.system] if self.system else []
        for m in self.messages:
            if m.text:
                parts.append(m.text)
            parts.extend(f"{c.name} {c.arguments}" for c in m.tool_calls)
            parts.extend(r.content for r in m.tool_results)
        for t in self.tools:
            parts.append(f"{t.name} {t.description} {json.dumps(t.parameters, sort_keys=True)}")
        return parts


# --------------------------------------------------------------------------- the reply


@dataclass(frozen=True)
class Usage:
    """Token counts to report instead of the computed ones (None keeps the computed value)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None  # of prompt_tokens, read from the provider's prompt cache


@dataclass(frozen=True)
class HttpError:
    """Answer with an HTTP error instead of a completion.

    ``type``/``code``/``param`` default to what the provider sends for that status; ``body``
    replaces the whole JSON body when given (for a test of odd error bodies); ``headers`` are sent
    as they are (``retry-after-ms``, ``retry-after``, ``x-should-retry``...).
    """

    status: int
    message: str = ""
    type: str | None = None
    code: str | None = None
    param: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class StreamError:
    """Fail a stream after ``after`` content chunks have been sent.

    OpenAI: a ``data: {"error": {...}}`` chunk (the SDK raises APIError); Anthropic: an
    ``event: error`` frame (``type`` defaults to ``overloaded_error``). The stream then ends
    without ``[DONE]`` / ``message_stop``. Non-streaming requests get the same error as a 500.
    """

    message: str = "The server had an error while processing your request."
    type: str | None = None
    after: int = 1


@dataclass(frozen=True)
class Reply:
    """What the fake answers to one generation request, and how.

    Content: ``text`` and/or ``tool_calls``; ``finish_reason`` defaults to ``tool_calls`` when
    there are calls, else ``stop`` — or ``length`` when the text is longer than the request's
    ``max_tokens`` (it is then cut to ``max_tokens`` tokens, as a real model would be). Set
    ``finish_reason="content_filter"`` for a reply a safety filter stopped: OpenAI's
    ``finish_reason`` says so and the text is what got through; Anthropic's ``stop_reason`` is
    ``refusal`` (``anthropic.response.FINISH_TO_STOP``). openai's ``chat.completions.parse`` and a
    ``chat.completions.stream(...)``'s ``get_final_completion()`` raise
    ``ContentFilterFinishReasonError`` on it, as they would against the real API.

    Streaming: the text is sent as ``chunks`` if given (they then ARE the text, streamed or
    not), else in pieces of ``chunk_size`` characters, else word by word, with ``chunk_delay``
    seconds between chunks (None: the server's ``stream_delay``). ``text_stream`` is an iterator
    of text pieces produced lazily (a real local model generating token by token); it is
    consumed once, and stop sequences / max_tokens are then the producer's job. If the iterable
    has a ``finish_reason`` attribute once exhausted (e.g. ``"length"``), that becomes the
    reply's finish reason.

    Faults: ``delay`` seconds before the response headers; ``error`` answers with an HTTP error;
    ``stream_error`` fails in mid-stream; ``drop_after`` closes the connection after that many
    chunks (for a non-streaming request: after the headers and half of the body).

    Routing: ``api`` / ``endpoint`` restrict which requests may consume this reply from a script
    (a reply restricted to ``embeddings`` is the only way to script the embeddings endpoint).
    """

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    chunks: tuple[str, ...] | None = None
    chunk_size: int | None = None
    chunk_delay: float | None = None
    delay: float = 0.0
    error: HttpError | None = None
    stream_error: StreamError | None = None
    drop_after: int | None = None
    api: Api | None = None
    endpoint: Endpoint | None = None
    text_stream: Iterable[str] | None = field(default=None, compare=False, repr=False)

    # -- fluent modifiers: each returns a new Reply, so builders compose -------------------------

    def streamed(
        self,
        *,
        chunks: Iterable[str] | None = None,
        chunk_size: int | None = None,
        delay: float | None = None,
    ) -> Reply:
        """This reply, streamed in the given pieces / piece size with ``delay`` s between chunks."""
        return replace(
            self,
            chunks=tuple(chunks) if chunks is not None else self.chunks,
            chunk_size=chunk_size if chunk_size is not None else self.chunk_size,
            chunk_delay=delay if delay is not None else self.chunk_delay,
        )

    def slow(self, seconds: float) -> Reply:
        """This reply, sent only after ``seconds`` (before the headers: trips client timeouts)."""
        return replace(self, delay=seconds)

    def dropping(self, after: int = 1) -> Reply:
        """This reply, with the connection closed after ``after`` chunks."""
        return replace(self, drop_after=after)

    def failing(
        self, message: str | None = None, *, after: int = 1, type: str | None = None
    ) -> Reply:
        """This reply, failing in mid-stream after ``after`` chunks."""
        return replace(
            self,
            stream_error=StreamError(
                message=message or StreamError.message, type=type, after=after
            ),
        )

    def only_for(self, api: Api | None = None, endpoint: Endpoint | None = None) -> Reply:
        """This reply, consumable only by requests on that API and/or endpoint."""
        return replace(self, api=api, endpoint=endpoint)

    def with_usage(
        self, prompt_tokens: int | None = None, completion_tokens: int | None = None
    ) -> Reply:
        """This reply, reporting these token counts instead of the computed ones."""
        return replace(self, usage=Usage(prompt_tokens, completion_tokens))

    # -- JSON form, for POST /__labkit/script --------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON description of this reply (what ``POST /__labkit/script`` accepts)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "text_stream" or value is None or value == () or value == f.default:
                continue
            if f.name == "tool_calls":
                value = [{"name": c.name, "arguments": c.arguments, "id": c.id} for c in value]
            elif f.name == "chunks":
                value = list(value)
            elif f.name in ("usage", "stream_error"):
                value = dict(vars(value))
            elif f.name == "error":
                value = {**vars(value), "headers": dict(value.headers)}
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reply:
        """Build a Reply from its JSON description; unknown or ill-typed keys raise RequestError."""
        if not isinstance(data, Mapping):
            raise RequestError("each reply must be a JSON object", param="replies")
        known = {f.name for f in fields(cls)} - {"text_stream"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RequestError(
                f"unknown reply field(s) {unknown}; known: {sorted(known)}", param=unknown[0]
            )
        kwargs: dict[str, Any] = dict(data)
        try:
            if "tool_calls" in data:
                kwargs["tool_calls"] = tuple(
                    ToolCall(
                        name=str(c["name"]),
                        arguments=c.get("arguments", "{}")
                        if isinstance(c.get("arguments", "{}"), str)
                        else json.dumps(c["arguments"]),
                        id=c.get("id"),
                    )
                    for c in data["tool_calls"]
                )
            if "chunks" in data and data["chunks"] is not None:
                kwargs["chunks"] = tuple(str(c) for c in data["chunks"])
            if "usage" in data and data["usage"] is not None:
                kwargs["usage"] = Usage(**data["usage"])
            if "stream_error" in data and data["stream_error"] is not None:
                kwargs["stream_error"] = StreamError(**data["stream_error"])
            if "error" in data and data["error"] is not None:
                err = dict(data["error"])
                err["headers"] = {str(k): str(v) for k, v in (err.get("headers") or {}).items()}
                kwargs["error"] = HttpError(**err)
        except (KeyError, TypeError) as exc:
            raise RequestError(f"invalid reply description: {exc}", param="replies") from exc
        reply = cls(**kwargs)
        reply.validate()
        return reply

    def validate(self) -> None:
        """Reject contradictory or out-of-range settings early, in the test that wrote them."""
        if self.finish_reason is not None and self.finish_reason not in FINISH_REASONS:
            raise RequestError(
                f"finish_reason must be one of {FINISH_REASONS}, not {self.finish_reason!r}",
                param="finish_reason",
            )
        if self.api is not None and self.api not in API_NAMES:
            raise RequestError(f"api must be one of {API_NAMES}", param="api")
        if self.endpoint is not None and self.endpoint not in ENDPOINT_NAMES:
            raise RequestError(f"endpoint must be one of {ENDPOINT_NAMES}", param="endpoint")
        if self.error is not None and not 400 <= self.error.status <= 599:
            raise RequestError("error.status must be an HTTP error status (400-599)", param="error")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise RequestError("chunk_size must be at least 1", param="chunk_size")
        for name in ("delay", "chunk_delay"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise RequestError(f"{name} must not be negative", param=name)

    def accepts(self, api: Api, endpoint: Endpoint) -> bool:
        """Whether a request on ``api``/``endpoint`` may consume this reply from the script.

        Embedding requests consume only replies explicitly restricted to ``embeddings``, so a
        script of chat replies is never eaten by an embedding call made in between.
        """
        if self.api is not None and self.api != api:
            return False
        if endpoint == "embeddings" or self.endpoint == "embeddings":
            return self.endpoint == endpoint
        return self.endpoint is None or self.endpoint == endpoint
