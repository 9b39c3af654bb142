"""The shop assistant: a model that answers by calling tools, with either SDK.

The loop is the same for both providers: ask the model; if it asked for tools, run every one and
send every result back, paired to its call id; ask again; stop at a final answer or at the cap.
Only the wire formats differ (see the table in README.md): OpenAI sends a call's arguments as a
JSON *string* and wants one ``role: tool`` message per call; Anthropic sends an *object* in a
``tool_use`` block and wants all ``tool_result`` blocks of a turn in ONE user message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from shop_tools import ToolResult, execute_tool, open_db, tool_definitions

from labkit import config

if TYPE_CHECKING:
    import sqlite3

    import anthropic
    import openai

Sdk = Literal["openai", "anthropic"]

MAX_MODEL_CALLS = 5
MAX_TOKENS = 1024
SYSTEM_PROMPT = (
    "You are the support assistant of a small online shop. Answer questions about customers, "
    "orders and products by calling the tools; never guess ids, prices, stock or statuses. "
    "Prices are in US dollars. If a tool returns an error, correct the call or tell the user "
    "what you need from them. Answer briefly."
)


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call the model made, and what was sent back for it."""

    call_id: str
    name: str
    arguments: str | dict[str, Any]
    result: ToolResult


@dataclass
class Answer:
    """The outcome of one question.

    ``complete`` is False when the loop hit the model-call cap; ``text`` then says so.
    """

    text: str
    model_calls: int
    complete: bool
    tool_calls: list[ToolCallRecord] = field(default_factory=list)


def limit_message(max_model_calls: int) -> str:
    """What the user reads when the model was still calling tools at the cap."""
    return (
        f"Sorry, I could not finish: the model was still calling tools after {max_model_calls} "
        "model calls, the limit for one question. Try asking something more specific."
    )


# --- task 4: tool definitions in each provider's format --------------------------------------


def openai_tools(definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Wrap provider-neutral definitions for the OpenAI Chat Completions ``tools=`` parameter.

    Args:
        definitions: ``[{"name", "description", "parameters"}]`` as from ``tool_definitions()``.

    Returns:
        ``[{"type": "function", "function": {"name", "description", "parameters",
        "strict": True}}]``, same order.
    """
    raise NotImplementedError("not implemented yet — see task 4")


def anthropic_tools(definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Convert provider-neutral definitions for the Anthropic Messages ``tools=`` parameter.

    Args:
        definitions: ``[{"name", "description", "parameters"}]`` as from ``tool_definitions()``.

    Returns:
        ``[{"name", "description", "input_schema"}]``, same order.
    """
    raise NotImplementedError("not implemented yet — see task 4")


# --- task 5: the loop, OpenAI -----------------------------------------------------------------


def run_openai(
    client: openai.OpenAI,
    conn: sqlite3.Connection,
    question: str,
    *,
    model: str,
    max_model_calls: int = MAX_MODEL_CALLS,
) -> Answer:
    """Answer ``question`` with the OpenAI Chat Completions API and the shop tools.

    Args:
        client: a configured ``openai.OpenAI``.
        conn: the open shop database the tools read.
        question: the user's question.
        model: the model id to send.
        max_model_calls: the most ``chat.completions.create`` calls allowed for this question.

    Returns:
        The final answer (``complete=True``) or, at the cap, :func:`limit_message`
        (``complete=False``); ``model_calls`` and every tool call made.
    """
    raise NotImplementedError("not implemented yet — see task 5")


# --- task 5: the loop, Anthropic --------------------------------------------------------------


def run_anthropic(
    client: anthropic.Anthropic,
    conn: sqlite3.Connection,
    question: str,
    *,
    model: str,
    max_model_calls: int = MAX_MODEL_CALLS,
) -> Answer:
    """Answer ``question`` with the Anthropic Messages API and the shop tools.

    Args and Returns: as :func:`run_openai`, with an ``anthropic.Anthropic`` client; the cap
    counts ``messages.create`` calls.
    """
    raise NotImplementedError("not implemented yet — see task 5")


# --- given: choosing the SDK, the client and the database --------------------------------------


def _sdk_of(client: object) -> Sdk:
    import anthropic

    return "anthropic" if isinstance(client, anthropic.Anthropic) else "openai"


def answer(
    question: str,
    *,
    db_path: str | Path,
    client: openai.OpenAI | anthropic.Anthropic | None = None,
    sdk: Sdk | None = None,
    model: str | None = None,
    max_model_calls: int = MAX_MODEL_CALLS,
) -> Answer:
    """Answer one question about the shop. Everything environment-specific is a parameter.

    Args:
        question: the user's question.
        db_path: the shop database (opened read-only).
        client: an ``openai.OpenAI`` or ``anthropic.Anthropic``; default: from ``labkit.config``.
        sdk: ``"openai"`` or ``"anthropic"``; default: the client's kind, else ``LABKIT_SDK``.
        model: model id; default ``labkit.config.chat_model()``.
        max_model_calls: cap on model calls for this question.

    Returns:
        The :class:`Answer`.
    """
    chosen: Sdk = sdk or (_sdk_of(client) if client is not None else config.default_sdk())
    client = client if client is not None else config.client(chosen)
    model = model or config.chat_model()
    conn = open_db(db_path)
    try:
        run = run_anthropic if chosen == "anthropic" else run_openai
        return run(client, conn, question, model=model, max_model_calls=max_model_calls)  # type: ignore[arg-type]
    finally:
        conn.close()
