"""The zygote process itself (its side of ``zygote.py``): import, warm, freeze, then only fork.

Started as ``python -I -B -m labkit.grading.zygote_process <fd>`` by a judge (``zygote.Zygote``)
or a pool (``zygote.ZygotePool``); ``zygote.py`` explains why it exists and what it shares. This
module is the process's loop: it serves the channel it was started with and, for a pooled zygote,
one more channel per judge, forks on request, reports each child's exit on the channel that asked
for it, and kills a judge's children when that judge's channel closes.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import json
import os
import select
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterable
from typing import Any

from labkit.grading import prctl

MAX_MESSAGE = 1 << 20
_ALWAYS = ("labkit.grading.guard", "labkit.grading.sandbox", "labkit.grading.worker")


def _child(
    request: dict[str, Any], fds: list[int], socks: Iterable[socket.socket], wake: tuple[int, int]
) -> None:
    """In the forked child: become ``python -m module argv`` and never return."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for sock in socks:  # every channel to the zygote: learner code must never ask it to fork
            sock.close()
        for fd in wake:
            os.close(fd)
        os.setsid()  # its own process group: a kill of the group reaches what it starts
        prctl.not_dumpable()
        prctl.die_with_parent()  # the zygote, which dies with the judge
        stdio, keep = fds[:3], fds[3:]
        for target, fd in zip((0, 1, 2), stdio, strict=True):
            os.dup2(fd, target)
        for fd in set(stdio) - {0, 1, 2} - set(keep):
            os.close(fd)
        names = {f"fd{i}": str(fd) for i, fd in enumerate(keep)}
        args = [arg.format(**names) if "{fd" in arg else arg for arg in request["argv"]]
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # a pooled zygote boots in another run's TMPDIR (ZygotePool)
        os.chdir(request["cwd"])
        sys.argv = [request["module"], *args]
        try:
            importlib.import_module(request["module"]).main(args)  # the module's own entry point
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        with contextlib.suppress(BaseException):
            threading._shutdown()  # type: ignore[attr-defined]  # as interpreter exit would
        with contextlib.suppress(BaseException):
            import atexit

            atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code & 0xFF)


def _prepare(preload: list[str]) -> None:
    """Import and warm what every child shares, then hide it from the garbage collector."""
    import platform

    platform.processor()  # the SDKs ask; under the guard `uname -p` would be refused
    for name in [*_ALWAYS, *preload]:
        if importlib.util.find_spec(name) is None:
            continue
        with contextlib.suppress(Exception):
            __import__(name)
    from labkit.grading import warmup

    for failure in warmup.warm(preload):  # past the SDKs' lazy first use, once for all children
        print(f"labkit zygote: warm-up skipped: {failure}", file=sys.stderr)
    # Everything imported so far is shared by every child and never freed: move it out of the
    # garbage collector's sight. Otherwise each child's first full collection walks (and, by
    # touching reference counts, copies) the whole zygote heap: ~0.6 s of CPU per CLI run.
    gc.collect()
    gc.freeze()


def _reap(owners: dict[int, socket.socket]) -> None:
    """Report every child that ended to the client that asked for it."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        owner = owners.pop(pid, None)
        if owner is not None:
            with contextlib.suppress(OSError):
                owner.send(
                    json.dumps({"exit": pid, "code": os.waitstatus_to_exitcode(status)}).encode()
                )


def _drop_client(
    client: socket.socket, clients: dict[int, socket.socket], owners: dict[int, socket.socket]
) -> None:
    """A judge closed its channel (it ended): its children go with it, as they would with a
    zygote of its own (PR_SET_PDEATHSIG)."""
    for pid, owner in list(owners.items()):
        if owner is client:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)  # each child leads its own process group
    clients.pop(client.fileno(), None)
    client.close()


class _Loop:
    """The channels a zygote serves and which channel asked for each child still running."""

    def __init__(self, control: socket.socket, wake: tuple[int, int]) -> None:
        self.control = control
        self.wake = wake
        # The control channel (whoever started the zygote) and, for a pooled zygote, one channel
        # per judge it serves (``{"client": true}`` passes one in).
        self.clients: dict[int, socket.socket] = {control.fileno(): control}
        self.owners: dict[int, socket.socket] = {}

    def run(self) -> None:
        while True:
            ready, _, _ = select.select([*self.clients, self.wake[0]], [], [])
            if self.wake[0] in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake[0], 4096)
            _reap(self.owners)
            for fd in ready:
                client = self.clients.get(fd)
                if client is not None:
                    self._serve(client)

    def _serve(self, client: socket.socket) -> None:
        try:  # never block the loop: readiness seen this round may be stale
            data, fds, _, _ = socket.recv_fds(client, MAX_MESSAGE, 16, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        if not data:
            if client is self.control:
                os._exit(0)  # the judge (or the pool) closed its end: nothing more to fork
            _drop_client(client, self.clients, self.owners)
            return
        message = json.loads(data)
        if message.get("client"):
            for new_fd in fds:
                joined = socket.socket(fileno=new_fd)
                self.clients[joined.fileno()] = joined
                with contextlib.suppress(OSError):  # its judge is gone already: EOF drops it next
                    joined.send(json.dumps({"ready": os.getpid()}).encode())
            return
        request = message.get("spawn") or {}
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request, fds, list(self.clients.values()), self.wake)
        self.owners[pid] = client
        for passed in fds:
            os.close(passed)
        with contextlib.suppress(OSError):
            client.send(json.dumps({"pid": pid}).encode())


def main(argv: list[str]) -> None:
    control = socket.socket(fileno=int(argv[0]))
    prctl.not_dumpable()
    prctl.die_with_parent()  # the judge
    if os.getppid() == 1:
        raise SystemExit(0)
    first, _, _, _ = socket.recv_fds(control, MAX_MESSAGE, 0)
    preload = json.loads(first).get("preload", [])
    _prepare(preload)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    control.send(json.dumps({"ready": os.getpid()}).encode())
    _Loop(control, (wake_r, wake_w)).run()


if __name__ == "__main__":
    main(sys.argv[1:])
