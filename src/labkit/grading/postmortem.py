"""What the judge can say about a learner process that hung or died: where it was stuck, and how
it ended.

Two processes are watched this way: the worker running learner code (``proxy.WorkerClient``, when
one call misses the test's deadline) and an attempt's grading child (``attempt.Attempt``, when a
whole test does). Each registers ``faulthandler`` on ``SIGUSR1`` with a pipe the judge reads;
before killing a stuck process the judge sends the signal, reads the dump (:func:`read_dump`) and
names the learner's innermost line (:func:`innermost_frame`), so a timeout says "stuck at
labs/rag-01/chunkers.py line 12 (in split)" instead of only "too slow".
"""

from __future__ import annotations

import os
import re
import select
import signal
import time
from pathlib import Path

_FRAME = re.compile(r'File "(.+?)", line (\d+) in (\S+)')
_QUIET = 0.2  # faulthandler writes a dump in one burst: this long without more and it is complete


def read_dump(fd: int, wait: float, limit: int = 65536) -> bytes:
    """The stack dump a process was just asked for, read from ``fd`` (its faulthandler pipe).

    Waits up to ``wait`` seconds for the dump to begin and stops once it has been quiet for a
    moment; ``faulthandler`` writes from a C signal handler, so the dump comes even from a tight
    ``while True: pass``, and a process that does not answer in time is killed all the same.
    At most ``limit`` bytes are kept.
    """
    out = bytearray()
    end = time.monotonic() + wait
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], min(left, _QUIET) if out else left)
        if not ready:
            if out:
                break
            continue
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            continue
        if not chunk:
            break
        if len(out) < limit:
            out += chunk
    return bytes(out)


def innermost_frame(dump: bytes, folder: str | Path, display: str) -> str:
    """The innermost frame of ``dump`` whose file is under ``folder``, named as the learner knows
    the file: ``"<display>/foo.py line 7 (in f)"``; "" when no frame is theirs.

    faulthandler lists the most recent call first, thread by thread, so the first match is the
    line the learner's code was running.
    """
    prefix = str(folder) + os.sep
    for match in _FRAME.finditer(dump.decode("utf-8", "replace")):
        filename, line, function = match.groups()
        if filename.startswith(prefix):
            rel = filename[len(prefix) :].replace(os.sep, "/")
            return f"{display}/{rel} line {line} (in {function})"
    return ""


def ended(code: int | None) -> str:
    """How a process ended, from its return code: ``"exit code 3"``, ``"killed by SIGKILL"``
    (a negative code is the signal), or ``"still running"`` (None)."""
    if code is None:
        return "still running"
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"
