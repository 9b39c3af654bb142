"""Serving an ASGI app with uvicorn on a loopback port, in a daemon thread.

The fake provider (:class:`labkit.fakellm.server.FakeLLM`) and the course MCP server
(:class:`labkit.mcp_testing.http.HttpMcpServer`) start and stop the same way: bind the port first
(a busy port is a one-line error, not a traceback in a thread), tell ``on_bound`` the port before
anything is served (the grader registers it with its network guard there), run uvicorn in a
thread, return once it accepts connections.
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, Self

from labkit.errors import LabkitError

START_TIMEOUT = 15.0


def serve_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Callable[[argparse.Namespace], int],
    *,
    default_port: int,
    help: str,
    description: str,
) -> argparse.ArgumentParser:
    """Add the sub-command ``name`` that serves until Ctrl-C (``labkit serve``, ``mcp-serve``),
    and return its parser for the options of its own.

    Both take ``--port`` and ``--host`` the same way: loopback by default, port 0 for any free
    one; ``func`` runs the command (``labkit.cli`` dispatches on it).
    """
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.add_argument(
        "--port",
        type=int,
        default=default_port,
        help=f"port (default {default_port}; 0 = any free port)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface (default 127.0.0.1, loopback only)"
    )
    parser.set_defaults(func=func)
    return parser


def port_in_use_message(port: int) -> str:
    """The one-line error for a busy port (what ``labkit serve`` prints)."""
    return f"port {port} is already in use: choose another with PORT=... (make serve) or --port"


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket on ``host:port`` (0 = any free port), or LabkitError if it is taken.

    Binding here, before uvicorn starts, turns "address already in use" into a clear one-line
    error instead of a traceback in a background thread.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise LabkitError(port_in_use_message(port)) from exc
        raise LabkitError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def bind_announced(
    host: str, port: int, on_bound: Callable[[int], None] | None = None
) -> socket.socket:
    """:func:`bind_socket`, then ``on_bound(port)`` before anything is served (the socket is
    closed again if it raises)."""
    sock = bind_socket(host, port)
    if on_bound is not None:
        try:
            on_bound(sock.getsockname()[1])
        except BaseException:
            sock.close()
            raise
    return sock


def serve_in_thread(
    app: Any, sock: socket.socket, *, what: str, thread_name: str, **options: Any
) -> tuple[Any, threading.Thread]:
    """Run ``app`` with uvicorn on ``sock`` in a daemon thread; return ``(server, thread)`` once
    it accepts connections. ``options`` go to ``uvicorn.Config``; ``what`` names the server in
    the one-line LabkitError raised when it fails or does not start within START_TIMEOUT."""
    import uvicorn

    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=1, **options
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # surfaced to the caller below
            failure.append(exc)
        finally:
            sock.close()

    thread = threading.Thread(target=run, name=thread_name, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if failure or not thread.is_alive():
            raise LabkitError(
                f"{what} failed to start: {failure[0] if failure else 'server exited'}"
            )
        if time.monotonic() > deadline:
            server.should_exit = True
            raise LabkitError(f"{what} did not start within {START_TIMEOUT:.0f} s")
        time.sleep(0.005)
    return server, thread


def stop_served(server: Any, thread: threading.Thread, grace: float = 5.0) -> None:
    """Stop a server of :func:`serve_in_thread`: wait up to ``grace`` seconds for open streams,
    then force it. ``grace=0`` forces at once (nothing is left to answer: a test session's end)."""
    if grace <= 0:
        # Handlers still running (a scripted slow reply the client gave up on) are cancelled:
        # on purpose, so uvicorn's traceback for each is not news worth printing.
        server.force_exit = True
        quiet = logging.getLogger("uvicorn.error")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            server.should_exit = True
            thread.join(timeout=2)
        finally:
            quiet.setLevel(level)
        return
    server.should_exit = True
    thread.join(timeout=grace)
    if thread.is_alive():
        server.force_exit = True
        thread.join(timeout=2)


def serve_in_foreground(server: Any, banner: str, what: str) -> None:
    """Block until Ctrl-C or SIGTERM (or until ``server`` stops running), then stop it.

    ``server`` has ``running`` and ``stop()`` (:class:`~labkit.fakellm.server.FakeLLM`,
    :class:`~labkit.mcp_testing.http.HttpMcpServer`). SIGTERM (a process manager, ``kill``) stops
    as cleanly as Ctrl-C does; it is handled before ``banner`` is printed, so whoever reads that
    line may signal at once.
    """
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        print(banner, flush=True)
        while not stop.wait(0.5):
            if not server.running:
                break
    except KeyboardInterrupt:
        pass
    finally:
        print(f"labkit: stopping {what}", flush=True)
        signal.signal(signal.SIGTERM, previous)
        server.stop()


class Served:
    """What the fake provider and the course MCP server share: one app served on a loopback port
    in a daemon thread, started once (:meth:`start`), stopped by :meth:`stop` or a ``with``.

    A subclass says what it serves (:meth:`_app`) and how (:attr:`_thread_name`,
    :attr:`_uvicorn_options`).
    """

    _what = "the server"  # names it in errors: "the fake provider is not started"
    _thread_name = "labkit-served"  # the serving thread is "<this>-<port>"
    _uvicorn_options: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._host = "127.0.0.1"

    def _app(self, host: str) -> Any:
        """The ASGI app to serve on ``host`` (built when the server starts)."""
        raise NotImplementedError

    def start(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        on_bound: Callable[[int], None] | None = None,
    ) -> Self:
        """Serve on ``host:port`` (0 = a free port) and return once it accepts connections.

        ``on_bound(port)`` runs after the port is reserved and before the server accepts anything
        (the grader registers the port with its network guard there). Raises LabkitError when
        the port is taken or the server does not start. Starting a started server is a no-op.
        """
        if self._server is not None:
            return self
        app = self._app(host)
        sock = bind_announced(host, port, on_bound)
        self._port, self._host = sock.getsockname()[1], host
        self._server, self._thread = serve_in_thread(
            app,
            sock,
            what=self._what,
            thread_name=f"{self._thread_name}-{self._port}",
            **self._uvicorn_options,
        )
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Stop serving: wait up to ``grace`` seconds for open streams and sessions to close.

        At the end of a test session nothing is left to answer, and a client that keeps its
        connection alive (a learner's SDK client) would hold uvicorn's graceful shutdown for its
        full second: the session fixtures pass ``grace=0``.
        """
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None and thread is not None:
            stop_served(server, thread, grace)

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The port served on (after start())."""
        if self._port is None:
            raise RuntimeError(f"{self._what} is not started: call .start() first")
        return self._port

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
