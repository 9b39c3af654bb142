"""The Linux process controls (``prctl(2)``, through libc) the grader sets on its own processes.

Each is named once here, with why it is set; each is best effort and does nothing off Linux:

- :func:`not_dumpable`: the judge and the zygote. A non-dumpable process cannot be ptraced, nor its
  ``/proc/<pid>/mem`` read, by other processes of its user (the worker running learner code is
  one), so its memory (the seed, expected values) stays its own.
- :func:`die_with_parent`: the worker and every process the zygote forks. Linux kills it when its
  parent dies, so no learner code outlives the grading run that started it.
- :data:`NO_NEW_PRIVS` and :data:`CAPBSET_DROP` are what ``worker._drop_privileges`` uses.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

SET_PDEATHSIG = 1
SET_DUMPABLE = 4
CAPBSET_DROP = 24
NO_NEW_PRIVS = 38  # PR_SET_NO_NEW_PRIVS


def libc() -> Any:
    """The C library (``ctypes.CDLL(None)``, errno kept), or None off Linux or without ctypes."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except (OSError, AttributeError):
        return None


def not_dumpable() -> None:
    """No ptrace and no ``/proc/<pid>/mem`` for same-user processes (see the module doc)."""
    if (c := libc()) is not None:
        c.prctl(SET_DUMPABLE, 0)


def die_with_parent() -> None:
    """Be killed (SIGKILL) when the parent process dies (see the module doc)."""
    if (c := libc()) is not None:
        c.prctl(SET_PDEATHSIG, signal.SIGKILL)
