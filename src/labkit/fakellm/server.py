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

import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Self

import numpy as np
import uvicorn

from labkit.fakellm.app import create_app
from labkit.fakellm.behaviours import Behaviour
from labkit.fakellm.journal import Journal
from labkit.fakellm.serving import bind_announced, serve_in_thread, stop_served
from labkit.fakellm.state import Handler, ProviderState
from labkit.fakellm.transport import quiet_deliberate_drops
from labkit.fakellm.types import Reply


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
        sock = bind_announced(host, port, on_bound)
        self._port, self._host = sock.getsockname()[1], host
        quiet_deliberate_drops()
        self._server, self._thread = serve_in_thread(
            self.app,
            sock,
            what="the fake provider",
            thread_name=f"labkit-fakellm-{self._port}",
            lifespan="off",
            timeout_keep_alive=30,
        )
        return self

    def stop(self) -> None:
        """Stop serving (waits up to a few seconds for open streams to close)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None and thread is not None:
            stop_served(server, thread)

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
