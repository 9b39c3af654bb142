"""A streaming, multi-turn chatbot that speaks both the OpenAI and the Anthropic API.

The conversation is kept in one neutral format (``{"role": "user" | "assistant", "content": str}``
messages, oldest first, no system message); each SDK's request is built from it at send time, after
trimming the oldest turns so the request fits a token budget.

Your job: replace every ``raise NotImplementedError`` below (README.md, "Tasks", says in which
order). ``cli.py`` is given and calls this module.
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

# The persona. Make it yours: the grader never reads it.
PERSONA = (
    "You are Pip, a cheerful and patient study buddy for software engineers learning AI "
    "engineering. Answer in plain language, in at most a few short paragraphs, and say so when "
    "you are not sure."
)


class Message(TypedDict):
    """One turn of the conversation, in the format both SDKs accept."""

    role: Literal["system", "user", "assistant"]
    content: str


# --- Task 1: count and trim -----------------------------------------------------------------


def count_message_tokens(messages: Sequence[Message]) -> int:
    """Count what ``messages`` cost in the context window.

    Args:
        messages: messages with a ``content`` string (the system prompt may be one of them).

    Returns:
        The sum over messages of ``TOKENS_PER_MESSAGE`` + the content's tokens, counted with
        ``labkit.tokens.count_tokens``.
    """
    raise NotImplementedError("not implemented yet — see task 1")


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
    raise NotImplementedError("not implemented yet — see task 1")


# --- Task 2: one request, two APIs ----------------------------------------------------------


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
    raise NotImplementedError("not implemented yet — see task 2")


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
    raise NotImplementedError("not implemented yet — see task 2")


# --- Task 3: stream ---------------------------------------------------------------------------


def stream_openai(client: openai.OpenAI, request: dict[str, Any]) -> Iterator[str]:
    """Send a streaming Chat Completions request and yield the reply's text pieces.

    Args:
        client: an ``openai.OpenAI`` client.
        request: keyword arguments from ``to_openai_request``.

    Yields:
        Each non-empty ``delta.content`` as soon as its chunk arrives.
    """
    raise NotImplementedError("not implemented yet — see task 3")


def stream_anthropic(client: anthropic.Anthropic, request: dict[str, Any]) -> Iterator[str]:
    """Send a streaming Messages request and yield the reply's text pieces.

    Args:
        client: an ``anthropic.Anthropic`` client.
        request: keyword arguments from ``to_anthropic_request``.

    Yields:
        The text of each ``content_block_delta`` event whose delta is a ``text_delta``.
    """
    raise NotImplementedError("not implemented yet — see task 3")


# --- Task 4: the session ----------------------------------------------------------------------


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
        raise NotImplementedError("not implemented yet — see task 4")

    @property
    def history(self) -> list[Message]:
        """The conversation so far (user and assistant messages, oldest first; a copy)."""
        raise NotImplementedError("not implemented yet — see task 4")

    def reset(self) -> None:
        """Forget the conversation; the persona and the settings stay."""
        raise NotImplementedError("not implemented yet — see task 4")

    def send(self, user_text: str) -> Iterator[str]:
        """Send ``user_text`` and yield the reply's text pieces as they arrive.

        The turn (user message + full reply) is added to the history only when the stream ends
        normally; if the provider fails, the exception propagates and the history is unchanged.

        Args:
            user_text: what the user typed.

        Yields:
            The reply, piece by piece, as the provider streams it.
        """
        raise NotImplementedError("not implemented yet — see task 4")


# --- Task 5: fail politely --------------------------------------------------------------------


def friendly_error(exc: BaseException) -> str | None:
    """A one-line message for a provider failure, or None if ``exc`` is not one (a bug).

    Args:
        exc: the exception raised while sending a message.

    Returns:
        What to tell the user (one line, no traceback; an HTTP error names its status code),
        or None to let the exception propagate.
    """
    raise NotImplementedError("not implemented yet — see task 5")
