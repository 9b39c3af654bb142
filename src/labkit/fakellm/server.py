"""``FakeLLM``: start the fake provider on a loopback port, script it, read its journal.

::

    from labkit.fakellm import FakeLLM, reply

    with FakeLLM().start() as fake:
        fake.script(reply.text("Hello!"))
        client = openai.OpenAI(base_url=fake.url + "/v1", api_key="x")
        client.chat.completions.create(model="fake-gpt", messages=[...])
        assert fake.journal.last(path="/v1/chat/completions").body["messages"][0]["role"] == "system"

The server is a real uvicorn running the Starlette app in a daemon thread, so the SDKs talk to it
over real HTTP (their retries, timeouts and stream parsing all run for real).
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Self

import numpy as np
import uvicorn

from labkit.errors import LabkitError
from labkit.fakellm.app import create_app
from labkit.fakellm.behaviours import Behaviour
from labkit.fakellm.journal import Journal
from labkit.fakellm.state import Handler, ProviderState
from labkit.fakellm.transport import quiet_deliberate_drops
from labkit.fakellm.types import Reply

START_TIMEOUT = 15.0


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


class FakeLLM:
    """The fake provider: a controller around one :class:`ProviderState` and its server.

    ``behaviours`` replaces the default behaviour chain (for instance a local-model behaviour);
    ``stream_delay`` is the default pause between stream chunks, in seconds; ``embed`` replaces
    the packaged MiniLM behind ``/v1/embeddings``.
    """

    def __init__(
        self,
        behaviours: Iterable[Behaviour] | None = None,
        stream_delay: float = 0.0,
        *,
        embed: Callable[[list[str]], np.ndarray] | None = None,
    ) -> None:
        self.state = ProviderState(behaviours, stream_delay)
        self.app = create_app(self.state, embed=embed)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._host = "127.0.0.1"

    # -- lifecycle --------------------------------------------------------------------------------

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
        the port is taken. Starting a started server is a no-op.
        """
        if self._server is not None:
            return self
        sock = bind_socket(host, port)
        self._port = sock.getsockname()[1]
        self._host = host
        if on_bound is not None:
            try:
                on_bound(self._port)
            except BaseException:
                sock.close()
                raise
        quiet_deliberate_drops()
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # surfaced to start() below
                failure.append(exc)
            finally:
                sock.close()

        thread = threading.Thread(target=run, name=f"labkit-fakellm-{self._port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if failure or not thread.is_alive():
                raise LabkitError(
                    f"the fake provider failed to start: {failure[0] if failure else 'server exited'}"
                )
            if time.monotonic() > deadline:
                server.should_exit = True
                raise LabkitError(f"the fake provider did not start within {START_TIMEOUT:.0f} s")
            time.sleep(0.005)
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving (waits up to a few seconds for open streams to close)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=2)

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The port served on (after start())."""
        if self._port is None:
            raise RuntimeError("FakeLLM is not started: call .start() first")
        return self._port

    @property
    def url(self) -> str:
        """The root URL, e.g. ``http://127.0.0.1:8787`` (append ``/v1`` for the openai SDK)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for a subprocess that should use this server through labkit.config."""
        return {"LABKIT_PROVIDER": "fake", "LABKIT_BASE_URL": self.url}

    # -- scripting ----------------------------------------------------------------------------

    @property
    def journal(self) -> Journal:
        """Every request received since the last reset."""
        return self.state.journal

    def script(self, *replies: Reply, times: int = 1) -> None:
        """Queue replies (FIFO), the whole sequence ``times`` times. Builders: labkit.fakellm.reply."""
        self.state.script.add(replies, times)

    @property
    def pending(self) -> list[Reply]:
        """Scripted replies not consumed yet."""
        return self.state.script.pending

    def on(self, handler: Handler | None) -> Handler | None:
        """Install ``handler(ChatRequest) -> Reply | None`` (consulted after the script, before the
        behaviours; None clears it). Returns the handler, so it also works as a decorator."""
        self.state.handler = handler
        return handler

    @property
    def behaviours(self) -> list[Behaviour]:
        """The behaviour chain (a mutable list: insert your own in front)."""
        return self.state.behaviours

    @property
    def stream_delay(self) -> float:
        """Default seconds between stream chunks."""
        return self.state.stream_delay

    @stream_delay.setter
    def stream_delay(self, seconds: float) -> None:
        self.state.stream_delay = float(seconds)

    def reset(self) -> None:
        """Forget script, handler, journal and id counters (between tests)."""
        self.state.reset()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return (
            f"<FakeLLM {where}, {len(self.state.script)} scripted, {len(self.journal)} journaled>"
        )
