"""The grading child as a process: its folder, command line, environment, rlimits and run spec.

Everything here is decided by the parent before any learner code runs; the message loop that
watches the child is :mod:`labkit.grading.attempt`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from labkit.grading import identity
from labkit.grading.manifest import LabManifest
from labkit.grading.spec import RunSpec

# Process groups of running grading children, so an interrupted grader can take them down too.
ACTIVE: set[int] = set()


def kill_all() -> None:
    """Kill every grading child still running (on Ctrl-C: they live in their own sessions, so the
    terminal's SIGINT does not reach them)."""
    for pgid in list(ACTIVE):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


try:
    import resource as _resource

    _HAS_PRLIMIT = hasattr(_resource, "prlimit")
except ImportError:  # Windows: no rlimits at all
    _HAS_PRLIMIT = False

_INI = """\
# Written by the labkit grader for this run only; the submission's own config is never read.
[pytest]
addopts =
python_files = test_*.py
python_classes = Test*
python_functions = test_*
pythonpath = tests
console_output_style = classic
"""


def grading_root() -> Path:
    """The one folder all grading work folders live in (``$TMPDIR/labkit-grading``).

    Learner code may write to the system temp folder, but never here: this is how one submission
    is kept out of another's grading folder, in a batch or in a concurrent run.
    """
    root = Path(tempfile.gettempdir()) / "labkit-grading"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def _rlimits(manifest: LabManifest) -> list[tuple[int, int]]:
    import resource

    limits = manifest.limits
    values = [
        (resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * 1024 * 1024),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, int(limits.run_timeout * 2 + 30)),
    ]
    nproc = _nproc_limit()
    if nproc is not None:
        values.append((resource.RLIMIT_NPROC, nproc))
    return values


def _nproc_limit() -> int | None:
    """A process/thread cap for non-root users: what the user already runs plus some headroom.

    RLIMIT_NPROC counts every task of the user on the machine and does not bind root at all, so
    it is only a backstop; the in-process guard is what blocks process creation.
    """
    if not hasattr(os, "getuid") or os.getuid() == 0 or not os.path.isdir("/proc"):
        return None
    uid = os.getuid()
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        try:
            if int(fields.get("Uid", "-1").split()[0]) == uid:
                count += int(fields.get("Threads", "1").strip())
        except (ValueError, IndexError):
            continue
    return count + 256


def prepare_folder(
    work: Path, files: Sequence[tuple[Path, str]], grader_dir: Path, hidden_tests: Path | None
) -> tuple[Path, Path, Path | None, Path]:
    """Fill a fresh attempt folder: the learner's files, the grader's tests, the ini; return
    (lab, tests, hidden tests or None, pytest.ini)."""
    lab = work / "lab"
    tests = work / "tests"
    for sub in ("lab", "tmp", "home"):
        (work / sub).mkdir()
    for source, rel in files:
        target = lab / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target, follow_symlinks=False)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "lab.toml")
    shutil.copytree(grader_dir, tests, ignore=ignore, symlinks=False)
    hidden: Path | None = None
    if hidden_tests is not None:
        hidden = work / "hidden"
        shutil.copytree(hidden_tests, hidden, ignore=ignore, symlinks=False)
    ini = work / "pytest.ini"
    ini.write_text(_INI, encoding="utf-8")
    return lab, tests, hidden, ini


def plain_pytest_argv(tests: str | Path, lab_dir: str | Path, *extra: str) -> list[str]:
    """The plugin run by plain pytest, without the runner: ``python -m pytest -q -p
    labkit.grading.plugin -p no:cacheprovider <tests> --lab-dir <lab_dir> [extra...]``.

    No copy, no guard, one process (docs/GRADING.md, "Running it"): what a lab author runs to
    debug a grader, and the baseline :func:`child_argv`'s guarded run is measured against.
    """
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "labkit.grading.plugin",
        "-p",
        "no:cacheprovider",
        str(tests),
        "--lab-dir",
        str(lab_dir),
        *extra,
    ]


def child_argv(
    python: str,
    work: Path,
    ini: Path,
    tests: Path,
    hidden: Path | None,
    fds: tuple[int, int, int],
) -> list[str]:
    """The child's command line; ``fds`` are its ends of the (spec, channel, trace) pipes."""
    spec_r, chan_w, trace_w = fds
    return [
        python,
        "-I",
        "-B",
        "-m",
        "pytest",
        "-c",
        str(ini),
        "--rootdir",
        str(work),
        "-p",
        "labkit.grading.plugin",
        "--noconftest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:stepwise",
        "--import-mode=importlib",
        "-q",
        "--tb=no",
        "-o",
        "addopts=",
        "--labkit-spec-fd",
        str(spec_r),
        "--labkit-channel-fd",
        str(chan_w),
        "--labkit-trace-fd",
        str(trace_w),
        str(tests),
        *([str(hidden)] if hidden else []),
    ]


def child_env(
    work: Path, python: str, repo_root: Path | None, ids: tuple[int, int] | None = None
) -> dict[str, str]:
    """The child's whole environment: minimal, nothing inherited but the benchmark knobs, and the
    learner's own uid:gid when grading as root (``identity.py``)."""
    bin_dir = str(Path(python).parent)
    env = {
        "PATH": os.pathsep.join([bin_dir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(work / "home"),
        "TMPDIR": str(work / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "MALLOC_ARENA_MAX": "2",
        "NO_COLOR": "1",
        "COLUMNS": "100",
        "LABKIT_PROVIDER": "fake",
        "LABKIT_GRADING": "1",
    }
    if repo_root is not None:
        env["LABKIT_ROOT"] = str(repo_root)
    for knob in ("LABKIT_NO_ZYGOTE", "LABKIT_NO_WARMUP"):  # benchmarks and debugging
        if os.environ.get(knob):
            env[knob] = "1"
    if ids is not None:
        env[identity.ENV] = f"{ids[0]}:{ids[1]}"
    return env


def share_with_learner(
    work: Path, base: Path, ids: tuple[int, int], lab: Path, tests: Path, hidden: Path | None
) -> None:
    """Let the run's learner user reach its own folders and nothing else of the judge's.

    The folders from the grading root down to this run may be crossed but not listed (0711),
    so the learner user reaches ``lab``, ``tmp`` and ``home`` (now its own) only by their
    names; the test copies stay root's alone (0700).
    """
    root = grading_root()
    chain = [work, *work.parents]
    top = chain.index(root) if root in chain else chain.index(base)
    for folder in chain[: top + 1]:
        folder.chmod(0o711)
    for mine in (lab, work / "tmp", work / "home"):
        identity.hand_over(mine, ids)
    for private in (tests, *([hidden] if hidden else [])):
        private.chmod(0o700)


def preexec_limits(manifest: LabManifest) -> Callable[[], None] | None:
    """A ``preexec_fn`` applying the rlimits where prlimit is unavailable; None where it is
    (:func:`apply_limits` then sets them from the parent)."""
    if _HAS_PRLIMIT:
        return None
    limits = _rlimits(manifest)

    def apply() -> None:  # only where prlimit is unavailable (macOS); no threads there
        import resource

        for which, value in limits:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass

    return apply


def apply_limits(pid: int, manifest: LabManifest) -> None:
    """Apply rlimits to the child right after it starts (before it has read its spec).

    prlimit from the parent avoids preexec_fn, which is unsafe in a threaded parent (batch
    mode); the child runs only trusted code (Python, pytest) until it has the spec.
    """
    if not _HAS_PRLIMIT:
        return
    import resource

    for which, value in _rlimits(manifest):
        try:
            resource.prlimit(pid, which, (value, value))
        except (ValueError, OSError):
            pass


def write_spec(fd: int, spec: RunSpec) -> None:
    """Send the run spec down its pipe and close it (a child that died early is not an error)."""
    data = json.dumps(spec.to_dict()).encode()
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)
