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
    db = Path(db_path)
    server = MCPServer("course", log_level="WARNING")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    def search_kb(
        query: Annotated[str, Field(description="A few words to look for in the knowledge base.")],
        k: Annotated[int, Field(description=f"How many passages to return, 1-{MAX_K}.")] = 3,
    ) -> KbResults:
        """Search the Tessaline knowledge base (policies, manuals, API docs, runbooks); returns
        the best-matching passages with their document ids."""
        if not query.strip():
            raise ToolError("query is empty: pass a few words to search for")
        if not 1 <= k <= MAX_K:
            raise ToolError(f"k must be between 1 and {MAX_K}, got {k}")
        return KbResults(results=[KbHit(**hit) for hit in search_passages(query, k)])

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    def query_shop(
        sql: Annotated[
            str,
            Field(
                description="One SQLite SELECT statement over customers, products, orders, "
                "order_items (money in *_cents columns)."
            ),
        ],
    ) -> QueryResult:
        """Run one read-only SELECT on the shop database; returns at most 50 rows."""
        statement = sql.strip().rstrip(";").strip()
        # Two locks: the statement must look like a single SELECT, and the connection is
        # read-only anyway (mode=ro), so a clever statement still cannot write.
        if not re.match(r"(?is)^(select|with)\b", statement) or ";" in statement:
            raise ToolError("only one SELECT statement is allowed (the shop data is read-only)")
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            cursor = conn.execute(statement)
            rows = cursor.fetchmany(MAX_ROWS + 1)
            columns = [c[0] for c in cursor.description or ()]
        except sqlite3.Error as exc:
            raise ToolError(
                f"SQL error: {exc}; the tables are customers, products, orders, order_items"
            ) from exc
        finally:
            conn.close()
        return QueryResult(
            columns=columns,
            rows=[list(r) for r in rows[:MAX_ROWS]],
            truncated=len(rows) > MAX_ROWS,
        )

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=False))
    def refund_order(
        order_id: Annotated[str, Field(description="The order to refund, e.g. O-5001.")],
        reason: Annotated[str, Field(description="Why the customer gets the refund.")],
    ) -> Refund:
        """Refund a paid, shipped or delivered order in full. Changes the shop's data and moves
        money: ask the user first."""
        conn = sqlite3.connect(db)
        try:
            row = conn.execute(
                "SELECT status FROM orders WHERE order_id = ?", (order_id,)
            ).fetchone()
            if row is None:
                raise ToolError(f"no order with id {order_id!r}: order ids look like O-5001")
            if row[0] not in REFUNDABLE:
                raise ToolError(f"order {order_id} cannot be refunded: it is {row[0]}")
            with conn:
                conn.execute(
                    "UPDATE orders SET status = 'refunded' WHERE order_id = ?", (order_id,)
                )
            (cents,) = conn.execute(
                "SELECT COALESCE(SUM(quantity * unit_price_cents), 0) FROM order_items "
                "WHERE order_id = ?",
                (order_id,),
            ).fetchone()
            return Refund(order_id=order_id, status="refunded", amount=cents / 100)
        finally:
            conn.close()

    return server
