"""A streaming, multi-turn chatbot that speaks both the OpenAI and the Anthropic API.

The conversation is kept in one neutral format (``{"role": "user" | "assistant", "content": str}``
messages, oldest first, no system message); each SDK's request is built from it at send time, after
trimming the oldest turns so the request fits a token budget.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import anthropic
import httpx
import httpx2
import openai

from labkit import config
from labkit.tokens import count_tokens

if TYPE_CHECKING:
    from labkit.config import Sdk

# Every message costs its text plus a few tokens of framing (role markers, separators), as in
# OpenAI's own token-counting recipe. The system prompt counts as one message too.
TOKENS_PER_MESSAGE = 4

PERSONA = (
    "You are Pip, a cheerful and patient study buddy for software engineers learning AI "
    "engineering. Answer in plain language, in at most a few short paragraphs, and say so when "
    "you are not sure."
)


class Message(TypedDict):
    """One turn of the conversation, in the format both SDKs accept."""

    role: Literal["system", "user", "assistant"]
    content: str


def count_message_tokens(messages: Sequence[Message]) -> int:
    """Count what ``messages`` cost in the context window.

    Args:
        messages: messages with a ``content`` string (the system prompt may be one of them).

    Returns:
        The sum over messages of ``TOKENS_PER_MESSAGE`` + the content's tokens, counted with
        ``labkit.tokens.count_tokens``.
    """
    return sum(TOKENS_PER_MESSAGE + count_tokens(m["content"]) for m in messages)


def trim_history(history: Sequence[Message], budget: int, system_prompt: str) -> list[Message]:
    """Drop the oldest user/assistant pairs until the request fits the budget.

    The request is the system prompt (counted as one message) plus the kept messages.

    Args:
        history: the conversation, oldest first, ending with the newest user message.
        budget: the most tokens the request may use (system prompt included).
        system_prompt: the system prompt, which is always sent and always counted.

    Returns:
        A new list: the newest part of ``history`` that fits, starting with a user message.
        The newest user message is kept even when it alone exceeds the budget.
        ``history`` itself is not modified.
    """
    system: Message = {"role": "system", "content": system_prompt}
    costs = [count_message_tokens([m]) for m in history]
    total = count_message_tokens([system]) + sum(costs)
    start = 0
    while total > budget and len(history) - start > 1:
        total -= costs[start] + costs[start + 1]  # a whole user/assistant pair
        start += 2
    return list(history[start:])


def _sampling(temperature: float | None, top_p: float | None) -> dict[str, float]:
    """Only the sampling parameters that were set (some models reject both at once)."""
    params: dict[str, float] = {}
    if temperature is not None:
        params["temperature"] = temperature
    if top_p is not None:
        params["top_p"] = top_p
    return params


def to_openai_request(
    system_prompt: str,
    messages: Sequence[Message],
    *,
    model: str,
    max_tokens: int,
    temperature: float | None = None,
    top_p: float | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``client.chat.completions.create`` (streaming).

    Args:
        system_prompt: the persona; sent as the first message, with role ``system``.
        messages: the (already trimmed) conversation, ending with the newest user message.
        model: the model id.
        max_tokens: the longest reply allowed.
        temperature: sampling temperature, or None to leave it out of the request.
        top_p: nucleus sampling, or None to leave it out of the request.

    Returns:
        The request as a dict, with ``stream`` set to True.
    """
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": system_prompt},
            *({"role": m["role"], "content": m["content"]} for m in messages),
        ],
        "max_tokens": max_tokens,
        "stream": True,
        **_sampling(temperature, top_p),
    }


def to_anthropic_request(
    system_prompt: str,
    messages: Sequence[Message],
    *,
    model: str,
    max_tokens: int,
    temperature: float | None = None,
    top_p: float | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``client.messages.create`` (streaming).

    Args:
        system_prompt: the persona; sent as the top-level ``system`` field, not as a message.
        messages: the (already trimmed) conversation, ending with the newest user message.
        model: the model id.
        max_tokens: the longest reply allowed (required by the Messages API).
        temperature: sampling temperature, or None to leave it out of the request.
        top_p: nucleus sampling, or None to leave it out of the request.

    Returns:
        The request as a dict, with ``stream`` set to True. The anthropic SDK (1.0 and later) has
        no ``temperature`` / ``top_p`` arguments any more: the ones that are set go in
        ``extra_body``, which the SDK merges into the JSON body.
    """
    request: dict[str, Any] = {
        "model": model,
        "system": system_prompt,
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        "max_tokens": max_tokens,
        "stream": True,
    }
    sampling = _sampling(temperature, top_p)
    if sampling:
        request["extra_body"] = sampling
    return request


def stream_openai(client: openai.OpenAI, request: dict[str, Any]) -> Iterator[str]:
    """Send a streaming Chat Completions request and yield the reply's text pieces.

    Args:
        client: an ``openai.OpenAI`` client.
        request: keyword arguments from ``to_openai_request``.

    Yields:
        Each non-empty ``delta.content`` as soon as its chunk arrives.
    """
    with client.chat.completions.create(**request) as stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


def stream_anthropic(client: anthropic.Anthropic, request: dict[str, Any]) -> Iterator[str]:
    """Send a streaming Messages request and yield the reply's text pieces.

    Args:
        client: an ``anthropic.Anthropic`` client.
        request: keyword arguments from ``to_anthropic_request``.

    Yields:
        The text of each ``content_block_delta`` event whose delta is a ``text_delta``.
    """
    with client.messages.create(**request) as stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                yield event.delta.text


class ChatSession:
    """One conversation with a model: a persona, the history, and the request settings."""

    def __init__(
        self,
        client: openai.OpenAI | anthropic.Anthropic,
        *,
        sdk: Sdk | None = None,
        system_prompt: str = PERSONA,
        model: str | None = None,
        budget_tokens: int = 1500,
        temperature: float | None = 0.7,
        top_p: float | None = None,
        max_tokens: int = 300,
    ) -> None:
        """Start an empty conversation.

        Args:
            client: an ``openai.OpenAI`` or ``anthropic.Anthropic`` client (from ``labkit.config``).
            sdk: which API ``client`` speaks; default ``labkit.config.default_sdk()``.
            system_prompt: the persona, sent with every request.
            model: the model id; default ``labkit.config.chat_model()``.
            budget_tokens: the most tokens a request may use (see ``count_message_tokens``).
            temperature: sampling temperature, or None for the provider's default.
            top_p: nucleus sampling, or None for the provider's default.
            max_tokens: the longest reply allowed.
        """
        self.client = client
        self.sdk: Sdk = sdk or config.default_sdk()
        self.system_prompt = system_prompt
        self.model = model or config.chat_model()
        self.budget_tokens = budget_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self._history: list[Message] = []

    @property
    def history(self) -> list[Message]:
        """The conversation so far (user and assistant messages, oldest first; a copy)."""
        return list(self._history)

    def reset(self) -> None:
        """Forget the conversation; the persona and the settings stay."""
        self._history = []

    def send(self, user_text: str) -> Iterator[str]:
        """Send ``user_text`` and yield the reply's text pieces as they arrive.

        The turn (user message + full reply) is added to the history only when the stream ends
        normally; if the provider fails, the exception propagates and the history is unchanged.

        Args:
            user_text: what the user typed.

        Yields:
            The reply, piece by piece, as the provider streams it.
        """
        turn: list[Message] = [*self._history, {"role": "user", "content": user_text}]
        window = trim_history(turn, self.budget_tokens, self.system_prompt)
        options: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }
        if self.sdk == "openai":
            assert isinstance(self.client, openai.OpenAI)
            pieces = stream_openai(
                self.client, to_openai_request(self.system_prompt, window, **options)
            )
        else:
            assert isinstance(self.client, anthropic.Anthropic)
            pieces = stream_anthropic(
                self.client, to_anthropic_request(self.system_prompt, window, **options)
            )
        reply: list[str] = []
        for piece in pieces:
            reply.append(piece)
            yield piece
        self._history = [*turn, {"role": "assistant", "content": "".join(reply)}]


def friendly_error(exc: BaseException) -> str | None:
    """A one-line message for a provider failure, or None if ``exc`` is not one (a bug).

    Args:
        exc: the exception raised while sending a message.

    Returns:
        What to tell the user (one line, no traceback; an HTTP error names its status code),
        or None to let the exception propagate.
    """
    if isinstance(exc, (openai.APITimeoutError, anthropic.APITimeoutError)):
        return "The model provider took too long to answer. Try again in a moment."
    if isinstance(exc, (openai.APIConnectionError, anthropic.APIConnectionError)):
        return "Could not connect to the model provider. Check your network and try again."
    if isinstance(exc, (httpx.TransportError, httpx2.TransportError)):
        # The SDKs do not wrap transport errors raised while a stream is being read.
        return "The connection to the model provider dropped mid-reply. Try again."
    if (
        isinstance(exc, (openai.APIStatusError, anthropic.APIStatusError))
        and exc.status_code >= 400
    ):
        status = exc.status_code
        if status in (401, 403):
            return f"The model provider refused the API key (HTTP {status}). Check your key."
        if status == 429:
            return "The model provider is rate-limiting us (HTTP 429). Wait a little and try again."
        if status >= 500:
            return f"The model provider is unavailable (HTTP {status}). Try again in a moment."
        return f"The model provider rejected the request (HTTP {status})."
    if isinstance(exc, (openai.APIError, anthropic.APIError)):
        # An error event inside a stream (the HTTP status was 200).
        return "The model provider failed in the middle of the reply. Try again."
    return None
