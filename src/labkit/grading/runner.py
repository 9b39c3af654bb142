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

The modules: this one (the entry points and the session of attempts), :mod:`.attempt` (one child:
the message loop and its verdicts), :mod:`.child` (the child's folder, argv, environment and
limits) and :mod:`.outcomes` (the result types, re-exported here for the callers).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
import time
from pathlib import Path

from labkit.datasets.paths import course_above, relative_path
from labkit.grading.attempt import Attempt
from labkit.grading.child import grading_root, kill_all
from labkit.grading.manifest import LabManifest, compute_tests_hash
from labkit.grading.outcomes import (
    GradeOptions,
    GradeResult,
    GradingError,
    Kind,
    Mode,
    Status,
    TestOutcome,
    invalid_reason,
    number_key,
    overall_status,
    seed_label,
)
from labkit.grading.spec import TestMeta

__all__ = [
    "GradeOptions",
    "GradeResult",
    "GradingError",
    "Kind",
    "Mode",
    "Status",
    "TestOutcome",
    "collect_expected",
    "grade",
    "grading_root",
    "kill_all",
    "number_key",
    "seed_label",
]


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
    invalid = invalid_reason(manifest, files, total_kb, opts.mode)
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
        session = Session(manifest, submission, shown, files, opts, base, seed)
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
        status=overall_status(tests),
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
        session = Session(manifest, Path(empty), "(collect)", [], probe, base, opts.seed or 0)
        session.run()
    assert session.expected is not None
    return session.expected


# --- one grading session (possibly several child attempts) ---------------------------------------


class Session:
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
        # The test ids the first grading child announced; a later child (after a timeout or a
        # crash) must announce the same, or the notes say so.
        self.announced: list[str] | None = None
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
            failing = [o for o in self.outcomes.values() if o.kind != "passed"]
            if self.opts.first_failure and failing:
                number = min((o.meta.number for o in failing), key=number_key)
                self._fail_remaining("failed", f"not run: grading stopped at test {number}")
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
        """Remember where a timed-out test was stuck; two in a row in the same function stop the run.

        Each timeout costs the whole per-test limit plus a restart, and tests of one lab share
        code: when two consecutive tests hang in the same function, the rest would almost surely
        hang there too, so they are reported as not run, naming the line, instead of waiting for
        each. The function, not the line, is compared: a sample of an endless loop lands on any
        of its lines (the ``while`` test or its body), so two hangs in one loop can name two lines.
        """
        if not where:
            self.stuck = []
            return
        if self.stuck and _same_place(self.stuck[-1][1], where):
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
        attempt = Attempt(self, select)
        try:
            return attempt.run()
        finally:
            attempt.cleanup()


def _display(path: Path, root: Path | None) -> str:
    """How reports name the graded folder: relative to the course repository if it is inside it
    (``labs/calc``), else relative to the working directory, else absolute."""
    rel = relative_path(path, root or course_above("graders", path), Path.cwd())
    return str(path if rel is None else rel)


def _same_place(one: str, other: str) -> bool:
    """Whether two "file line N (in f)" places name the same file and function."""
    return _LINE.sub("", one) == _LINE.sub("", other)


_LINE = re.compile(r" line \d+")
