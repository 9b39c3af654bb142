"""The course's MCP tools, as the grader and ``labkit mcp-serve`` serve them.

Three tools over the course's data (the contract the agent-02 lab teaches; its learners write
their own server with the same tools):

- ``search_kb(query, k=3)`` (read-only): the ``k`` knowledge-base passages sharing the most
  content words with ``query`` (:func:`search_passages`), as
  ``{"results": [{"passage_id", "doc_id", "title", "text", "score"}]}``;
- ``query_shop(sql)`` (read-only): one ``SELECT`` (or ``WITH``) statement on the shop database,
  opened read-only, as ``{"columns": [...], "rows": [[...]], "truncated": bool}`` (at most
  :data:`MAX_ROWS` rows);
- ``refund_order(order_id, reason)`` (destructive): marks a ``paid``/``shipped``/``delivered``
  order ``refunded`` and returns ``{"order_id", "status", "amount"}`` (dollars).

``search_kb`` declares its bounds in its input schema (a non-blank ``query``, ``1 <= k <=``
:data:`MAX_K`), so clients see them and the SDK's validation refuses bad arguments before the tool
runs; the other tools' bad input is a ``ToolError`` with a message that says what to do, so the
model (and the learner) can read it. (The agent-02 lab asks learners for hand-written
``ToolError`` checks in their own ``search_kb``: this server does not ship that answer.)
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

MAX_ROWS = 50
MAX_K = 10
REFUNDABLE = ("paid", "shipped", "delivered")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    """a an and are as at be by can do does for from how i if in is it its of on or that the
    their there this to was what when where which who why will with you your""".split()
)


@dataclass(frozen=True)
class Passage:
    """One paragraph of a knowledge-base document."""

    passage_id: str  # "<doc_id>:<n>", n counting the document's paragraphs from 0
    doc_id: str
    title: str
    text: str


def words(text: str) -> set[str]:
    """Lower-case word tokens of ``text`` minus a few stop words (the search's only analysis)."""
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


@cache
def load_passages() -> tuple[Passage, ...]:
    """Every paragraph (blank-line separated, headings skipped) of the knowledge base's
    documents, in document order."""
    from labkit.datasets import load_documents

    found: list[Passage] = []
    for doc in load_documents():
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", doc.text)]
        kept = [p for p in paragraphs if p and not p.startswith("#")]
        found.extend(
            Passage(f"{doc.id}:{n}", doc.id, doc.title, " ".join(p.split()))
            for n, p in enumerate(kept)
        )
    return tuple(found)


def search_passages(query: str, k: int = 3) -> list[dict[str, Any]]:
    """The ``k`` passages sharing the most distinct query words (ties: document order), each as
    ``{"passage_id", "doc_id", "title", "text", "score"}``; passages sharing none are left out."""
    wanted = words(query)
    scored = [
        (len(wanted & words(p.text + " " + p.title)), i, p) for i, p in enumerate(load_passages())
    ]
    best = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))[:k]
    return [
        {
            "passage_id": p.passage_id,
            "doc_id": p.doc_id,
            "title": p.title,
            "text": p.text,
            "score": score,
        }
        for score, _, p in best
    ]


# --------------------------------------------------------------------------- result types


class KbHit(BaseModel):
    passage_id: str
    doc_id: str
    title: str
    text: str
    score: int


class KbResults(BaseModel):
    results: list[KbHit]


class QueryResult(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


class Refund(BaseModel):
    order_id: str
    status: str
    amount: float


def order_total(conn: sqlite3.Connection, order_id: str) -> float:
    """An order's total in dollars (sum of quantity × unit price paid)."""
    (cents,) = conn.execute(
        "SELECT COALESCE(SUM(quantity * unit_price_cents), 0) FROM order_items WHERE order_id = ?",
        (order_id,),
    ).fetchone()
    return int(cents) / 100


def build_course_server(db_path: Path | str | Callable[[], Path], name: str = "course") -> Any:
    """An ``MCPServer`` with the three course tools over the shop database at ``db_path``.

    ``db_path`` may be a callable returning the path, so one server can serve a fresh copy of
    the database per test (the grader's fixture swaps it).
    """
    from mcp.server.mcpserver import MCPServer

    def current_db() -> Path:
        return Path(db_path() if callable(db_path) else db_path)

    server = MCPServer(
        name,
        instructions="The course tools: knowledge base, shop data, refunds.",
        log_level="WARNING",
    )
    _add_search_kb(server)
    _add_query_shop(server, current_db)
    _add_refund_order(server, current_db)
    return server


def _add_search_kb(server: Any) -> None:
    from mcp.types import ToolAnnotations

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    def search_kb(
        query: Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1),
            Field(description="A few words to look for in the knowledge base."),
        ],
        k: Annotated[
            int, Field(ge=1, le=MAX_K, description=f"How many passages to return, 1-{MAX_K}.")
        ] = 3,
    ) -> KbResults:
        """Search the Tessaline knowledge base (policies, manuals, API docs, runbooks) and return
        the best-matching passages with their document ids."""
        # the bounds live in the input schema (minLength, minimum, maximum): the SDK's pydantic
        # validation refuses a blank query or k outside 1-MAX_K before this runs
        return KbResults(results=[KbHit(**hit) for hit in search_passages(query, k)])


def _add_query_shop(server: Any, current_db: Callable[[], Path]) -> None:
    from mcp.types import ToolAnnotations

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
        """Run one read-only SQL SELECT on the shop database and return the rows (at most
        50)."""
        return run_select(current_db(), sql)


ONLY_SELECT = "only one SELECT statement is allowed (the shop data is read-only)"
SQL_ERROR = "SQL error: {}; the tables are customers, products, orders, order_items"
# What a SELECT (with CTEs, recursive ones included, and functions) asks sqlite's permission for.
_READS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)


def run_select(db: Path, sql: str) -> QueryResult:
    """``query_shop``'s work: ``sql`` on ``db`` with every action but reading denied.

    The lock is sqlite's own: an authorizer that allows only the actions a SELECT needs, on a
    connection opened read-only, and ``execute``, which refuses a second statement. (The
    agent-02 reference guards the text of the statement instead, as its README teaches: two
    independent ways to the same contract, so neither checks the other's answer.)
    """
    from mcp.server.mcpserver.exceptions import ToolError

    if not sql.strip():
        raise ToolError(ONLY_SELECT)
    denied: list[int] = []

    def reads_only(action: int, *_: object) -> int:
        if action in _READS:
            return sqlite3.SQLITE_OK
        denied.append(action)
        return sqlite3.SQLITE_DENY

    with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        conn.set_authorizer(reads_only)
        try:
            cursor = conn.execute(sql)
            rows = cursor.fetchmany(MAX_ROWS + 1)
        except sqlite3.ProgrammingError as exc:  # a second statement
            raise ToolError(ONLY_SELECT) from exc
        except sqlite3.Error as exc:
            raise ToolError(ONLY_SELECT if denied else SQL_ERROR.format(exc)) from exc
        columns = [c[0] for c in cursor.description or ()]
    shown, more = rows[:MAX_ROWS], len(rows) > MAX_ROWS
    return QueryResult(columns=columns, rows=[list(r) for r in shown], truncated=more)


def _add_refund_order(server: Any, current_db: Callable[[], Path]) -> None:
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=False))
    def refund_order(
        order_id: Annotated[str, Field(description="The order to refund, e.g. O-5001.")],
        reason: Annotated[str, Field(description="Why the customer gets the refund.")],
    ) -> Refund:
        """Refund a paid, shipped or delivered order in full. This changes the shop's data and
        moves money: it needs the user's approval."""
        # One conditional UPDATE is the check and the change at once: of two refunds of the
        # same order racing over HTTP, exactly one succeeds. Only a refusal reads why.
        conn = sqlite3.connect(current_db())
        try:
            with conn:
                changed = conn.execute(
                    "UPDATE orders SET status = 'refunded' WHERE order_id = ? AND status IN "
                    f"({', '.join('?' * len(REFUNDABLE))})",
                    (order_id, *REFUNDABLE),
                ).rowcount
            if changed:
                return Refund(
                    order_id=order_id, status="refunded", amount=order_total(conn, order_id)
                )
            found = conn.execute(
                "SELECT status FROM orders WHERE order_id = ?", (order_id,)
            ).fetchone()
            if found is None:
                raise ToolError(f"no order with id {order_id!r}: order ids look like O-5001")
            raise ToolError(f"order {order_id} cannot be refunded: it is {found[0]}")
        finally:
            conn.close()
