"""Serve an ``MCPServer`` over streamable HTTP on a loopback port, in a background thread.

The grader's network guard allows only loopback ports it registered before learner code ran:
pass ``on_bound`` (the fixture passes ``labkit.grading.guard.allow_loopback_port``), which runs
after the port is reserved and before anything is served. ``labkit mcp-serve`` uses the same
class in the foreground.
"""

from __future__ import annotations

from typing import Any, ClassVar

from labkit.fakellm.serving import Served

MCP_PATH = "/mcp"


class HttpMcpServer(Served):
    """One ``MCPServer`` served at ``http://127.0.0.1:<port>/mcp`` (streamable HTTP)."""

    _what = "the MCP server"
    _thread_name = "labkit-mcp"
    _uvicorn_options: ClassVar[dict[str, Any]] = {"lifespan": "on"}

    def __init__(self, server: Any) -> None:
        super().__init__()
        self.server = server

    def _app(self, host: str) -> Any:
        return self.server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)

    @property
    def url(self) -> str:
        """The endpoint a client connects to: ``mcp.Client(url)``."""
        return f"http://{self._host}:{self.port}{MCP_PATH}"
