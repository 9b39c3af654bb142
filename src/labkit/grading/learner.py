"""The ``learner`` fixture: the only door from a lab test to the learner's code.

Tests never import learner modules; they ask ``learner.import_module("chatbot")`` inside the test
and get a proxy to the module, which lives in a separate worker process (``proxy.py``). That keeps collection free of learner code (so the expected tests are known before
anything the learner wrote runs) and turns a broken file into one clear failing test instead of a
crashed run. ``learner.run(...)`` starts a learner CLI in a guarded subprocess and records when each
piece of output arrived, so a test can check that output was streamed.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

from labkit.errors import raised_in
from labkit.grading import guard, identity, zygote
from labkit.grading.failures import LearnerCrash, LearnerTimeout, is_remote_error
from labkit.grading.proxy import WorkerClient
from labkit.grading.recipes import Make
from labkit.grading.remote import Remote

# Per stream: a CLI printing more is cut (the test still sees the start).
_RUN_OUTPUT_CAP = 1024 * 1024


@dataclass(frozen=True)
class Chunk:
    """One piece of output as it arrived: seconds since start, which stream, the text."""

    t: float
    stream: str
    text: str


@dataclass(frozen=True)
class RunResult:
    """What a learner CLI did: exit code, output, and when each output chunk arrived."""

    args: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    truncated: bool = False
    chunks: tuple[Chunk, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Exited by itself with status 0."""
        return self.returncode == 0 and not self.timed_out

    def arrival_times(self, stream: str = "stdout") -> list[float]:
        """Seconds since start at which each chunk of ``stream`` arrived."""
        return [c.t for c in self.chunks if c.stream == stream]

    def spread(self, stream: str = "stdout") -> float:
        """Time between the first and the last chunk of ``stream`` (0 if it came all at once).

        A CLI that streams a reply token by token has a spread close to the reply's duration; one
        that buffers and prints at the end has a spread near 0.
        """
        times = self.arrival_times(stream)
        return times[-1] - times[0] if len(times) > 1 else 0.0

    def describe(self) -> str:
        """A short account for assertion messages ("exit 1 after 0.3 s; stderr: ...")."""
        status = "timed out" if self.timed_out else f"exit {self.returncode}"
        tail = self.stderr.strip().splitlines()[-3:]
        extra = f"; stderr ends with: {' | '.join(tail)}" if tail else ""
        return f"{status} after {self.duration:.1f} s{extra}"


class Learner:
    """Access to the folder being graded (the ``learner`` fixture).

    ``path`` is the folder holding the learner's files. ``display`` is how messages name it
    ("labs/chat-01"), so a learner recognises their own files, never a temporary copy.

    Learner code never runs in this process: ``import_module`` returns a proxy to the module in a
    worker process (``proxy.py``), ``make`` names recipes for live objects built there, and
    ``run`` starts a learner CLI in its own guarded process.
    """

    def __init__(self, path: Path, display: str, default_timeout: float = 30.0) -> None:
        self._path = path.resolve()
        self.display = display.rstrip("/") or "."
        self.default_timeout = default_timeout
        self._failures: dict[str, str] = {}
        self.test_deadline: float | None = None
        self.make = Make()
        self.time_limit = default_timeout + 1.0
        self._worker = WorkerClient(
            self._path, self.display, guard.current_policy, self._deadline, lambda: self.time_limit
        )

    def _deadline(self) -> float:
        if self.test_deadline is not None:
            return self.test_deadline
        return time.monotonic() + self.default_timeout

    @property
    def path(self) -> Path:
        """The folder with the learner's files (a copy the grader owns, while grading)."""
        return self._path

    @property
    def worker(self) -> WorkerClient:
        """The worker process client (its ``call_count``, ``stop()``; for the grader's own tests)."""
        return self._worker

    def file(self, relative: str) -> Path:
        """Path of one learner file; fails the test with a clear message if it is missing."""
        target = self._path / relative
        if not target.is_file():
            pytest.fail(f"{relative} is missing from {self.display}", pytrace=False)
        return target

    def import_module(self, name: str) -> Any:
        """The learner's module ``name``, imported in the worker, as a proxy.

        A missing file, a syntax error or an exception at import becomes a failure of the calling
        test with a one-line reason ("labs/calc/calc.py line 12: SyntaxError: ..."); the same
        reason is given to every later test that needs the module, without re-running it.
        """
        if name in self._failures:
            pytest.fail(self._failures[name], pytrace=False)
        top = name.split(".", 1)[0]
        if not (self._path / f"{top}.py").is_file() and not (self._path / top).is_dir():
            message = f"{top}.py is missing from {self.display}"
            self._failures[name] = message
            pytest.fail(message, pytrace=False)
        try:
            return self._worker.request({"op": "import", "name": name})
        except Exception as exc:
            if not is_remote_error(exc):
                raise
            message = self._import_message(name, exc)
        except (LearnerTimeout, LearnerCrash) as exc:  # remembered: every later import fails fast
            self._failures[name] = f"importing {name} failed: {exc.msg}"
            raise
        self._failures[name] = message
        pytest.fail(message, pytrace=False)

    def _here(self, filename: str | None) -> str:
        if not filename:
            return "?"
        try:
            return f"{self.display}/{Path(filename).resolve().relative_to(self._path).as_posix()}"
        except (ValueError, OSError):
            return Path(filename).name

    def new(self, recipe: Any) -> Any:
        """Build ``recipe`` (``learner.make.sqlite(path)``) once in the worker and return a handle
        to it, to pass the same live object to several calls."""
        return self._worker.request({"op": "echo", "value": self._worker.encode(recipe)})

    def timed(self, function: Any, *args: Any, keep: bool = False, **kwargs: Any) -> Any:
        """Seconds one call of a learner ``function`` took, measured in the worker around the call
        alone (arguments are decoded before the clock starts, the result is not sent back unless
        ``keep``): ``(seconds, result_or_None)``. For speed tests, where moving a large matrix
        across the boundary must not count."""
        if not isinstance(function, Remote):
            raise TypeError("learner.timed() takes a function of the learner's code")
        return function._ask(
            "timed",
            args=self._worker.encode(list(args)),
            kwargs=self._worker.encode(dict(kwargs)),
            keep=keep,
        )

    def stop_worker(self) -> None:
        """End the worker process (the next call starts a fresh one)."""
        self._worker.stop()

    def run(
        self,
        module_or_args: str | Sequence[str],
        *,
        input: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Run a learner CLI (``"chatbot"``, ``"chatbot.py"`` or ``["chatbot", "--flag"]``).

        It runs as ``python -m <module>`` (or the script) in the graded folder, under the same guard
        as the worker, with ``input`` on stdin and ``env`` added to the environment. It is
        killed after ``timeout`` seconds (default: a bit less than the test's own timeout, so the
        test can still report what happened).
        """
        if isinstance(module_or_args, str):
            target: list[str] = [module_or_args]
        else:
            target = [str(a) for a in module_or_args]
        if not target:
            raise ValueError("learner.run() needs a module or script to run")
        merged = dict(os.environ)
        if env:
            merged.update({str(k): str(v) for k, v in env.items()})
        if guard.current_policy() is not None:
            merged = guard.sandbox_env(merged)
        limit = self.default_timeout if timeout is None else float(timeout)
        data = input.encode() if isinstance(input, str) else (input or b"")
        return _run_process(guard.sandbox_argv(target), self._path, merged, data, limit)

    # -- messages ---------------------------------------------------------------------------------

    def _import_message(self, name: str, exc: Any) -> str:
        if exc.is_a("SyntaxError"):
            where = exc.where or f"{self.display}/{name}.py"
            return f"{where}: {exc.type_name}: {exc}"
        if exc.is_a("ImportError") and "clashes with an installed one" in str(exc):
            return str(exc)
        if exc.is_a("SystemExit"):
            what = str(exc)
        else:
            text = str(exc).strip().splitlines()
            what = f"{exc.type_name}: {text[0][:300]}" if text else exc.type_name
        return f"importing {name} failed: " + (f"{exc.where}: {what}" if exc.where else what)

    def location(self, exc: BaseException) -> str:
        """Where in the learner's files an exception was raised ("labs/x/foo.py line 7"), or ""."""
        if is_remote_error(exc):
            return str(getattr(exc, "where", "") or "")
        place = raised_in(exc, self._path)
        return f"{self._here(str(place.file))} line {place.line}" if place else ""


def _run_process(
    argv: list[str], cwd: Path, env: dict[str, str], data: bytes, timeout: float
) -> RunResult:
    """Start, feed, read and (if needed) kill one learner CLI, recording output arrival times."""
    start = time.monotonic()
    proc, stdin, stdout, stderr = _start_process(argv, cwd, env)
    guard.note_child(proc.pid)
    selector = selectors.DefaultSelector()
    output = _Output()
    pending = memoryview(data)
    stdin_fd = stdin.fileno()
    if pending:
        os.set_blocking(stdin_fd, False)
        selector.register(stdin_fd, selectors.EVENT_WRITE, "stdin")
    else:
        stdin.close()
    selector.register(stdout.fileno(), selectors.EVENT_READ, "stdout")
    selector.register(stderr.fileno(), selectors.EVENT_READ, "stderr")
    open_streams = 2
    timed_out = False
    deadline = start + timeout
    try:
        while open_streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in selector.select(min(remaining, 0.5)):
                name = key.data
                if name == "stdin":
                    try:
                        written = os.write(stdin_fd, pending[:65536])
                    except BrokenPipeError:
                        written = len(pending)
                    pending = pending[written:]
                    if not pending:
                        selector.unregister(stdin_fd)
                        stdin.close()
                    continue
                piece = os.read(key.fd, 65536)
                if not piece:
                    selector.unregister(key.fd)
                    open_streams -= 1
                    continue
                output.add(name, piece, time.monotonic() - start)
        returncode, timed_out = _finish(proc, timed_out, deadline)
    finally:
        selector.close()
        for stream in (stdin, stdout, stderr):
            try:
                stream.close()
            except OSError:
                pass
    return RunResult(
        args=tuple(argv[6:]),
        returncode=returncode,
        stdout=output.buffers["stdout"].decode("utf-8", "replace"),
        stderr=output.buffers["stderr"].decode("utf-8", "replace"),
        duration=time.monotonic() - start,
        timed_out=timed_out,
        truncated=output.truncated,
        chunks=tuple(output.chunks),
    )


class _Output:
    """A CLI's stdout and stderr as they arrive: capped per stream, each piece with its time."""

    def __init__(self) -> None:
        self.buffers: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.chunks: list[Chunk] = []
        self.truncated = False

    def add(self, name: str, piece: bytes, at: float) -> None:
        buf = self.buffers[name]
        room = _RUN_OUTPUT_CAP - len(buf)
        if room <= 0:
            self.truncated = True
            return
        if len(piece) > room:
            piece, self.truncated = piece[:room], True
        buf.extend(piece)
        self.chunks.append(Chunk(at, name, piece.decode("utf-8", "replace")))


def _finish(proc: Any, timed_out: bool, deadline: float) -> tuple[int | None, bool]:
    """Kill a CLI that ran out of time, reap it; (exit code or None if timed out, timed out)."""
    if timed_out:
        proc.kill()
    try:
        returncode: int | None = proc.wait(timeout=max(0.1, deadline - time.monotonic()) + 2)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        proc.wait()
        returncode = None
    return (None if timed_out else returncode), timed_out


def _start_process(
    argv: list[str], cwd: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes] | zygote.Forked, BinaryIO, BinaryIO, BinaryIO]:
    """Start a learner CLI: forked from the grading run's zygote when one is up (the SDKs are
    already imported there), else a fresh interpreter. Returns the process and its stdin (to
    write), stdout and stderr (to read)."""
    warm = zygote.shared(cwd) if argv[3:5] == ["-m", guard.SANDBOX_MODULE] else None
    if warm is not None:
        ends = [os.pipe() for _ in range(3)]
        child_ends = [ends[0][0], ends[1][1], ends[2][1]]
        try:
            forked = warm.spawn(guard.SANDBOX_MODULE, argv[5:], cwd=cwd, env=env, stdio=child_ends)
        except zygote.ZygoteError:
            for r, w in ends:
                os.close(r)
                os.close(w)
        else:
            for fd in child_ends:
                os.close(fd)
            return (
                forked,
                os.fdopen(ends[0][1], "wb", buffering=0),
                os.fdopen(ends[1][0], "rb", buffering=0),
                os.fdopen(ends[2][0], "rb", buffering=0),
            )
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
        **identity.popen_args(),
    )
    assert proc.stdin
    assert proc.stdout
    assert proc.stderr
    return (
        proc,
        cast(BinaryIO, proc.stdin),
        cast(BinaryIO, proc.stdout),
        cast(BinaryIO, proc.stderr),
    )
