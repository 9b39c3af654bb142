"""What grading produces: the verdict on each test, the result of a submission, and the options.

Plain data and the small rules over it (overall status, natural test order, the invalid-submission
check, how a secret seed is shown), shared by the runner, batch grading and the reports.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from labkit.errors import LabkitError
from labkit.grading.manifest import LabManifest
from labkit.grading.spec import TestMeta

if TYPE_CHECKING:
    from labkit.grading.zygote import ZygotePool

Mode = Literal["learner", "instructor"]
Status = Literal["graded", "timeout", "crashed", "invalid"]
Kind = Literal["passed", "failed", "timeout", "crash", "deadline", "tamper", "invalid"]


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
    # Stop at the first test that does not pass; the rest are reported as not run. For questions
    # that one failure answers ("does any test notice this broken function?"), never for a grade.
    first_failure: bool = False
    # Test functions (by name) to run before the others, in their own order; with first_failure,
    # the ones most likely to fail first. Only the order changes: every test still runs unless
    # one fails.
    run_first: Sequence[str] = ()
    # Zygotes shared by many grades of one lab in this process (zygote.ZygotePool): for the
    # course's own copies of a reference, never for a class's submissions (one learner uid).
    zygotes: ZygotePool | None = None


def number_key(number: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order of test numbers: "2.10" after "2.9", "4.1.2" after "4.1"."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in number.split("."))


def format_points(value: float) -> str:
    """Points as reports show them: "4", "2.5", "0.33" (whole numbers without a decimal point)."""
    return f"{value:g}" if value == int(value) else f"{value:.2f}".rstrip("0")


def overall_status(tests: list[TestOutcome]) -> Status:
    kinds = {t.kind for t in tests}
    if kinds & {"timeout", "deadline"}:
        return "timeout"
    if kinds & {"crash", "tamper"}:
        return "crashed"
    return "graded"


def invalid_reason(
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
