"""Runner behaviour that needs its own small labs: the whole-run deadline, and grader bugs that
must stop grading with one clear line instead of producing grades."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from grader_fixtures import STARTER, build_code

from labkit.cli import main
from labkit.grading.manifest import LabManifest, load_manifest
from labkit.grading.runner import GradeOptions, GradingError, grade


def _lab(
    course: Path, tmp_path: Path, name: str, toml_changes: dict[str, str], test_code: str
) -> LabManifest:
    """A copy of the calc lab under ``name`` with its own lab.toml tweaks and test file."""
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
    return load_manifest(folder / "lab.toml")


HANGS = """
from labkit.grading import lab_test

@lab_test(points=1, number="1", hint="h")
def test_one(learner):
    learner.import_module("calc").add(1, 2)

@lab_test(points=1, number="2", hint="h")
def test_two(learner):
    learner.import_module("calc").add(1, 2)

@lab_test(points=1, number="3", hint="h")
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
    assert result.status == "timeout" and result.score == 0
    assert result.execution_time < 15


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "from labkit.grading import lab_test\n\ndef test_unmarked(learner):\n    pass\n",
            "add @lab_test(points=..., number=..., hint=...) to this test",
        ),
        (
            "import calc\nfrom labkit.grading import lab_test\n\n"
            "@lab_test(points=1, number='1', hint='h')\ndef test_x(learner):\n    pass\n",
            "No module named 'calc'",
        ),
        (
            "from labkit.grading import lab_test\n\n"
            "@lab_test(points=1, number='1', hint='h')\ndef test_a(learner):\n    pass\n\n"
            "@lab_test(points=1, number='1', hint='h')\ndef test_b(learner):\n    pass\n",
            "number 1 is already used",
        ),
    ],
    ids=["unmarked-test", "learner-import-at-module-level", "duplicate-number"],
)
def test_a_broken_grader_stops_with_one_clear_line(
    course: Path, tmp_path: Path, code: str, message: str
) -> None:
    lab = _lab(course, tmp_path, "broken", {}, code)
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
    assert (
        error.startswith("labkit: the grader's tests for broken are broken") and "\n" not in error
    )
