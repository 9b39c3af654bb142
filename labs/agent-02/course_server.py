"""Task 1: an MCP server with the course's tools.

Three tools an agent can discover and call over MCP: a knowledge-base search, read-only SQL over
the shop, and a refund — the one tool that changes anything, so it says so
(``destructive_hint``) and clients can ask a human first. Typed parameters become the tools'
JSON Schemas; pydantic return types become structured results (and output schemas); a
``ToolError`` carries a message the model can act on.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from labkit.mcp_testing.course import KbHit, KbResults, QueryResult, Refund, search_passages

MAX_ROWS = 50
MAX_K = 10
REFUNDABLE = ("paid", "shipped", "delivered")


# --- given: what the tools return ----------------------------------------------------------
# KbHit(passage_id, doc_id, title, text, score), KbResults(results), QueryResult(columns, rows,
# truncated) and Refund(order_id, status, amount): pydantic models from labkit.mcp_testing.course
# (the course's own server returns the same types, so the tests compare like with like).


# --- task 1 ----------------------------------------------------------------------------------


def build_server(db_path: str | Path) -> MCPServer:
    """An MCP server named ``course`` with the tools ``search_kb``, ``query_shop`` and
    ``refund_order`` over the shop database at ``db_path`` (contract: README, task 1).

    Args:
        db_path: the shop SQLite file. ``query_shop`` opens it read-only; only
            ``refund_order`` writes.

    Returns:
        The server (serve it in memory with ``mcp.Client(server)`` or over HTTP).
    """
    raise NotImplementedError("not implemented yet — see task 1")
