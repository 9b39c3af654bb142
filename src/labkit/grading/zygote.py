"""A warm process that learner processes are forked from: the SDKs are imported once per grading run.

Every learner process of a grading run (the worker, and each CLI run by ``learner.run``) used to be
a fresh ``python -I -B -m ...`` that imported ``openai``, ``anthropic``, ``httpx``, ``pydantic``
and friends again: about 1.5 s each on this course's 2-core machine, three or four times per
chat-01 grade. The zygote pays that once. It is started by the judge (never forked from it: the
judge holds the seed and expected values), imports only installed, well-known packages that the
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
"""

from __future__ import annotations

import ast
import contextlib
import gc
import importlib.util
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
_ALWAYS = ("labkit.grading.guard", "labkit.grading.sandbox", "labkit.grading.worker")
_BOOT_TIMEOUT = 60.0
_MAX_MESSAGE = 1 << 20


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
        self._lock = threading.Lock()
        self._exits: dict[int, int] = {}
        self._ready = threading.Event()
        self._error: str | None = None
        self.preload = list(preload)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = parent
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [python, "-I", "-B", "-m", "labkit.grading.zygote", str(child.fileno())],
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
        self._lock = threading.Lock()
        self._exits = {}
        self._ready = threading.Event()
        self._error = None
        self.preload = list(preload)
        self._sock = socket.socket(fileno=fd)
        self.proc = None
        self._start_boot()
        return self

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
        except OSError as exc:
            self._error = f"the zygote did not start ({exc})"
        self._ready.set()

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
            data = self._sock.recv(_MAX_MESSAGE)
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
        chosen = list(preload) if preload is not None else preload_for(cwd)
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
    zygote per run, as before). A lab has one zygote at a time: a new preload list (the files'
    imports changed) replaces the old one.
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
        wanted = (key, *preload)
        with self._lock:
            for other in [k for k in self._zygotes if k[0] == key and k != wanted]:
                self._zygotes.pop(other).close()  # the files' imports changed (watch mode)
            zygote = self._zygotes.get(wanted)
            if zygote is None or not zygote.alive():
                boot_env = {
                    **env,
                    "HOME": str(self._dir / "home"),
                    "TMPDIR": str(self._dir / "tmp"),
                }
                zygote = Zygote(self._dir, boot_env, preload, python=self.python, ids=self.ids)
                assert zygote.proc is not None
                limit(zygote.proc.pid)
                self._zygotes[wanted] = zygote
        return zygote.add_client()

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


# --- the zygote's side ---------------------------------------------------------------------------


def _not_dumpable() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(4, 0)  # PR_SET_DUMPABLE 0: no ptrace or /proc/<pid>/mem by its children
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the judge


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
        _not_dumpable()  # (PR_SET_PDEATHSIG: die with the zygote, which dies with the judge)
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


def main(argv: list[str]) -> None:
    control = socket.socket(fileno=int(argv[0]))
    _not_dumpable()
    if os.getppid() == 1:
        raise SystemExit(0)
    first, _, _, _ = socket.recv_fds(control, _MAX_MESSAGE, 0)
    preload = json.loads(first).get("preload", [])
    _prepare(preload)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    control.send(json.dumps({"ready": os.getpid()}).encode())
    # The control channel (whoever started the zygote) and, for a pooled zygote, one channel per
    # judge it serves (``{"client": true}`` passes one in); which channel asked for each child.
    clients: dict[int, socket.socket] = {control.fileno(): control}
    owners: dict[int, socket.socket] = {}
    while True:
        ready, _, _ = select.select([*clients, wake_r], [], [])
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_r, 4096)
        _reap(owners)
        for fd in ready:
            client = clients.get(fd)
            if client is None:
                continue
            try:
                data, fds, _, _ = socket.recv_fds(client, _MAX_MESSAGE, 16)
            except OSError:
                data, fds = b"", []
            if not data:
                if client is control:
                    os._exit(0)  # the judge (or the pool) closed its end: nothing more to fork
                _drop_client(client, clients, owners)
                continue
            message = json.loads(data)
            if message.get("client"):
                for new_fd in fds:
                    joined = socket.socket(fileno=new_fd)
                    clients[joined.fileno()] = joined
                    joined.send(json.dumps({"ready": os.getpid()}).encode())
                continue
            request = message.get("spawn") or {}
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(request, fds, list(clients.values()), (wake_r, wake_w))
            owners[pid] = client
            for passed in fds:
                os.close(passed)
            client.send(json.dumps({"pid": pid}).encode())


if __name__ == "__main__":
    main(sys.argv[1:])
