"""``labkit serve``: run the fake provider in the foreground (what ``make serve`` calls).

Prints one line saying where it listens and how to point a script at it, then serves until
Ctrl-C. Another process drives it over HTTP (``/__labkit/script``, ``/__labkit/journal``,
``/__labkit/reset``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.fakellm.behaviours import Behaviour

DEFAULT_PORT = 8787
URL_MARK = "LABKIT_BASE_URL="


def register(subparsers: Any) -> None:
    """Add the ``serve`` sub-command to the ``labkit`` parser."""
    from labkit.fakellm.serving import serve_command

    parser = serve_command(
        subparsers,
        "serve",
        serve,
        default_port=DEFAULT_PORT,
        help="run the fake LLM provider (OpenAI + Anthropic protocols) on 127.0.0.1",
        description="Run the fake LLM provider until Ctrl-C.",
    )
    parser.add_argument(
        "--stream-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="pause between stream chunks (default 0)",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="answer with the bundled small local model (SmolLM2) instead of the scripted fake",
    )


def local_behaviours() -> list[Behaviour]:
    """The behaviour chain for ``--local``: the real local model answers everything."""
    from labkit.fakellm.local import behaviours

    return list(behaviours())


def serve(args: argparse.Namespace) -> int:
    """Start the server, print where it is, block until Ctrl-C or SIGTERM, stop cleanly."""
    from labkit.fakellm.server import FakeLLM
    from labkit.fakellm.serving import serve_in_foreground

    behaviours = local_behaviours() if args.local else None
    fake = FakeLLM(behaviours=behaviours, stream_delay=args.stream_delay).start(
        port=args.port, host=args.host
    )
    mode = "local model" if args.local else "fake provider"
    serve_in_foreground(
        fake,
        f"labkit {mode} on {fake.url} — point a script at it with "
        f"LABKIT_PROVIDER=fake {URL_MARK}{fake.url} (Ctrl-C stops)",
        "the fake provider",
    )
    return 0


@contextmanager
def serve_process(stderr: int = subprocess.PIPE) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``labkit serve --port 0`` in a child process, as a learner runs it, with its URL.

    The URL is read from the first line the command prints (the line :func:`serve` writes, so
    its format has one home). The child is killed on the way out if it is still running; a test
    that wants the graceful stop sends SIGINT itself and waits.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "labkit.cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if URL_MARK not in line:
            raise RuntimeError(f"labkit serve did not start: {line!r}")
        yield proc, line.split(URL_MARK)[1].split()[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
