"""Who learner code runs as: an unprivileged user of its own when the grader runs as root.

Dropping capabilities (``worker._drop_privileges``) leaves a root worker with uid 0, and the kernel
lets a process signal, and own the files of, any process and file of its own uid: the judge's
test copies, its hidden tests, the judge itself. So when the grader runs as root, every learner
process of a grading run (the zygote, the worker forked from it, each CLI run) starts as a fresh
uid and gid of that run alone, with no supplementary groups and no new privileges. Then the
kernel, not the audit hook, refuses them the judge's files (``tests/`` and ``hidden/`` are 0700
root), its memory and its signals, and two concurrent submissions of a batch cannot reach each
other either.

The ids need no ``/etc/passwd`` entry (Linux accepts any number). ``LABKIT_WORKER_USER`` chooses
instead: a user name (its uid and gid) or ``root`` to keep today's capability drop only.

It works only if that uid can run the interpreter and import labkit, that is if the venv and the
source tree are readable by others (a checkout under ``/root`` or a ``mktemp -d`` folder is not).
:func:`choose` tries it once per grading process, with a real child under the new ids; when it
fails, grading goes on as before and :func:`choose` says why in one line, which instructor mode
prints at the start of the batch.

The judge learns the ids from ``LABKIT_WORKER_IDS`` (``uid:gid``), set by the runner; outside a
grading run (a lab author running pytest) nothing changes.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ENV = "LABKIT_WORKER_IDS"
USER_ENV = "LABKIT_WORKER_USER"
# A block of ids no distribution hands out to people or services (they stop well below 60000 or
# use 65534 for nobody): each grading run draws its own.
_FIRST_ID = 600_000
_ID_COUNT = 1_000_000

_probed: dict[tuple[str, int], str] = {}


def supported() -> bool:
    """Only Linux as root can, and needs to, start learner code as another user."""
    return sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0


def choose(python: str) -> tuple[tuple[int, int] | None, str]:
    """The ids the learner processes of one grading run get, or None and why not ("" if not root).

    A fresh pair per call (unless ``LABKIT_WORKER_USER`` names a user), tried once per process.
    """
    if not supported():
        return None, ""
    wanted = os.environ.get(USER_ENV, "").strip()
    if wanted == "root":
        return None, f"{USER_ENV}=root: learner code runs as uid 0 with no capabilities"
    if wanted:
        import pwd

        try:
            entry = pwd.getpwnam(wanted)
        except KeyError:
            return None, f"{USER_ENV}={wanted}: no such user; learner code runs as uid 0"
        ids = (entry.pw_uid, entry.pw_gid)
    else:
        number = _FIRST_ID + secrets.randbelow(_ID_COUNT)
        ids = (number, number)
    problem = _probe(python, ids[0])
    return (None, problem) if problem else (ids, "")


def _probe(python: str, uid: int) -> str:
    """ "" when ``uid`` can start ``python`` and import the worker, else a one-line reason."""
    key = (python, 0 if uid >= _FIRST_ID else uid)
    if key not in _probed:
        try:
            done = subprocess.run(
                [python, "-I", "-B", "-c", "import labkit.grading.worker"],
                cwd="/",
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/"},
                user=uid,
                group=uid if uid >= _FIRST_ID else None,
                extra_groups=[],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=60,
                check=False,
            )
            tail = (done.stderr or b"").decode("utf-8", "replace").strip().splitlines()
            _probed[key] = (
                ""
                if done.returncode == 0
                else f"an unprivileged user cannot run {python} "
                f"({tail[-1] if tail else f'exit {done.returncode}'}): put the checkout and "
                "its .venv where others may read them, or grade in a container"
            )
        except (OSError, subprocess.SubprocessError) as exc:
            _probed[key] = f"cannot start a process as another user ({exc})"
    return _probed[key]


def from_env() -> tuple[int, int] | None:
    """The ids the runner chose for this grading run (read in the judge), if any."""
    raw = os.environ.get(ENV, "")
    try:
        uid, gid = (int(part) for part in raw.split(":"))
    except ValueError:
        return None
    return (uid, gid) if supported() else None


def popen_args(ids: tuple[int, int] | None = None) -> dict[str, Any]:
    """``subprocess.Popen`` arguments that start a learner process as the run's user (``ids``,
    else the ones the runner chose for this run)."""
    ids = ids or from_env()
    if ids is None:
        return {}
    return {"user": ids[0], "group": ids[1], "extra_groups": []}


def hand_over(path: Path, ids: tuple[int, int] | None = None) -> None:
    """Give a folder the judge made (and all in it) to the learner's user, so its code may write
    there, and let that user cross the folders above it inside the temp folder (0711: reach by
    name, never list). No-op when learner code runs as the grader's own user."""
    ids = ids or from_env()
    if ids is None:
        return
    temp = Path(tempfile.gettempdir()).resolve()
    for parent in Path(path).resolve().parents:
        if parent == temp or temp not in parent.parents:
            break
        if parent.stat().st_uid == 0:
            parent.chmod(parent.stat().st_mode & 0o777 | 0o711)
    os.chown(path, *ids, follow_symlinks=False)
    for folder, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(os.path.join(folder, name), *ids, follow_symlinks=False)
