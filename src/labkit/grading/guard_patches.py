"""The few process and signal primitives CPython does not audit, wrapped by the grading guard.

Installed with the enforcing hook (:func:`labkit.grading.guard_hook.install`): without these,
``_posixsubprocess.fork_exec`` and ``signal.pidfd_send_signal`` would start processes or kill the
grader unseen, and ``os._exit`` would take the whole run down.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from labkit.grading.guard_plain import plain
from labkit.grading.guard_policy import GuardViolation


def patch_unaudited(
    approved: Callable[[Sequence[object], object], bool],
    deny: Callable[[str], GuardViolation],
    python: str,
) -> None:
    """Wrap the few process/signal primitives CPython 3.11 does not audit.

    ``_posixsubprocess.fork_exec`` (used by multiprocessing's spawn/forkserver) and
    ``signal.pidfd_send_signal`` would otherwise start processes or kill the grader unseen.
    ``os._exit`` becomes an exception so one test's exit does not take the whole run down.
    """
    import subprocess

    try:
        import _posixsubprocess
    except ImportError:  # not POSIX
        _posixsubprocess = None  # type: ignore[assignment]

    if _posixsubprocess is not None:
        original = _posixsubprocess.fork_exec
        fsdecode = os.fsdecode

        def fork_exec(*args: Any) -> Any:
            # (args, executable_list, close_fds, pass_fds, cwd, env, ..., preexec_fn, ...):
            # a preexec_fn would run arbitrary Python in the new process before exec. The argv,
            # executables and environment are checked, then passed on, as plain copies: a list
            # subclass could otherwise show the check one argv and the C code another.
            if len(args) < 6 or any(callable(a) for a in args[6:]):
                raise deny("starting a process (fork_exec)")
            args = (plain(args[0]), plain(args[1]), *args[2:5], plain(args[5]), *args[6:])
            executables = args[1] if type(args[1]) in (list, tuple) else None
            if (
                executables is None
                or not approved(args[0], args[5])
                or not all(type(e) in (str, bytes) and fsdecode(e) == python for e in executables)
            ):
                raise deny("starting a process (fork_exec)")
            return original(*args)

        _posixsubprocess.fork_exec = fork_exec
        if hasattr(subprocess, "_fork_exec"):
            subprocess._fork_exec = fork_exec

    def no_pidfd_signal(*_args: object, **_kwargs: object) -> None:
        raise deny("signalling a process through a pidfd")

    for module in (signal, sys.modules.get("_signal")):
        if module is not None and hasattr(module, "pidfd_send_signal"):
            module.pidfd_send_signal = no_pidfd_signal

    _refuse_special_files(deny)

    def learner_exit(status: int = 0) -> None:
        raise LearnerExit(status)

    os._exit = learner_exit  # type: ignore[assignment]
    posix = sys.modules.get("posix")
    if posix is not None:
        posix._exit = learner_exit  # type: ignore[attr-defined]


def _refuse_special_files(deny: Callable[[str], GuardViolation]) -> None:
    """``os.mkfifo`` and ``os.mknod`` raise no audit event: without this, learner code could
    plant a pipe or an empty file in a folder the guard protects (a pipe where the grader reads
    would hang it)."""

    def no_special_file(*_args: object, **_kwargs: object) -> None:
        raise deny("creating a FIFO or device node (os.mkfifo / os.mknod)")

    for module in (os, sys.modules.get("posix")):
        for name in ("mkfifo", "mknod"):
            if module is not None and hasattr(module, name):
                setattr(module, name, no_special_file)


class LearnerExit(SystemExit):
    """``os._exit(n)`` called by learner code, turned into an exception the test can report."""

    def __str__(self) -> str:
        return f"os._exit({self.code}) was called"
