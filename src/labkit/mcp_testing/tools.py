"""Talk to an MCP server from synchronous test code, with plain data in and out.

Tests (and anything that may later run across a process boundary) should see MCP results as
plain data, not SDK objects: :func:`list_tools` gives ``[{"name", "description", "input_schema",
"output_schema", "annotations"}]`` and :func:`call_tool` gives ``{"is_error", "text",
"structured"}``. ``target`` is an ``MCPServer`` (in-memory) or an ``http://…/mcp`` URL
(streamable HTTP); each helper opens one client session and closes it.
"""

from __future__ import annotations

from typing import Any

import anyio


def tool_to_dict(tool: Any) -> dict[str, Any]:
    """An ``mcp.types.Tool`` as plain data (annotations with snake_case keys, unset ones dropped)."""
    annotations = tool.annotations.model_dump(exclude_none=True) if tool.annotations else {}
    return {
        "name": tool.name,
        "description": tool.description or "",
        "input_schema": dict(tool.input_schema or {}),
        "output_schema": dict(tool.output_schema) if tool.output_schema else None,
        "annotations": annotations,
    }


def result_to_dict(result: Any) -> dict[str, Any]:
    """A ``CallToolResult`` as ``{"is_error", "text", "structured"}`` (text blocks joined)."""
    text = "".join(getattr(block, "text", "") for block in result.content or [])
    return {
        "is_error": bool(result.is_error),
        "text": text,
        "structured": result.structured_content,
    }


def list_tools(target: Any, timeout: float | None = None) -> list[dict[str, Any]]:
    """The tools ``target`` offers, as plain data (see :func:`tool_to_dict`); ``TimeoutError``
    after ``timeout`` seconds (a server in another process that does not answer)."""
    from mcp import Client

    async def run() -> list[dict[str, Any]]:
        with anyio.fail_after(timeout):
            async with Client(target) as client:
                listed = await client.list_tools()
                return [tool_to_dict(t) for t in listed.tools]

    return anyio.run(run)


def call_tool(
    target: Any, name: str, arguments: dict[str, Any] | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """Call one tool and return the result as plain data (see :func:`result_to_dict`).

    The tools are listed first, as a real agent would, so the client can check results against
    their output schemas; a result failing that check comes back as
    ``{"is_error": True, "text": "invalid result: …", "structured": None}``. ``TimeoutError``
    after ``timeout`` seconds, as for :func:`list_tools`.
    """
    from mcp import Client

    async def run() -> dict[str, Any]:
        with anyio.fail_after(timeout):
            return await session()

    async def session() -> dict[str, Any]:
        async with Client(target) as client:
            await client.list_tools()
            try:
                result = await client.call_tool(name, arguments or {})
            except RuntimeError as exc:
                return {"is_error": True, "text": f"invalid result: {exc}", "structured": None}
            return result_to_dict(result)

    return anyio.run(run)


class McpProbe:
    """A client for one MCP ``target`` whose methods return plain data — what a grader holds, as
    a handle, for a server living in the worker process (recipe ``mcp_probe``): the session runs
    where the server is, only dicts and lists cross back."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def list_tools(self) -> list[dict[str, Any]]:
        """:func:`list_tools` of the target."""
        return list_tools(self.target)

    def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """:func:`call_tool` on the target (one session per call)."""
        return call_tool(self.target, name, arguments)
