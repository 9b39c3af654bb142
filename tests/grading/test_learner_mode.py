"""Learner mode: ``labkit grade`` / ``labkit list`` on the fixture lab, end to end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from grader_fixtures import (
    MEAN_WITHOUT_EMPTY_CASE,
    NO_STREAMING,
    STARTER,
    build_attack,
    build_code,
)

from labkit.cli import main
from labkit.grading.child import plain_pytest_argv
from labkit.grading.manifest import LabManifest
from labkit.grading.records import other_path
from labkit.grading.runner import GradeOptions, GradeResult, grade


def _grade(calc: LabManifest, folder: Path) -> GradeResult:
    return grade(calc, folder, GradeOptions(mode="learner"))


def check_gradescope_schema(doc: dict[str, Any]) -> None:
    """Gradescope's results.json, as documented: what an upload needs, with the right types."""
    assert isinstance(doc["score"], float)
    assert isinstance(doc["execution_time"], int | float)
    assert isinstance(doc["output"], str)
    assert doc["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    assert isinstance(doc["tests"], list)
    assert doc["tests"]
    for test in doc["tests"]:
        assert set(test) >= {
            "name",
            "number",
            "score",
            "max_score",
            "status",
            "output",
            "visibility",
            "extra_data",
        }
        assert test["status"] in ("passed", "failed")
        assert isinstance(test["score"], float)
        assert isinstance(test["max_score"], float)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    assert abs(sum(t["score"] for t in doc["tests"]) - doc["score"]) < 1e-6
    extra = doc["extra_data"]
    assert extra["grader_version"]
    assert len(extra["tests_hash"]) == 64
    assert "seed" in extra


def test_reference_scores_full_marks_and_starter_at_most_ten_percent(
    calc: LabManifest, course: Path
) -> None:
    good = _grade(calc, course / "solutions" / "calc")
    assert good.status == "graded"
    assert good.score == good.max_score == 10  # hidden test 3.1 (2 pts) is not run for learners
    assert [m.number for m in good.not_run_hidden] == ["3.1"]
    starter = _grade(calc, course / "labs" / "calc")
    assert starter.status == "graded"
    assert starter.score <= 0.1 * starter.max_score
    first = starter.tests[0]
    assert (
        first.reason == "labs/calc/calc.py line 13: NotImplementedError: add() is not written yet"
    )


def test_partial_credit_is_kept_by_a_failing_test(calc: LabManifest, tmp_path: Path) -> None:
    result = _grade(calc, build_code(tmp_path / "mean", MEAN_WITHOUT_EMPTY_CASE))
    mean = next(t for t in result.tests if t.meta.number == "1.3")
    assert not mean.passed
    assert mean.score == 3.0  # three of the four cases, one point each
    assert "mean([]) raised ZeroDivisionError" in mean.reason
    assert result.score == 9.0


def test_streaming_is_checked_from_output_arrival_times(calc: LabManifest, tmp_path: Path) -> None:
    result = _grade(calc, build_code(tmp_path / "buffered", NO_STREAMING))
    cli = next(t for t in result.tests if t.meta.number == "2.1")
    assert cli.kind == "failed"
    assert cli.reason == "the numbers arrived all at once: print each with flush=True"


def test_report_shows_marks_reasons_hints_and_next_step(
    in_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = build_code(tmp_path / "partial", MEAN_WITHOUT_EMPTY_CASE)
    out = tmp_path / "out.json"
    assert main(["grade", "calc", "--dir", str(folder), "--json", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "✓" in shown
    assert "◐" in shown
    assert "1.3" in shown
    assert "3/4" in shown
    assert "mean([]) raised ZeroDivisionError" in shown
    assert "hint" in shown
    assert "mean([]) is 0.0" in shown
    assert "9/10 pts" in shown
    assert "Next" in shown
    assert "(test 1.3)" in shown
    assert "hidden test" in shown
    assert "Traceback" not in shown
    doc = json.loads(out.read_text())
    check_gradescope_schema(doc)
    saved = json.loads(other_path(in_course, "calc", folder).read_text())
    assert saved == doc
    assert "kept apart: your labs/calc record is unchanged" in " ".join(shown.split())
    assert doc["score"] == 9.0
    assert doc["extra_data"]["hidden_tests"] == {"count": 1, "points": 2.0}
    assert all(t["visibility"] != "hidden" for t in doc["tests"])
    mean = next(t for t in doc["tests"] if t["number"] == "1.3")
    assert mean["status"] == "failed"
    assert mean["score"] == 3.0
    assert "Hint: mean([]) is 0.0" in mean["output"]


def test_a_syntax_error_and_a_missing_file_give_one_clear_reason(
    calc: LabManifest, tmp_path: Path
) -> None:
    broken = build_code(tmp_path / "broken", STARTER.read_text() + "\ndef oops(:\n    pass\n")
    result = _grade(calc, broken)
    assert result.status == "graded"
    reasons = {t.reason for t in result.tests if t.meta.number != "2.1"}
    assert reasons == {f"{broken}/calc.py line 34: SyntaxError: invalid syntax"}
    empty = tmp_path / "empty"
    (empty / "notes").mkdir(parents=True)
    (empty / "notes" / "todo.txt").write_text("start tomorrow")
    result = _grade(calc, empty)
    assert result.score == 0
    assert {t.reason for t in result.tests if t.meta.number != "2.1"} == {
        f"calc.py is missing from {empty}"
    }


def test_grading_is_deterministic(calc: LabManifest, tmp_path: Path) -> None:
    folder = build_code(tmp_path / "partial", MEAN_WITHOUT_EMPTY_CASE)

    def without_timings(result: GradeResult) -> list[tuple[Any, ...]]:
        return [(t.meta, t.kind, t.score, t.reason, t.output, t.blocked) for t in result.tests]

    runs = [_grade(calc, folder) for _ in range(3)]
    assert without_timings(runs[0]) == without_timings(runs[1]) == without_timings(runs[2])
    assert len({r.score for r in runs}) == 1


def test_list_shows_status_per_lab(in_course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = in_course / ".labkit" / "results" / "calc.json"
    results.unlink(missing_ok=True)
    assert main(["list"]) == 0
    assert "not graded" in capsys.readouterr().out
    assert main(["grade", "calc"]) == 0  # labs/calc: the learner's own folder (the starter)
    capsys.readouterr()
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "Calculator warm-up" in listing
    assert " 0/10 " in listing
    assert "Next   calc · Calculator warm-up" in listing


def test_grading_another_folder_keeps_the_learners_record(
    in_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """14.0: grading the reference (or any other folder) never overwrites labs/<id>'s record."""
    record = in_course / ".labkit" / "results" / "calc.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    mine = {"score": 7.0, "tests": [], "extra_data": {"max_score": 10.0}}
    record.write_text(json.dumps(mine))
    assert main(["grade", "calc", "--dir", str(in_course / "solutions" / "calc")]) == 0
    shown = capsys.readouterr().out
    assert json.loads(record.read_text()) == mine
    apart = in_course / ".labkit" / "results" / "other" / "calc" / "solutions-calc.json"
    assert json.loads(apart.read_text())["score"] == 10.0
    assert "kept apart: your labs/calc record is unchanged" in " ".join(shown.split())
    assert main(["list"]) == 0
    assert " 7/10 " in capsys.readouterr().out
    # The learner's own folder, named through --dir, is still their record.
    assert main(["grade", "calc", "--dir", str(in_course / "labs" / ".." / "labs" / "calc")]) == 0
    capsys.readouterr()
    assert json.loads(record.read_text())["score"] == 0.0
    # A folder with none of the lab's files is refused in one line, naming make's DIR=.
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.md").write_text("nothing to grade")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAKELEVEL", "1")
        assert main(["grade", "calc", "--dir", str(stray)]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        f"labkit: {stray} holds none of calc's files (calc.py, notes/*.txt): "
        "DIR=<folder> must name a folder like labs/calc"
    )


def test_usage_errors_are_one_line_and_exit_2(
    in_course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["grade", "nope"]) == 2
    assert capsys.readouterr().err.strip() == "labkit: unknown lab 'nope'; known labs: calc, ask"
    assert main(["grade", "calc", "--dir", "no/such/folder"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("labkit: folder not found: no/such/folder")
    assert "\n" not in error


def test_learner_mode_attacks_change_nothing(
    in_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fake results files and killing the grader, through the real command (exit 0, score 0)."""
    for attack in ("fake_results", "kill_grader", "read_tests"):
        folder = build_attack(tmp_path / attack, attack, {"__OUT_DIR__": str(tmp_path / "out")})
        assert main(["grade", "calc", "--dir", str(folder)]) == 0, attack
        capsys.readouterr()
        saved = json.loads(other_path(in_course, "calc", folder).read_text())
        assert saved["score"] == 0.0, attack
        assert saved["extra_data"]["submission"].endswith(attack)
        assert not (folder / "results.json").exists()


def test_lab_authors_can_run_the_plugin_directly(course: Path) -> None:
    """``pytest graders/<id> -p labkit.grading.plugin`` works without the runner (no guard)."""
    done = subprocess.run(
        plain_pytest_argv("graders/calc", "solutions/calc"),
        cwd=course,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"},
    )
    assert "labkit: 12/12 points (solutions/calc)" in done.stdout, done.stdout + done.stderr


def test_report_prints_brackets_in_names_and_reasons_literally() -> None:
    """Test names and reasons are text, not rich markup: "[2][1]" must survive."""
    from io import StringIO

    from rich.console import Console

    from labkit.grading.report import render
    from labkit.grading.runner import GradeResult, TestOutcome
    from labkit.grading.spec import TestMeta

    meta = TestMeta(
        "t::x", "4.2", "citations [n] map to documents [2][1]", 2.0, "visible", "Check [n]."
    )
    result = GradeResult(
        "lab",
        "Lab",
        "labs/lab",
        "learner",
        "graded",
        [TestOutcome(meta, "failed", 0.0, reason="saw [bold]2[/bold] citations")],
        [],
        0.1,
        0,
        "hash",
    )
    out = StringIO()
    render(result, Console(file=out, width=120, color_system=None))
    text = out.getvalue()
    assert "citations [n] map to documents [2][1]" in text
    assert "saw [bold]2[/bold] citations" in text
    assert "Check [n]." in text


def test_a_file_that_does_not_compile_is_said_once_at_the_top(
    in_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """14.0: one line at the top naming file and line, the tests point at it, Next too."""
    broken = build_code(tmp_path / "broken", STARTER.read_text() + "\ndef oops(:\n    pass\n")
    assert main(["grade", "calc", "--dir", str(broken)]) == 0
    lines = [ln.strip() for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    top = lines.index("✗ calc.py does not compile: line 34: invalid syntax (def oops(:)")
    assert top < next(i for i, ln in enumerate(lines) if ln.startswith("✗ 1.1"))
    assert lines.count("why   calc.py does not compile (above)") == 4  # 1.1 to 1.3 and 2.1
    assert not any("SyntaxError" in ln for ln in lines)
    text = " ".join(" ".join(lines).split())
    assert "Next Fix calc.py line 34 first: it does not compile, so nothing in it runs." in text
    saved = json.loads(other_path(in_course, "calc", broken).read_text())
    assert saved["extra_data"]["compile_errors"] == [
        "calc.py does not compile: line 34: invalid syntax (def oops(:)"
    ]
