"""What the MCP fixtures are made of: :class:`CourseMcp` (the course's MCP server with a call log
and fault schedules) and the shop database copies it works on.

The pytest fixtures themselves, ``mcp_course_server`` and ``mcp_course``, are in
:mod:`labkit.testing` with the other shared fixtures: serving over HTTP registers the port with the
grader's network guard, and the guard (labkit.grading) is a layer above this package
(docs/DESIGN.md, "Layers").
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from labkit.datasets.paths import datasets_dir
from labkit.mcp_testing.calllog import CallLog, FaultSchedule, ToolCallRecord, instrument
from labkit.mcp_testing.course import build_course_server
from labkit.mcp_testing.http import HttpMcpServer
from labkit.mcp_testing.tools import call_tool, list_tools


def shop_db() -> Path:
    """The committed shop database (never write to it: copy it first)."""
    return datasets_dir() / "shop" / "shop.sqlite"


def copy_shop(folder: Path | str) -> Path:
    """A writable copy of the shop database in ``folder``."""
    target = Path(folder) / "shop.sqlite"
    shutil.copyfile(shop_db(), target)
    return target


class CourseMcp:
    """The grader's course server: tools (:mod:`labkit.mcp_testing.course`) + call log +
    faults, reachable in memory (``.server``) and, once started, over HTTP (``.url``)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.server = build_course_server(lambda: self.db_path)
        self.log: CallLog
        self.faults: FaultSchedule
        self.log, self.faults = instrument(self.server)
        self._http: HttpMcpServer | None = None

    def start_http(self, on_bound: Any = None) -> CourseMcp:
        """Also serve over streamable HTTP on a free loopback port."""
        self._http = HttpMcpServer(self.server).start(on_bound=on_bound)
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Stop serving over HTTP (``grace``: as :meth:`HttpMcpServer.stop`)."""
        if self._http is not None:
            self._http.stop(grace)
            self._http = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/mcp`` (after :meth:`start_http`)."""
        if self._http is None:
            raise RuntimeError("the course server is not served over HTTP: call start_http()")
        return self._http.url

    def reset(self, db_path: Path) -> None:
        """Serve ``db_path`` from now on; forget the call log and any pending faults."""
        self.db_path = Path(db_path)
        self.log.clear()
        self.faults.clear()

    def calls(self, tool: str | None = None) -> list[ToolCallRecord]:
        """What reached the server (of ``tool`` only, when given), oldest first."""
        return self.log.calls(tool)

    def tools_called(self) -> list[str]:
        return self.log.tools()

    def settle(self, timeout: float = 5.0, at_least: int = 0) -> bool:
        """Wait until the server runs no call (and has recorded ``at_least``): a call a client
        over HTTP timed out on is recorded only when the server is done with it."""
        return self.log.wait_idle(timeout, at_least)

    def list_tools(self) -> list[dict[str, Any]]:
        """The tools as plain data (in memory; not recorded in the call log: it logs calls)."""
        return list_tools(self.server)

    def warm(self) -> None:
        """Pay the one-off costs now: the knowledge base, the SDK's jsonschema import."""
        call_tool(self.server, "search_kb", {"query": "warm up"})
        self.log.clear()
