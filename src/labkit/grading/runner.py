"""The parent side of grading: prepare a folder, run the grading child, compute the score.

One grading run (learner or instructor mode, same code):

1. copy only the allow-listed learner files and the grader's tests into a fresh folder this process
   owns (plus a grader-owned pytest.ini);
2. start ``python -I -B -m pytest -c <ini> -p labkit.grading.plugin --noconftest ...`` there, in
   its own process group, with rlimits, a minimal environment, and two extra pipes: one carrying
   the run spec in (read once, then closed), one carrying results out;
3. read the result channel: the child announces the expected tests before any learner code runs,
   then ``start``/``result`` per test. A per-test timer starts at ``start``; if it expires, the
   whole process group is killed and a new child is started for the tests that have not run;
4. every expected test without an accepted result fails with its reason (timeout, crash,
   deadline). The score is computed here, from accepted messages only — never from stdout, exit
   codes, or files the child wrote.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import select
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from labkit.errors import LabkitError
from labkit.grading import identity
from labkit.grading.channel import ChannelReader, Message
from labkit.grading.guard import GuardConfig
from labkit.grading.manifest import LabManifest, compute_tests_hash
from labkit.grading.spec import RunSpec, TestMeta, clean_text, judge_warm

Mode = Literal["learner", "instructor"]
Status = Literal["graded", "timeout", "crashed", "invalid"]
Kind = Literal["passed", "failed", "timeout", "crash", "deadline", "tamper", "invalid"]

_COLLECT_TIMEOUT = 120.0  # collecting imports test modules (maybe torch); generous but bounded
_EXIT_GRACE = 2.0  # after "done", how long a child may take to exit before it is killed
_TAIL_BYTES = 8192
_TRACE_BYTES = 65536  # a faulthandler dump of every thread, asked for just before a timeout kill
_TRACE_WAIT = 1.0  # how long the parent waits for that dump before killing anyway
_FRAME_RE = re.compile(r'File "(.+?)", line (\d+) in (\S+)')


# Process groups of running grading children, so an interrupted grader can take them down too.
_ACTIVE: set[int] = set()


def kill_all() -> None:
    """Kill every grading child still running (on Ctrl-C: they live in their own sessions, so the
    terminal's SIGINT does not reach them)."""
    for pgid in list(_ACTIVE):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class GradingError(LabkitError):
    """Grading could not run at all (a broken grader, a missing folder): exit 2, one line."""


@dataclass
class TestOutcome:
    """The parent's verdict on one expected test."""

    meta: TestMeta
    kind: Kind
    score: float
    reason: str = ""
    output: str = ""
    blocked: list[str] = field(default_factory=list)
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return self.kind == "passed"


@dataclass
class GradeResult:
    """Everything a report, a results.json and a gradebook row need about one submission."""

    lab_id: str
    lab_title: str
    submission: str
    mode: Mode
    status: Status
    tests: list[TestOutcome]
    not_run_hidden: list[TestMeta]
    execution_time: float
    seed_label: str | int
    tests_hash: str
    attempts: int = 0
    stray_writes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        return round(sum(t.meta.points for t in self.tests), 4)

    @property
    def passed_count(self) -> int:
        return sum(1 for t in self.tests if t.passed)


@dataclass
class GradeOptions:
    """How to grade: mode, seed, hidden tests, and what the child must never touch."""

    mode: Mode = "learner"
    seed: int | None = None
    secret_seed: bool = False
    hidden_tests: Path | None = None
    protected: Sequence[Path] = ()
    repo_root: Path | None = None
    work_base: Path | None = None
    expected: list[TestMeta] | None = None
    digest: str | None = None
    python: str = sys.executable
    collect_only: bool = False


# --- public entry points -------------------------------------------------------------------------


def grade(
    manifest: LabManifest,
    submission: Path,
    options: GradeOptions | None = None,
    display: str | None = None,
) -> GradeResult:
    """Grade the learner files in ``submission`` against ``manifest``'s tests.

    Raises :class:`GradingError` only when grading itself cannot run (missing folder, a grader
    whose tests fail to collect); whatever the submission does ends up as test outcomes.
    """
    opts = options or GradeOptions()
    if not submission.is_dir():
        raise GradingError(f"folder not found: {submission}")
    submission = submission.resolve()
    shown = display or _display(submission, opts.repo_root)
    started = time.monotonic()
    digest = opts.digest or compute_tests_hash(
        manifest, [opts.hidden_tests] if opts.hidden_tests else []
    )
    seed = manifest.seed if opts.seed is None else opts.seed
    shown_seed: str | int = seed_label(seed) if opts.secret_seed else seed
    files = manifest.learner_files(submission)
    total_kb = sum(p.stat().st_size for p, _ in files) / 1024
    invalid = _invalid_reason(manifest, files, total_kb, opts.mode)
    if invalid:  # nothing of the submission runs: every expected test fails with the reason
        expected = opts.expected or collect_expected(manifest, opts)
        learner = opts.mode == "learner"
        return GradeResult(
            lab_id=manifest.id,
            lab_title=manifest.title,
            submission=shown,
            mode=opts.mode,
            status="invalid",
            tests=[
                TestOutcome(m, "invalid", 0.0, invalid)
                for m in expected
                if not (learner and m.visibility == "hidden")
            ],
            not_run_hidden=[m for m in expected if learner and m.visibility == "hidden"],
            execution_time=round(time.monotonic() - started, 3),
            seed_label=shown_seed,
            tests_hash=digest,
            notes=[invalid],
        )
    owns_base = opts.work_base is None
    base = (
        Path(tempfile.mkdtemp(prefix="grade-", dir=grading_root())) if owns_base else opts.work_base
    )
    assert base is not None
    try:
        session = _Session(manifest, submission, shown, files, opts, base, seed)
        session.run()
    finally:
        if owns_base:
            shutil.rmtree(base, ignore_errors=True)
    assert session.expected is not None
    hidden_skipped = [
        m for m in session.expected if opts.mode == "learner" and m.visibility == "hidden"
    ]
    tests = [session.outcomes[m.id] for m in session.expected if m.id in session.outcomes]
    tests.sort(key=lambda t: number_key(t.meta.number))  # the lab's task order, not file order
    return GradeResult(
        lab_id=manifest.id,
        lab_title=manifest.title,
        submission=shown,
        mode=opts.mode,
        status=_status(tests),
        tests=tests,
        not_run_hidden=hidden_skipped,
        execution_time=round(time.monotonic() - started, 3),
        seed_label=shown_seed,
        tests_hash=digest,
        attempts=session.attempts,
        stray_writes=session.stray,
        notes=session.notes,
    )


def collect_expected(manifest: LabManifest, options: GradeOptions | None = None) -> list[TestMeta]:
    """Run the grader's collection alone (an empty learner folder) and return the expected tests.

    Instructor mode does this once per batch: it fails fast on a broken grader and gives every
    submission the same trusted list of expected tests.
    """
    opts = options or GradeOptions()
    with tempfile.TemporaryDirectory(prefix="collect-", dir=grading_root()) as empty:
        probe = dataclasses.replace(opts, collect_only=True, expected=None)
        base = Path(empty) / "work"
        base.mkdir()
        session = _Session(manifest, Path(empty), "(collect)", [], probe, base, opts.seed or 0)
        session.run()
    assert session.expected is not None
    return session.expected


# --- one grading session (possibly several child attempts) ---------------------------------------


class _Session:
    def __init__(
        self,
        manifest: LabManifest,
        submission: Path,
        display: str,
        files: list[tuple[Path, str]],
        opts: GradeOptions,
        base: Path,
        seed: int,
    ) -> None:
        self.manifest = manifest
        self.submission = submission
        self.display = display
        self.files = files
        self.opts = opts
        self.base = base
        self.seed = seed
        self.limits = manifest.limits
        self.expected: list[TestMeta] | None = opts.expected
        self.outcomes: dict[str, TestOutcome] = {}
        self.attempts = 0
        self.stray = 0
        self.notes: list[str] = []
        self.last_failure = ""
        self.deadline = time.monotonic() + self.limits.run_timeout
        # Consecutive timeouts stuck at the same learner line: (test number, "file line N (in f)").
        self.stuck: list[tuple[str, str]] = []
        self.stop_reason = ""

    # which tests this session must produce outcomes for
    def to_run(self) -> list[TestMeta]:
        assert self.expected is not None
        return [
            m
            for m in self.expected
            if not (self.opts.mode == "learner" and m.visibility == "hidden")
        ]

    def run(self) -> None:
        select: list[str] | None = None
        if self.expected is not None:
            select = [m.id for m in self.to_run()]
        while True:
            if time.monotonic() >= self.deadline:
                self._fail_remaining("deadline", self.deadline_reason())
                return
            progressed = self._attempt(select)
            if self.opts.collect_only:
                return
            if self.stop_reason:  # the same endless loop twice in a row: do not wait for a third
                self._fail_remaining("timeout", self.stop_reason)
                return
            remaining = [m.id for m in self.to_run() if m.id not in self.outcomes]
            if not remaining:
                return
            if time.monotonic() >= self.deadline:
                self._fail_remaining("deadline", self.deadline_reason())
                return
            if not progressed:
                tail = f" ({self.last_failure})" if self.last_failure else ""
                self._fail_remaining(
                    "crash", f"did not run: the grading process kept failing before this test{tail}"
                )
                return
            select = remaining

    def note_timeout(self, number: str, where: str) -> None:
        """Remember where a timed-out test was stuck; two in a row at the same line stop the run.

        Each timeout costs the whole per-test limit plus a restart, and tests of one lab share
        code: when two consecutive tests hang at the same line, the rest would almost surely hang
        there too, so they are reported as not run, naming the line, instead of waiting for each.
        """
        if not where:
            self.stuck = []
            return
        if self.stuck and self.stuck[-1][1] == where:
            first = self.stuck[-1][0]
            self.stop_reason = (
                f"not run: tests {first} and {number} both got stuck at {where}; "
                "fix that loop and grade again"
            )
            self.notes.append(
                f"stopped early: tests {first} and {number} both got stuck at {where}"
            )
        self.stuck = [(number, where)]

    def deadline_reason(self) -> str:
        return f"did not run: the whole run hit its {self.limits.run_timeout:g} s limit"

    def _fail_remaining(self, kind: Kind, reason: str) -> None:
        if self.expected is None:
            return
        for meta in self.to_run():
            if meta.id not in self.outcomes:
                self.outcomes[meta.id] = TestOutcome(meta, kind, 0.0, reason)

    def _attempt(self, select: list[str] | None) -> bool:
        """One child process; returns True if at least one test got an outcome."""
        self.attempts += 1
        attempt = _Attempt(self, select)
        try:
            return attempt.run()
        finally:
            attempt.cleanup()


class _Attempt:
    """One grading child: its folder, process, pipes and the message loop."""

    def __init__(self, session: _Session, select: list[str] | None) -> None:
        self.s = session
        self.select = select
        self.token = secrets.token_hex(16)
        self.dir = Path(tempfile.mkdtemp(prefix="run-", dir=session.base))
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader = ChannelReader(self.token)
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.current: str | None = None
        self.current_deadline = 0.0
        self.accepted: list[str] = []
        self.done = False
        self.killed_for: str | None = None
        self.selected: set[str] | None = None
        self.reader_seen_collected = False
        self.trace_fd: int | None = None
        self.trace = bytearray()
        # the learner's own user for this run (root graders only; see grading/identity.py)
        self.ids, self.ids_problem = identity.choose(session.opts.python)

    # -- folder -----------------------------------------------------------------------------------

    def prepare(self) -> tuple[Path, Path, Path | None, Path]:
        lab = self.dir / "lab"
        tests = self.dir / "tests"
        for sub in ("lab", "tmp", "home"):
            (self.dir / sub).mkdir()
        for source, rel in self.s.files:
            target = lab / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target, follow_symlinks=False)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "lab.toml")
        shutil.copytree(self.s.manifest.grader_dir, tests, ignore=ignore, symlinks=False)
        hidden: Path | None = None
        if self.s.opts.hidden_tests is not None:
            hidden = self.dir / "hidden"
            shutil.copytree(self.s.opts.hidden_tests, hidden, ignore=ignore, symlinks=False)
        ini = self.dir / "pytest.ini"
        ini.write_text(_INI, encoding="utf-8")
        if self.ids is not None:
            self._share_with_learner(lab, tests, hidden)
        return lab, tests, hidden, ini

    def _share_with_learner(self, lab: Path, tests: Path, hidden: Path | None) -> None:
        """Let the run's learner user reach its own folders and nothing else of the judge's.

        The folders from the grading root down to this run may be crossed but not listed (0711),
        so the learner user reaches ``lab``, ``tmp`` and ``home`` (now its own) only by their
        names; the test copies stay root's alone (0700).
        """
        assert self.ids is not None
        root = grading_root()
        chain = [self.dir, *self.dir.parents]
        top = chain.index(root) if root in chain else chain.index(self.s.base)
        for folder in chain[: top + 1]:
            folder.chmod(0o711)
        for mine in (lab, self.dir / "tmp", self.dir / "home"):
            identity.hand_over(mine, self.ids)
        for private in (tests, *([hidden] if hidden else [])):
            private.chmod(0o700)

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- process ----------------------------------------------------------------------------------

    def run(self) -> bool:
        lab, tests, hidden, ini = self.prepare()
        spec_r, spec_w = os.pipe()
        chan_r, chan_w = os.pipe()
        trace_r, trace_w = os.pipe()  # faulthandler's stack dump, asked for before a timeout kill
        self.trace_fd = trace_r
        argv = [
            self.s.opts.python,
            "-I",
            "-B",
            "-m",
            "pytest",
            "-c",
            str(ini),
            "--rootdir",
            str(self.dir),
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
        try:
            self.proc = subprocess.Popen(
                argv,
                cwd=lab,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(spec_r, chan_w, trace_w),
                close_fds=True,
                start_new_session=True,
                preexec_fn=None if _HAS_PRLIMIT else self._preexec(),
            )
        except BaseException:
            os.close(trace_r)
            raise
        finally:
            os.close(spec_r)
            os.close(chan_w)
            os.close(trace_w)
        _ACTIVE.add(self.proc.pid)
        self._limit(self.proc.pid)
        self._send_spec(spec_w, lab, tests, hidden)
        try:
            self._loop(chan_r)
        except BaseException:  # Ctrl-C, or a broken grader: take the child down right away
            self._kill("interrupted")
            raise
        finally:
            os.close(chan_r)
            self._reap()
            os.close(trace_r)
        return self._settle()

    def _env(self) -> dict[str, str]:
        bin_dir = str(Path(self.s.opts.python).parent)
        env = {
            "PATH": os.pathsep.join([bin_dir, "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(self.dir / "home"),
            "TMPDIR": str(self.dir / "tmp"),
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
        if self.s.opts.repo_root is not None:
            env["LABKIT_ROOT"] = str(self.s.opts.repo_root)
        for knob in ("LABKIT_NO_ZYGOTE", "LABKIT_NO_WARMUP"):  # benchmarks and debugging
            if os.environ.get(knob):
                env[knob] = "1"
        if self.ids is not None:
            env[identity.ENV] = f"{self.ids[0]}:{self.ids[1]}"
        return env

    def _preexec(self) -> Callable[[], None]:
        limits = _rlimits(self.s.manifest)

        def apply() -> None:  # only where prlimit is unavailable (macOS); no threads there
            import resource

            for which, value in limits:
                try:
                    resource.setrlimit(which, (value, value))
                except (ValueError, OSError):
                    pass

        return apply

    def _limit(self, pid: int) -> None:
        """Apply rlimits to the child right after it starts (before it has read its spec).

        prlimit from the parent avoids preexec_fn, which is unsafe in a threaded parent (batch
        mode); the child runs only trusted code (Python, pytest) until it has the spec.
        """
        if not _HAS_PRLIMIT:
            return
        import resource

        for which, value in _rlimits(self.s.manifest):
            try:
                resource.prlimit(pid, which, (value, value))
            except (ValueError, OSError):
                pass

    def _send_spec(self, fd: int, lab: Path, tests: Path, hidden: Path | None) -> None:
        protected = [
            self.s.manifest.grader_dir,
            grading_root(),  # every grading folder on this machine but this run's own
            self.s.base,
            *([self.s.opts.hidden_tests] if self.s.opts.hidden_tests else []),
            *self.s.opts.protected,
        ]
        guard = GuardConfig(
            work_dir=str(self.dir),
            # the system temp folder too: some libraries write there whatever TMPDIR says
            write_roots=(tempfile.gettempdir(),),
            protected_roots=tuple(str(Path(p).resolve()) for p in protected),
            learner_dir=str(lab),
            display_dir=self.s.display,
        )
        spec = RunSpec(
            token=self.token,
            lab_id=self.s.manifest.id,
            learner_dir=str(lab),
            display_dir=self.s.display,
            tests_dir=str(tests),
            seed=self.s.seed,
            test_timeout=self.s.limits.test_timeout,
            output_limit=self.s.limits.output_kb * 1024,
            guard=guard.to_json(),
            hidden_dir=str(hidden) if hidden else None,
            select=self.select,
            skip_hidden=self.s.opts.mode == "learner",
            collect_only=self.s.opts.collect_only,
            delete_after_collection=[str(tests), *([str(hidden)] if hidden else [])],
            judge_warm=judge_warm(self.s.manifest.extra),
        )
        import json

        data = json.dumps(spec.to_dict()).encode()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BrokenPipeError:
            pass
        finally:
            os.close(fd)

    # -- message loop -----------------------------------------------------------------------------

    def _loop(self, chan_r: int) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        out_fd = self.proc.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(chan_r, selectors.EVENT_READ, "chan")
        selector.register(out_fd, selectors.EVENT_READ, "out")
        assert self.trace_fd is not None
        selector.register(self.trace_fd, selectors.EVENT_READ, "trace")
        collect_deadline = time.monotonic() + min(_COLLECT_TIMEOUT, self.s.limits.run_timeout)
        try:
            while True:
                now = time.monotonic()
                due = self.s.deadline
                if not self.reader_seen_collected:
                    due = min(due, collect_deadline)
                if self.current is not None:
                    due = min(due, self.current_deadline)
                if now >= due:
                    self._on_deadline(now)
                    return
                events = selector.select(timeout=min(due - now, 1.0))
                for key, _ in events:
                    data = os.read(key.fd, 65536)
                    if key.data == "out":
                        if not data:
                            selector.unregister(out_fd)
                        else:
                            self._keep_tail(data)
                        continue
                    if key.data == "trace":
                        if not data:
                            selector.unregister(key.fd)
                        elif len(self.trace) < _TRACE_BYTES:
                            self.trace += data
                        continue
                    if not data:  # the child closed the channel: it exited (or cut it)
                        return
                    for message in self.reader.feed(data):
                        self._handle(message)
                        if self.killed_for:
                            return
                    if self.reader.out_of_sequence:
                        self._tamper("a message on the result channel was out of sequence")
                        return
                if self.done:
                    # Every result is in; nothing the child does while exiting can change them,
                    # so do not wait for its interpreter shutdown.
                    self._kill("done")
                    return
        finally:
            selector.close()
            self.s.stray += self.reader.stray

    def _on_deadline(self, now: float) -> None:
        if self.current is not None and now >= self.current_deadline:
            self._dump_stack()
            self._kill("timeout")
        elif now >= self.s.deadline:
            self._kill("deadline")
        else:
            self._kill("collect-timeout")

    def _handle(self, message: Message) -> None:
        kind, data = message.kind, message.data
        if kind == "collected":
            self._on_collected(data)
        elif kind == "start":
            test_id = data.get("id")
            allowed = self.selected if self.selected is not None else set()
            if (
                self.current is not None
                or not isinstance(test_id, str)
                or test_id not in allowed
                or test_id in self.s.outcomes
            ):
                self._tamper(f"unexpected start of {test_id!r}")
                return
            self.current = test_id
            self.current_deadline = time.monotonic() + self.s.limits.test_timeout
        elif kind == "result":
            test_id = data.get("id")
            if test_id is None or test_id != self.current:
                self._tamper(f"a result for {test_id!r} arrived while {self.current!r} was running")
                return
            self._on_result(test_id, data)
            self.current = None
        elif kind == "done":
            self.done = True

    def _on_collected(self, data: dict[str, object]) -> None:
        if self.reader_seen_collected:
            self._tamper("the test list was announced twice")
            return
        self.reader_seen_collected = True
        errors = data.get("errors")
        if errors:
            self._kill("collect-error")
            items = errors if isinstance(errors, list) else [errors]
            lines = [self._rewrite(str(e).strip().splitlines()[0]) for e in items if str(e).strip()]
            detail = "; ".join(lines[:3]) or "unknown error"
            raise GradingError(f"the grader's tests for {self.s.manifest.id} are broken: {detail}")
        raw = data.get("tests")
        if not isinstance(raw, list):
            raise GradingError("the grading process sent a malformed test list")
        announced = [TestMeta.from_dict(t) for t in raw]
        if self.s.expected is None:
            if not announced:
                raise GradingError(f"the grader for {self.s.manifest.id} has no tests")
            self.s.expected = announced
        elif [m.id for m in announced] != [m.id for m in self.s.expected]:
            self.s.notes.append("the grader announced a different test list on a restart")
        wanted = {m.id for m in self.s.to_run()} - set(self.s.outcomes)
        if self.select is not None:
            wanted &= set(self.select)
        selected = data.get("selected")
        chosen = {str(x) for x in selected} if isinstance(selected, list) else set()
        self.selected = chosen & wanted

    def _on_result(self, test_id: str, data: dict[str, object]) -> None:
        assert self.s.expected is not None
        meta = next(m for m in self.s.expected if m.id == test_id)
        passed = data.get("passed") is True
        try:
            claimed = float(data.get("score") or 0.0)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            claimed = 0.0
        score = meta.points if passed else min(meta.points, max(0.0, claimed))
        limit = self.s.limits.output_kb * 1024
        blocked_raw = data.get("blocked")
        blocked = (
            [clean_text(self._rewrite(str(b)), 300) for b in blocked_raw][:10]
            if isinstance(blocked_raw, list)
            else []
        )
        duration = data.get("duration")
        # The judge may say a failure was a timeout or a crash of the worker (a claim that only
        # names the kind of a failure; it cannot turn one into a pass).
        claimed_kind = data.get("outcome")
        kind: Kind = "passed" if passed else "failed"
        if not passed and claimed_kind in ("timeout", "crash"):
            kind = "timeout" if claimed_kind == "timeout" else "crash"
        self.s.outcomes[test_id] = TestOutcome(
            meta=meta,
            kind=kind,
            score=round(score, 6),
            reason=clean_text(self._rewrite(str(data.get("reason") or "")), 2000),
            output=clean_text(self._rewrite(str(data.get("output") or "")), limit),
            blocked=blocked,
            duration=float(duration) if isinstance(duration, int | float) else 0.0,
        )
        self.accepted.append(test_id)
        if kind == "timeout":
            # The judge stopped the worker itself and says where learner code was stuck.
            where = clean_text(self._rewrite(str(data.get("stuck_at") or "")), 300)
            self.s.note_timeout(meta.number, where)
            if self.s.stop_reason:  # the same loop twice in a row: end this attempt now
                self._kill("stopped")
        else:
            self.s.stuck = []  # a test that finished breaks a run of stuck ones

    def _dump_stack(self) -> None:
        """Ask the child (SIGUSR1, faulthandler in the plugin) where it is stuck, before the kill.

        faulthandler writes from a C signal handler, so it answers even from a tight ``while True:
        pass``; a child that does not answer within a second is killed all the same.
        """
        if self.proc is None or self.trace_fd is None or not hasattr(signal, "SIGUSR1"):
            return
        self.trace.clear()
        try:
            os.kill(self.proc.pid, signal.SIGUSR1)
        except (ProcessLookupError, PermissionError):
            return
        end = time.monotonic() + _TRACE_WAIT
        while (left := end - time.monotonic()) > 0:
            wait = min(left, 0.2) if self.trace else left
            ready, _, _ = select.select([self.trace_fd], [], [], wait)
            if not ready:
                if self.trace:
                    return  # the dump is complete: it came in one burst, then silence
                continue
            chunk = os.read(self.trace_fd, 65536)
            if not chunk:
                return
            if len(self.trace) < _TRACE_BYTES:
                self.trace += chunk

    def _stuck_at(self) -> str:
        """The innermost learner frame of the stack dump: "labs/x/foo.py line 7 (in f)", or ""."""
        text = bytes(self.trace).decode("utf-8", "replace")
        lab = str(self.dir / "lab") + os.sep
        for match in _FRAME_RE.finditer(text):  # most recent call first, thread by thread
            filename, line, function = match.groups()
            if filename.startswith(lab):
                rel = filename[len(lab) :].replace(os.sep, "/")
                return f"{self.s.display}/{rel} line {line} (in {function})"
        return ""

    def _tamper(self, what: str) -> None:
        """Someone other than the plugin wrote with the token: distrust this whole attempt."""
        self.s.notes.append(f"result channel tampering detected: {what}")
        reason = "failed: the grading process's results were tampered with during this run"
        assert self.s.expected is not None or not self.accepted
        for test_id in self.accepted:
            outcome = self.s.outcomes[test_id]
            self.s.outcomes[test_id] = TestOutcome(outcome.meta, "tamper", 0.0, reason)
        if self.current is not None and self.s.expected is not None:
            meta = next(m for m in self.s.expected if m.id == self.current)
            self.s.outcomes[self.current] = TestOutcome(meta, "tamper", 0.0, reason)
            self.current = None
        self._kill("tamper")

    def _rewrite(self, text: str) -> str:
        """Show the learner's folder as they know it, never as this run's temporary copy (which
        also differs between runs, and results must not)."""
        lab = str(self.dir / "lab")
        text = text.replace(lab + os.sep, self.s.display + "/").replace(lab, self.s.display)
        text = text.replace(str(self.dir), "<grading folder>")
        text = text.replace(str(self.s.base), "<grader's temp folder>")
        return text.replace(str(grading_root()), "<grader's temp folder>")

    def _keep_tail(self, data: bytes) -> None:
        self.tail.append(data)
        self.tail_size += len(data)
        while self.tail_size > _TAIL_BYTES and len(self.tail) > 1:
            self.tail_size -= len(self.tail.popleft())

    def _kill(self, why: str) -> None:
        self.killed_for = self.killed_for or why
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _reap(self) -> None:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=_EXIT_GRACE)
        except subprocess.TimeoutExpired:
            self._kill(self.killed_for or "exit-grace")
            self.proc.wait()
        # Anything the child left behind in its group (it cannot create processes, but be sure).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _ACTIVE.discard(self.proc.pid)
        if self.proc.stdout is not None:
            try:
                os.set_blocking(self.proc.stdout.fileno(), False)
                while chunk := os.read(self.proc.stdout.fileno(), 65536):
                    self._keep_tail(chunk)
            except (BlockingIOError, OSError):
                pass
            self.proc.stdout.close()

    # -- verdicts ---------------------------------------------------------------------------------

    def _settle(self) -> bool:
        """Turn the way the child ended into outcomes for the test it was running."""
        progressed = bool(self.accepted)
        why = self.killed_for
        if not self.reader_seen_collected:
            if self.s.opts.collect_only and self.s.expected is not None:
                return True
            if self.s.expected is not None:
                # A restart that died (or hit the run deadline) before collecting: the expected
                # tests are already known, so the session fails what is left, with this reason.
                self.s.last_failure = f"{self._exit_text()}: {self._tail_text(200) or 'no output'}"
                return False
            if why == "collect-timeout":
                raise GradingError(
                    f"collecting the tests of {self.s.manifest.id} took longer than "
                    f"{min(_COLLECT_TIMEOUT, self.s.limits.run_timeout):g} s"
                )
            raise GradingError(
                f"the grading process for {self.s.manifest.id} stopped before listing its tests "
                f"({self._exit_text()}): {self._tail_text(300) or 'no output'}"
            )
        assert self.s.expected is not None
        if self.current is not None:
            meta = next(m for m in self.s.expected if m.id == self.current)
            if why == "timeout":
                limit = self.s.limits.test_timeout
                where = self._stuck_at()
                detail = (
                    f"; it was stuck at {where} (an endless loop, or much slower than it should be?)"
                    if where
                    else " (an endless loop, or much slower than it should be?)"
                )
                outcome = TestOutcome(
                    meta,
                    "timeout",
                    0.0,
                    f"timeout: the test did not finish within {limit:g} s{detail}",
                )
                self.s.note_timeout(meta.number, where)
            elif why == "deadline":
                outcome = TestOutcome(meta, "deadline", 0.0, self.s.deadline_reason())
            else:
                outcome = TestOutcome(meta, "crash", 0.0, self._crash_reason())
            self.s.outcomes[self.current] = outcome
            self.current = None
            progressed = True
        return progressed

    def _exit_text(self) -> str:
        code = self.proc.returncode if self.proc is not None else None
        if code is None:
            return "still running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def _tail_text(self, limit: int) -> str:
        text = self._rewrite(b"".join(self.tail).decode("utf-8", "replace").strip())
        lines = [ln for ln in text.splitlines() if ln.strip()][-3:]
        return clean_text(" | ".join(lines), limit)

    def _crash_reason(self) -> str:
        code = self.proc.returncode if self.proc is not None else None
        if code == -signal.SIGKILL and self.killed_for is None:
            what = "the grading process was killed (out of memory?)"
        elif code is not None and code < 0:
            what = f"the grading process was {self._exit_text()}"
        else:
            what = f"the grading process exited during this test ({self._exit_text()})"
        tail = self._tail_text(240)
        return f"crash: {what}" + (f"; last output: {tail}" if tail else "")


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


def number_key(number: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order of test numbers: "2.10" after "2.9", "4.1.2" after "4.1"."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in number.split("."))


def _status(tests: list[TestOutcome]) -> Status:
    kinds = {t.kind for t in tests}
    if kinds & {"timeout", "deadline"}:
        return "timeout"
    if kinds & {"crash", "tamper"}:
        return "crashed"
    return "graded"


def _invalid_reason(
    manifest: LabManifest, files: list[tuple[Path, str]], total_kb: float, mode: Mode
) -> str:
    if mode == "instructor" and not files:
        wanted = ", ".join(manifest.files)
        return f"invalid: none of the lab's files ({wanted}) is in the submission"
    if total_kb > manifest.limits.max_submission_kb:
        return (
            f"invalid: the submission's files total {total_kb:.0f} KB, over the "
            f"{manifest.limits.max_submission_kb} KB limit"
        )
    return ""


def seed_label(seed: int) -> str:
    """How a secret seed is recorded in results: a short hash, never the seed itself."""
    import hashlib

    return "secret:" + hashlib.sha256(str(seed).encode()).hexdigest()[:12]


def _display(path: Path, root: Path | None) -> str:
    """How reports name the graded folder: relative to the course repository if it is inside it
    (``labs/calc``), else relative to the working directory, else absolute."""
    if root is None:
        for candidate in (path, *path.parents):
            if (candidate / "graders").is_dir() and (candidate / "pyproject.toml").is_file():
                root = candidate
                break
    for base in (root, Path.cwd()):
        if base is None:
            continue
        try:
            rel = os.path.relpath(path, base)
        except ValueError:
            continue
        if not rel.startswith(".."):
            return rel
    return str(path)
