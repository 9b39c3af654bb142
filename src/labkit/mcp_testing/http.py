"""Serve an ``MCPServer`` over streamable HTTP on a loopback port, in a background thread.

The grader's network guard allows only loopback ports it registered before learner code ran:
pass ``on_bound`` (the fixture passes ``labkit.grading.guard.allow_loopback_port``), which runs
after the port is reserved and before anything is served. ``labkit mcp-serve`` uses the same
class in the foreground.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from labkit.fakellm.serving import bind_announced, serve_in_thread, stop_served

MCP_PATH = "/mcp"


class HttpMcpServer:
    """One ``MCPServer`` served at ``http://127.0.0.1:<port>/mcp`` (streamable HTTP)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self._uvicorn: Any = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._host = "127.0.0.1"

    def start(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        on_bound: Callable[[int], None] | None = None,
    ) -> Self:
        """Serve and return once the server accepts connections (LabkitError if the port is
        taken or it does not start)."""
        if self._uvicorn is not None:
            return self
        sock = bind_announced(host, port, on_bound)
        self._port, self._host = sock.getsockname()[1], host
        app = self.server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
        self._uvicorn, self._thread = serve_in_thread(
            app, sock, what="the MCP server", thread_name=f"labkit-mcp-{self._port}", lifespan="on"
        )
        return self

    def stop(self) -> None:
        """Stop serving (waits a few seconds for open sessions to close)."""
        server, thread = self._uvicorn, self._thread
        self._uvicorn = self._thread = None
        if server is not None and thread is not None:
            stop_served(server, thread)

    @property
    def running(self) -> bool:
        return self._uvicorn is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the MCP server is not started: call .start() first")
        return self._port

    @property
    def url(self) -> str:
        """The endpoint a client connects to: ``mcp.Client(url)``."""
        return f"http://{self._host}:{self.port}{MCP_PATH}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
