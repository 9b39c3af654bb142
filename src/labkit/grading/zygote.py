"""A warm process that learner processes are forked from: the SDKs are imported once per grading run.

Every learner process of a grading run (the worker, and each CLI run by ``learner.run``) used to be
a fresh ``python -I -B -m ...`` that imported ``openai``, ``anthropic``, ``httpx``, ``pydantic``
and friends again: about 1.5 s each on this course's 2-core machine, three or four times per
chat-01 grade. The zygote pays that once. It is started by the judge, or for many grades of one
lab by a :class:`ZygotePool` in the runner (never forked from either: the judge holds the seed and
expected values), imports only installed, well-known packages that the
learner's own files name (an allow-list, so ``import antigravity`` is never run on the learner's
behalf), and then waits. For each request it forks; the child takes the passed file descriptors
as its stdio, replaces its environment and working folder, and calls the target module's
``main(argv)`` as ``python -m`` would (the worker, or ``labkit.grading.sandbox`` for a CLI),
which installs and freezes the guard before any learner code runs. The child never returns to the
zygote's loop; it leaves through ``os._exit`` after running atexit handlers.

Isolation is unchanged: each child is its own process with its own copy of memory; nothing a
child does reaches the zygote or a sibling (the guard refuses signals and ptrace, and the zygote
is non-dumpable). Only state that exists *before* learner code runs is shared, and that is the
same for every submission: installed packages, imported once.

The protocol is JSON over a ``SOCK_SEQPACKET`` socketpair with descriptors passed alongside
(``SCM_RIGHTS``): ``{"spawn": {...}}`` is answered by ``{"pid": n}``; the zygote reports
``{"exit": pid, "code": c}`` for each child that ends (a negative code is the signal number).
``{"client": true}`` with one descriptor gives a pooled zygote another channel (one per judge),
answered on that channel by ``{"ready": pid}`` (``zygote_process.py`` is the zygote's side).
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from labkit.grading import identity
from labkit.grading.zygote_process import MAX_MESSAGE

# Installed packages worth importing ahead: heavy, import-time side-effect free, and common in the
# course's labs. Anything else a learner imports is imported by their own process, as before.
PRELOADABLE = (
    "openai",
    "anthropic",
    "httpx",
    "pydantic",
    "tiktoken",
    "numpy",
    "rich",
    "mcp",
    "tenacity",
    "jsonschema",
    "chromadb",
)
_BOOT_TIMEOUT = 60.0


def preload_for(folder: Path) -> list[str]:
    """The allow-listed packages the ``.py`` files in ``folder`` import (read as text, never run).

    A file that does not parse is skipped: the learner's own process reports its syntax error.
    """
    modules: set[str] = set()
    for path in sorted(folder.rglob("*.py"))[:200]:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module)
    wanted = {name.split(".", 1)[0] for name in modules}
    local = {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}
    chosen = [name for name in PRELOADABLE if name in wanted and name not in local]
    if (
        "labkit.tokens" in modules and "labkit" not in local
    ):  # its tokenizer vocabulary is worth loading once (warmup.py)
        chosen.append("labkit.tokens")
    return chosen


# --- the judge's side ----------------------------------------------------------------------------


class ZygoteError(RuntimeError):
    """The zygote could not start or stopped answering; callers fall back to a fresh process."""


class Forked:
    """A ``subprocess.Popen``-shaped handle on a process forked by the zygote (not our child)."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote = zygote
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.exit_code(self.pid, 0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self.zygote.exit_code(self.pid, timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"forked pid {self.pid}", timeout or 0.0)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


class Zygote:
    """The judge's handle on one zygote process (started in the background, used from any thread)."""

    def __init__(
        self,
        cwd: Path,
        env: Mapping[str, str],
        preload: Sequence[str],
        *,
        python: str = sys.executable,
        ids: tuple[int, int] | None = None,
    ) -> None:
        self._init_state(preload)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = parent
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [python, "-I", "-B", "-m", "labkit.grading.zygote_process", str(child.fileno())],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(child.fileno(),),
            close_fds=True,
            **identity.popen_args(ids),  # the run's own unprivileged user, when grading as root
        )
        child.close()
        self._send({"preload": self.preload})
        self._start_boot()

    @classmethod
    def attach(cls, fd: int, preload: Sequence[str]) -> Zygote:
        """The judge's handle on a pooled zygote (:class:`ZygotePool`): ``fd`` is this run's own
        channel to it, passed in by the runner. Closing it ends this run's children."""
        self = cls.__new__(cls)
        self._init_state(preload)
        self._sock = socket.socket(fileno=fd)
        self.proc = None
        self._start_boot()
        return self

    def _init_state(self, preload: Sequence[str]) -> None:
        self._lock = threading.Lock()
        self._exits: dict[int, int] = {}
        self._ready = threading.Event()
        self._error: str | None = None
        self.preload = list(preload)

    def _start_boot(self) -> None:
        self._boot = threading.Thread(target=self._await_ready, daemon=True, name="zygote-boot")
        self._boot.start()

    def add_client(self) -> socket.socket:
        """A new channel to this zygote for another process (a judge): the zygote forks on its
        requests and reports its children's exits on it alone."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with self._lock:
                self._send({"client": True}, [mine.fileno()])
        finally:
            mine.close()
        return theirs

    def _await_ready(self) -> None:
        try:
            reply = self._receive(time.monotonic() + _BOOT_TIMEOUT)
            if reply is None or "ready" not in reply:
                self._error = "the zygote did not start"
        except (OSError, ValueError, ZygoteError) as exc:  # gone, or a broken reply
            self._error = f"the zygote did not start ({exc})"
        self._ready.set()  # always: a spawn waiting on it falls back to a fresh interpreter at once

    def alive(self) -> bool:
        if self._error is not None:
            return False
        return self.proc is None or self.proc.poll() is None

    def _send(self, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
        data = json.dumps(message).encode()
        socket.send_fds(self._sock, [data], list(fds))

    def _receive(self, deadline: float | None) -> dict[str, Any] | None:
        """One reply, or None when nothing more is waiting by ``deadline`` (exits are recorded)."""
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._sock], [], [], remaining)
            if not ready:
                return None
            data = self._sock.recv(MAX_MESSAGE)
            if not data:
                raise ZygoteError("the zygote went away")
            message: dict[str, Any] = json.loads(data)
            if "exit" in message:
                self._exits[int(message["exit"])] = int(message["code"])
                continue
            return message

    def spawn(
        self,
        module: str,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        stdio: Sequence[int],
        keep: Sequence[int] = (),
    ) -> Forked:
        """Fork a child that runs ``module.main(argv)`` (one of the toolkit's entry points, as
        ``python -m module *argv`` would) with ``stdio`` as fds 0, 1, 2.

        ``keep`` are extra descriptors the child keeps open (the worker's socket and stack-dump
        pipe); ``argv`` names them as ``{fd0}``, ``{fd1}``, … and the child fills in its numbers.
        """
        if not self._ready.wait(_BOOT_TIMEOUT) or self._error:
            raise ZygoteError(self._error or "the zygote did not start in time")
        request = {
            "spawn": {
                "module": module,
                "argv": list(argv),
                "cwd": str(cwd),
                "env": dict(env),
                "keep": len(keep),
            }
        }
        with self._lock:
            try:
                self._send(request, [*stdio, *keep])
                reply = self._receive(time.monotonic() + 10.0)
            except (OSError, ValueError) as exc:
                raise ZygoteError(f"the zygote stopped answering ({exc})") from None
        if not reply or "pid" not in reply:
            raise ZygoteError(f"the zygote refused to fork: {reply}")
        return Forked(self, int(reply["pid"]))

    def exit_code(self, pid: int, timeout: float | None) -> int | None:
        """The exit code of ``pid`` once the zygote has reported it (waiting up to ``timeout``).

        Waits in short slices so that other threads can fork in between."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if pid in self._exits:
                    return self._exits.pop(pid)
                now = time.monotonic()
                slice_end = now + 0.05 if deadline is None else min(deadline, now + 0.05)
                try:
                    self._receive(slice_end)
                except (OSError, ZygoteError, ValueError):
                    return -signal.SIGKILL  # no zygote, no child: report it as killed
                if pid in self._exits:
                    return self._exits.pop(pid)
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        if self.proc is None:
            return  # a pooled zygote: the pool ends it; this run's children end with the channel
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


_shared: dict[str, Zygote] = {}
_shared_lock = threading.Lock()


def preload_list(folder: Path, also: Iterable[str] = ()) -> list[str]:
    """What a zygote for ``folder`` imports: its files' allow-listed imports, then ``also``."""
    chosen = preload_for(folder)
    return chosen + [name for name in also if name not in chosen]


def start(
    cwd: Path,
    env: Mapping[str, str],
    preload: Iterable[str] | None = None,
    also: Iterable[str] = (),
    attach: int | None = None,
) -> Zygote:
    """Start (once per folder and process) the zygote learner processes of ``cwd`` fork from.

    ``preload`` defaults to what the folder's files import (``preload_for``); ``also`` adds what
    the lab's recipes import in the worker (a manifest's ``[extra] worker_warm``). ``attach``
    is a channel to a pooled zygote the runner already started (:class:`ZygotePool`).
    """
    key = str(cwd.resolve())
    with _shared_lock:
        current = _shared.get(key)
        if current is not None and current.alive():
            return current
        if preload is None:
            chosen = preload_list(cwd, also)
        else:
            chosen = list(preload)
            chosen += [name for name in also if name not in chosen]
        zygote = Zygote.attach(attach, chosen) if attach is not None else Zygote(cwd, env, chosen)
        _shared[key] = zygote
        return zygote


def shared(cwd: Path) -> Zygote | None:
    """The running zygote for ``cwd``, if one was started and still answers."""
    zygote = _shared.get(str(cwd.resolve()))
    return zygote if zygote is not None and zygote.alive() else None


def stop_all() -> None:
    with _shared_lock:
        for zygote in _shared.values():
            zygote.close()
        _shared.clear()


_POOL_SIZE = 4


class ZygotePool:
    """Zygotes that outlive one grading run, for many grades of one lab in one process.

    A zygote boots in seconds when a lab's recipes need torch (ft-01: ~3.5 s of imports), and a
    grading run starts one. The course's own lab tests grade a reference and then every copy of
    it with one function broken: 22 grades of ft-01, each paying that boot. A pool starts one
    zygote per (interpreter, lab, preload list) and hands each run a channel of its own
    (``RunSpec.zygote_fd``); the zygote forks that run's learner processes, reports their exits
    on that channel only, and kills them when the channel closes (the judge ended).

    What the children share is still only what exists before any learner code runs. But one
    pool's runs share one learner uid (chosen once, when grading as root), so two submissions
    in one pool could reach each other's files: use it for one learner's grades (watch mode) or
    the course's own copies of the reference, never for a class's batch (``grade-all`` starts a
    zygote per run, as before). A run uses a zygote of its lab that imported at least what its
    files import; a pool keeps at most a few zygotes (watch mode: the learner added an import).
    """

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self.ids, self.ids_problem = identity.choose(python)
        self._dir = Path(tempfile.mkdtemp(prefix="labkit-zygotes-"))
        for sub in ("home", "tmp"):
            (self._dir / sub).mkdir()
        if self.ids is not None:
            identity.hand_over(self._dir, self.ids)
        self._zygotes: dict[tuple[str, ...], Zygote] = {}
        self._lock = threading.Lock()

    def connect(
        self,
        key: str,
        preload: Sequence[str],
        env: Mapping[str, str],
        limit: Callable[[int], None] = lambda pid: None,
    ) -> socket.socket:
        """A channel for one grading run to the pool's zygote for ``key`` (a lab) and
        ``preload``, started now if there is none; ``limit(pid)`` applies the lab's rlimits."""
        with self._lock:
            zygote = self._covering(key, preload)
            if zygote is None:
                if len(self._zygotes) >= _POOL_SIZE:  # the oldest goes (watch mode: one at a time)
                    self._zygotes.pop(next(iter(self._zygotes))).close()
                boot_env = {
                    **env,
                    "HOME": str(self._dir / "home"),
                    "TMPDIR": str(self._dir / "tmp"),
                }
                zygote = Zygote(self._dir, boot_env, preload, python=self.python, ids=self.ids)
                assert zygote.proc is not None
                limit(zygote.proc.pid)
                self._zygotes[(key, *preload)] = zygote
        return zygote.add_client()

    def _covering(self, key: str, preload: Sequence[str]) -> Zygote | None:
        """A live zygote of the lab that imported at least ``preload``: a copy of the reference
        with one function broken may import less than the reference (an import inside the
        function), and a zygote that imported more than a run needs serves it as well (only
        allow-listed packages, never learner code)."""
        for (lab, *loaded), zygote in self._zygotes.items():
            if lab == key and set(preload) <= set(loaded) and zygote.alive():
                return zygote
        return None

    def close(self) -> None:
        with self._lock:
            for zygote in self._zygotes.values():
                zygote.close()
            self._zygotes.clear()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> ZygotePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
