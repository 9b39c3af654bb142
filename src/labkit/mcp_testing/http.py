"""Serve an ``MCPServer`` over streamable HTTP on a loopback port, in a background thread.

The grader's network guard allows only loopback ports it registered before learner code ran:
pass ``on_bound`` (the fixture passes ``labkit.grading.guard.allow_loopback_port``), which runs
after the port is reserved and before anything is served. ``labkit mcp-serve`` uses the same
class in the foreground.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from labkit.errors import LabkitError

START_TIMEOUT = 15.0
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
        import uvicorn

        from labkit.fakellm.server import bind_socket

        if self._uvicorn is not None:
            return self
        sock = bind_socket(host, port)
        self._port, self._host = sock.getsockname()[1], host
        if on_bound is not None:
            try:
                on_bound(self._port)
            except BaseException:
                sock.close()
                raise
        app = self.server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:
                failure.append(exc)
            finally:
                sock.close()

        thread = threading.Thread(target=run, name=f"labkit-mcp-{self._port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if failure or not thread.is_alive():
                raise LabkitError(
                    f"the MCP server failed to start: {failure[0] if failure else 'server exited'}"
                )
            if time.monotonic() > deadline:
                server.should_exit = True
                raise LabkitError(f"the MCP server did not start within {START_TIMEOUT:.0f} s")
            time.sleep(0.005)
        self._uvicorn, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving (waits a few seconds for open sessions to close)."""
        server, thread = self._uvicorn, self._thread
        self._uvicorn = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=2)

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
