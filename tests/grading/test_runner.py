"""Runner behaviour that needs its own small labs: the whole-run deadline, and grader bugs that
must stop grading with one clear line instead of producing grades."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from grader_fixtures import ONLY_ADD, STARTER, build_code

from labkit.cli import main
from labkit.grading import identity
from labkit.grading.manifest import LabManifest, load_manifest
from labkit.grading.outcomes import format_points
from labkit.grading.runner import GradeOptions, GradingError, grade


def _lab(
    course: Path,
    tmp_path: Path,
    name: str,
    toml_changes: dict[str, str],
    test_code: str,
    hints: str | None = None,
) -> LabManifest:
    """A copy of the calc lab under ``name`` with its own lab.toml tweaks and test file; its
    hints.toml is ``hints``, by default the hint "h" for every test number in ``test_code``."""
    root = tmp_path / "course"
    if not root.exists():
        shutil.copytree(course, root)
    folder = root / "graders" / name
    shutil.copytree(course / "graders" / "calc", folder)
    toml = (folder / "lab.toml").read_text().replace('id = "calc"', f'id = "{name}"')
    for old, new in toml_changes.items():
        toml = toml.replace(old, new)
    (folder / "lab.toml").write_text(toml)
    (folder / "test_calc.py").write_text(test_code)
    if hints is None:
        numbers = dict.fromkeys(re.findall(r"number=[\"']([^\"']+)", test_code))
        hints = "".join(f'"{n}" = ["h"]\n' for n in numbers)
    (folder / "hints.toml").write_text(hints)
    return load_manifest(folder / "lab.toml")


HANGS = """
from labkit.grading import lab_test

@lab_test(points=1, number="1")
def test_one(learner):
    learner.import_module("calc").add(1, 2)

@lab_test(points=1, number="2")
def test_two(learner):
    learner.import_module("calc").add(1, 2)

@lab_test(points=1, number="3")
def test_three(learner):
    learner.import_module("calc").add(1, 2)
"""


def test_the_whole_run_deadline_fails_what_did_not_run(course: Path, tmp_path: Path) -> None:
    lab = _lab(course, tmp_path, "deadline", {"run_timeout = 30": "run_timeout = 5"}, HANGS)
    sub = build_code(tmp_path / "sub", "def add(a, b):\n    while True:\n        pass\n")
    result = grade(lab, sub, GradeOptions(mode="instructor"))
    kinds = [t.kind for t in result.tests]
    assert kinds[0] == "timeout"
    assert kinds[-1] == "deadline"
    assert "whole run hit its 5 s limit" in result.tests[-1].reason
    assert result.status == "timeout"
    assert result.score == 0
    assert result.execution_time < 15


HANGS_THEN_OTHERS = (
    HANGS
    + """
@lab_test(points=1, number="4")
def test_four(learner):
    assert learner.import_module("calc").mul(2, 3) == 6
"""
)


def test_a_timeout_names_the_stuck_line_and_two_in_a_row_stop_the_run(
    course: Path, tmp_path: Path
) -> None:
    """14.0: where the learner's code was stuck, and no waiting for a third identical hang."""
    lab = _lab(course, tmp_path, "stuck", {}, HANGS_THEN_OTHERS)  # test_timeout 3, run 30 s
    code = "def add(a, b):\n    total = 0\n    while True:\n        total += 1\n\n"
    code += "def mul(a, b):\n    return a * b\n"
    sub = build_code(tmp_path / "stuck_sub", code)
    result = grade(lab, sub, GradeOptions(mode="learner"))
    by_number = {t.meta.number: t for t in result.tests}
    # A sample of an endless loop lands on the `while` line (3) or its body (4); either is right.
    lines = [f"{sub}/calc.py line {n} (in add)" for n in (3, 4)]
    wheres = []
    for number in ("1", "2"):
        assert by_number[number].kind == "timeout"
        reason = by_number[number].reason
        where = next((w for w in lines if w in reason), "")
        assert reason == (
            f"timeout: the test did not finish within 3 s; it was stuck at {where} "
            "(an endless loop, or much slower than it should be?)"
        )
        wheres.append(where)
    assert by_number["3"].kind == "timeout"
    assert by_number["3"].reason == (
        f"not run: tests 1 and 2 both got stuck at {wheres[1]}; fix that loop and grade again"
    )
    assert by_number["4"].kind == "timeout"
    assert by_number["4"].score == 0
    assert result.notes == [f"stopped early: tests 1 and 2 both got stuck at {wheres[1]}"]
    assert result.execution_time < 25  # two 3 s timeouts and restarts, not four


def test_first_failure_stops_at_the_first_test_that_does_not_pass(
    course: Path, tmp_path: Path
) -> None:
    """The suite's mutant check asks only whether any test notices: the rest need not run."""
    lab = load_manifest(course / "graders" / "calc" / "lab.toml")
    sub = build_code(tmp_path / "only_add", ONLY_ADD)
    result = grade(lab, sub, GradeOptions(first_failure=True))
    by_number = {t.meta.number: t for t in result.tests}
    assert by_number["1.1"].kind == "passed"
    assert by_number["1.2"].kind == "failed"
    assert "not run" not in by_number["1.2"].reason
    later = [t for t in result.tests if t.meta.number not in ("1.1", "1.2")]
    assert later, "the calc lab has tests after 1.2"
    for outcome in later:
        assert outcome.kind == "failed"
        assert outcome.reason == "not run: grading stopped at test 1.2"
        assert outcome.score == 0
    full = grade(lab, sub, GradeOptions())
    assert [t.meta.number for t in full.tests] == [t.meta.number for t in result.tests]
    assert full.score >= result.score
    # run_first changes only the order: the named test runs first, and is the one that stops it
    mean_first = grade(lab, sub, GradeOptions(first_failure=True, run_first=["test_mean"]))
    by_number = {t.meta.number: t for t in mean_first.tests}
    assert by_number["1.3"].kind == "failed"
    assert "not run" not in by_number["1.3"].reason
    assert by_number["1.1"].reason == "not run: grading stopped at test 1.3"
    assert [t.meta.number for t in mean_first.tests] == [t.meta.number for t in full.tests]


@pytest.mark.parametrize(
    ("code", "message", "hints"),
    [
        (
            "from labkit.grading import lab_test\n\ndef test_unmarked(learner):\n    pass\n",
            "add @lab_test(points=..., number=...) to this test",
            None,
        ),
        (
            "import calc\nfrom labkit.grading import lab_test\n\n"
            "@lab_test(points=1, number='1')\ndef test_x(learner):\n    pass\n",
            "No module named 'calc'",
            None,
        ),
        (
            "from labkit.grading import lab_test\n\n"
            "@lab_test(points=1, number='1')\ndef test_a(learner):\n    pass\n\n"
            "@lab_test(points=1, number='1')\ndef test_b(learner):\n    pass\n",
            "number 1 is already used",
            None,
        ),
        (
            "from labkit.grading import lab_test\n\n"
            "@lab_test(points=1, number='1.2', hint='Multiply.')\ndef test_x(learner):\n    pass\n",
            'lab_test(hint=...) has moved to hints.toml beside the test file: add "1.2" = '
            '["Multiply."] there',
            None,
        ),
        (
            "from labkit.grading import lab_test\n\n"
            "@lab_test(points=1, number='7')\ndef test_x(learner):\n    pass\n",
            'test 7 has no hint: add "7" = ["what to check when it fails"] to graders/broken/hints.toml',
            "",
        ),
        (
            "from labkit.grading import lab_test\n\n"
            "@lab_test(points=1, number='8')\ndef test_x(learner):\n    pass\n",
            "graders/broken/hints.toml: '8' must be a list of 1 to 3 hints",
            '"8" = "not a list"\n',
        ),
    ],
    ids=[
        "unmarked-test",
        "learner-import-at-module-level",
        "duplicate-number",
        "hint-in-the-decorator",
        "no-hint",
        "malformed-hints",
    ],
)
def test_a_broken_grader_stops_with_one_clear_line(
    course: Path, tmp_path: Path, code: str, message: str, hints: str | None
) -> None:
    lab = _lab(course, tmp_path, "broken", {}, code, hints)
    sub = build_code(tmp_path / "sub", STARTER.read_text())
    with pytest.raises(GradingError) as caught:
        grade(lab, sub, GradeOptions(mode="learner"))
    assert message in str(caught.value)
    assert "the grader's tests for broken are broken" in str(caught.value)


def test_a_broken_grader_exits_2_from_the_command(
    course: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = "from labkit.grading import lab_test\n\ndef test_unmarked(learner):\n    pass\n"
    lab = _lab(course, tmp_path, "broken", {}, code)
    monkeypatch.setenv("LABKIT_ROOT", str(lab.grader_dir.parent.parent))
    assert main(["grade", "broken", "--dir", str(build_code(tmp_path / "s", ""))]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("labkit: the grader's tests for broken are broken")
    assert "\n" not in error


PARAMETRIZED = """
import pytest
from labkit.grading import assert_same, lab_test

@pytest.mark.parametrize("a, b", [(1, 2), (3, 4)])
@lab_test(points=1.5, number="2")
def test_add_cases(learner, a, b):
    assert_same(learner.import_module("calc").add(a, b), a + b, f"add({a}, {b})")

@lab_test(points=1, number="3", visibility="after_due_date", name="custom name")
def test_late(learner):
    assert learner.file("calc.py").is_file()
"""


def test_parametrized_cases_get_their_own_numbers_and_points(course: Path, tmp_path: Path) -> None:
    hints = '"2" = ["Add the two numbers."]\n"3" = ["h"]\n'
    lab = _lab(course, tmp_path, "params", {}, PARAMETRIZED, hints)
    sub = build_code(tmp_path / "sub", "def add(a, b):\n    return a + b if a == 1 else 0\n")
    result = grade(lab, sub, GradeOptions(mode="learner"))
    summary = [(t.meta.number, t.meta.name, t.meta.points, t.kind) for t in result.tests]
    assert summary == [
        ("2.1", "add cases [1-2]", 1.5, "passed"),
        ("2.2", "add cases [3-4]", 1.5, "failed"),
        ("3", "custom name", 1.0, "passed"),
    ]
    assert result.tests[2].meta.visibility == "after_due_date"
    assert result.tests[1].reason == "add(3, 4) was 0, expected 7"
    assert [t.meta.hint for t in result.tests] == [
        "Add the two numbers.",
        "Add the two numbers.",
        "h",
    ]


TORCH = """
from labkit.grading import lab_test

@lab_test(points=1, number="1")
def test_torch_imports(learner):
    learner.import_module("calc")  # the guard is frozen from here on
    import torch

    assert torch.ones(3).sum().item() == 3.0
"""


def test_torch_imports_under_the_default_memory_limit_and_the_guard(
    course: Path, tmp_path: Path
) -> None:
    lab = _lab(
        course,
        tmp_path,
        "torchy",
        {"memory_mb = 1024": "", "test_timeout = 3": "test_timeout = 25"},
        TORCH,
    )
    assert lab.limits.memory_mb == 2048
    result = grade(lab, build_code(tmp_path / "sub", "x = 1\n"), GradeOptions(mode="instructor"))
    assert result.tests[0].passed, result.tests[0].reason


WHO = """
from labkit.grading import lab_test

@lab_test(points=1, number="1")
def test_worker_user(learner):
    assert learner.import_module("calc").worker_ids() == (1, 1)

@lab_test(points=1, number="2")
def test_cli_user(learner):
    assert learner.run("calc.py").stdout.split() == ["1", "1"]
"""

AS_WHO = """import os
import sys


def worker_ids():
    return (int(os.getuid() != 0), int(os.getgid() != 0))


if __name__ == "__main__":
    print(*worker_ids())
"""


@pytest.mark.skipif(not identity.supported(), reason="only a grader running as root changes user")
def test_as_root_learner_code_runs_as_its_own_user_or_says_why_not(
    course: Path, tmp_path: Path
) -> None:
    """Worker and CLI runs get a uid and gid of the run's own (so the kernel keeps them from the
    judge); where that user could not run this interpreter (a venv under /root), they keep uid 0
    and ``identity.choose`` names the reason, which instructor mode prints first."""
    ids, problem = identity.choose(sys.executable)
    lab = _lab(course, tmp_path, "who", {}, WHO)
    sub = build_code(tmp_path / "sub", AS_WHO)
    result = grade(lab, sub, GradeOptions(mode="learner"))
    kinds = [t.kind for t in result.tests]
    if ids is None:
        assert problem
        assert kinds == ["failed", "failed"]
    else:
        assert kinds == ["passed", "passed"], [t.reason for t in result.tests]


@pytest.mark.parametrize(
    ("value", "shown"), [(0, "0"), (13.0, "13"), (2.5, "2.5"), (1 / 3, "0.33"), (4.1, "4.1")]
)
def test_points_are_shown_without_trailing_zeros(value: float, shown: str) -> None:
    """The one points formatter of the terminal report, the board and results.json."""
    assert format_points(value) == shown
