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

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np

from labkit.fakellm.app import create_app
from labkit.fakellm.behaviours import Behaviour
from labkit.fakellm.journal import Journal
from labkit.fakellm.serving import Served
from labkit.fakellm.state import Handler, ProviderState
from labkit.fakellm.transport import quiet_deliberate_drops
from labkit.fakellm.types import Reply


class FakeLLM(Served):
    """The fake provider: a controller around one :class:`ProviderState` and its server.

    ``behaviours`` replaces the default behaviour chain (for instance a local-model behaviour);
    ``stream_delay`` is the default pause between stream chunks, in seconds; ``embed`` replaces
    the packaged MiniLM behind ``/v1/embeddings``.
    """

    _what = "the fake provider"
    _thread_name = "labkit-fakellm"
    _uvicorn_options: ClassVar[dict[str, Any]] = {"lifespan": "off", "timeout_keep_alive": 30}

    def __init__(
        self,
        behaviours: Iterable[Behaviour] | None = None,
        stream_delay: float = 0.0,
        *,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        control: bool = True,
    ) -> None:
        super().__init__()
        self.state = ProviderState(behaviours, stream_delay)
        self.app = create_app(self.state, embed=embed, control=control)

    # -- lifecycle --------------------------------------------------------------------------------

    def _app(self, host: str) -> Any:
        """The provider's app (the same on any host); a scripted dropped connection is not
        logged as an error."""
        quiet_deliberate_drops()
        return self.app

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
