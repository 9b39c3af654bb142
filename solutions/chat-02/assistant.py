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
    return [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool["description"],
                "parameters": tool["parameters"],
                "strict": True,
            },
        }
        for tool in definitions
    ]


def anthropic_tools(definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Convert provider-neutral definitions for the Anthropic Messages ``tools=`` parameter.

    Args:
        definitions: ``[{"name", "description", "parameters"}]`` as from ``tool_definitions()``.

    Returns:
        ``[{"name", "description", "input_schema"}]``, same order.
    """
    return [
        {
            "name": tool["name"],
            "description": tool["description"],
            "input_schema": tool["parameters"],
        }
        for tool in definitions
    ]


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
    tools = openai_tools(tool_definitions())
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": question},
    ]
    records: list[ToolCallRecord] = []
    for calls in range(1, max_model_calls + 1):
        response = client.chat.completions.create(
            model=model,
            messages=messages,  # type: ignore[arg-type]
            tools=tools,  # type: ignore[arg-type]
        )
        message = response.choices[0].message
        tool_calls = [call for call in message.tool_calls or [] if call.type == "function"]
        if not tool_calls:
            return Answer(message.content or "", calls, complete=True, tool_calls=records)
        if calls == max_model_calls:
            break  # results would never reach the model: stop here
        # Echo the assistant turn exactly (ids and raw argument strings), then one tool message
        # per call, in the same order, each carrying the id of the call it answers.
        messages.append(
            {
                "role": "assistant",
                "content": message.content,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {
                            "name": call.function.name,
                            "arguments": call.function.arguments,
                        },
                    }
                    for call in tool_calls
                ],
            }
        )
        for call in tool_calls:
            result = execute_tool(conn, call.function.name, call.function.arguments)
            records.append(
                ToolCallRecord(call.id, call.function.name, call.function.arguments, result)
            )
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result.content})
    return Answer(
        limit_message(max_model_calls), max_model_calls, complete=False, tool_calls=records
    )


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
    tools = anthropic_tools(tool_definitions())
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    records: list[ToolCallRecord] = []
    for calls in range(1, max_model_calls + 1):
        response = client.messages.create(
            model=model,
            max_tokens=MAX_TOKENS,
            system=SYSTEM_PROMPT,
            messages=messages,  # type: ignore[arg-type]
            tools=tools,  # type: ignore[arg-type]
        )
        tool_uses = [block for block in response.content if block.type == "tool_use"]
        if not tool_uses:
            text = "".join(block.text for block in response.content if block.type == "text")
            return Answer(text, calls, complete=True, tool_calls=records)
        if calls == max_model_calls:
            break
        # The assistant turn goes back as the SDK returned it: the SDK serialises the blocks
        # exactly as the server sent them (text and tool_use, with their ids).
        messages.append({"role": "assistant", "content": response.content})
        results: list[dict[str, Any]] = []
        for block in tool_uses:
            result = execute_tool(conn, block.name, block.input)
            records.append(ToolCallRecord(block.id, block.name, block.input, result))
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": block.id,
                    "content": result.content,
                    "is_error": result.is_error,
                }
            )
        # All results of one turn travel together, in ONE user message, in the order asked.
        messages.append({"role": "user", "content": results})
    return Answer(
        limit_message(max_model_calls), max_model_calls, complete=False, tool_calls=records
    )


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
