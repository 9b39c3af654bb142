"""The learner's loop around grading (issue 14): the progress board, hints one tier at a time,
one test at a time, watch mode, and reset — on a private copy of the fixture course."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from grader_fixtures import LABROOT, MEAN_WITHOUT_EMPTY_CASE, REFERENCE
from rich.console import Console

from labkit.cli import main
from labkit.grading.board import board_rows, grader_points, points_cache_path, render_board
from labkit.grading.hints import dumps_state
from labkit.grading.manifest import content_hash, load_manifest
from labkit.grading.records import record_path

HINT_13 = '"1.3" = ["mean([]) is 0.0; otherwise the sum divided by the count."]'
HINTS_13 = """"1.3" = [
  "mean([]) is 0.0; otherwise the sum divided by the count.",
  "Concept: the mean of no numbers is defined here as 0.0, not an error.",
  "Nearly there: return sum(xs) / len(xs) if xs else 0.0",
]"""


@pytest.fixture
def own_course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the fixture course (these tests change labs/ and .labkit/)."""
    root = tmp_path / "course"
    shutil.copytree(LABROOT, root, ignore=shutil.ignore_patterns("__pycache__", ".labkit"))
    hints = root / "graders" / "calc" / "hints.toml"
    assert HINT_13 in hints.read_text()
    hints.write_text(hints.read_text().replace(HINT_13, HINTS_13))  # two more tiers for 1.3
    monkeypatch.setenv("LABKIT_ROOT", str(root))
    monkeypatch.chdir(root)
    return root


def _board(root: Path) -> str:
    out = StringIO()
    render_board(board_rows(root), Console(file=out, width=100, color_system=None))
    return out.getvalue()


def _record(root: Path, lab: str, score: float, total: float, digest: str) -> None:
    path = record_path(root, lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "score": score,
        "tests": [],
        "extra_data": {
            "max_score": total,
            "graded_at": "2026-12-01T09:30:00+00:00",
            "files_digest": digest,
        },
    }
    path.write_text(json.dumps(doc))


def test_board_shows_course_order_points_bar_next_and_changes(own_course: Path) -> None:
    calc = load_manifest(own_course / "graders" / "calc" / "lab.toml")
    board = _board(own_course)
    lines = [ln.rstrip() for ln in board.splitlines() if ln.strip()]
    assert lines[0].split() == ["lab", "title", "phase", "points", "progress", "graded"]
    # Course order (phase 0: calc order 1, ask order 2); ungraded labs show their total points,
    # collected from the grader (calc's hidden test is not counted).
    assert lines[1].split()[:5] == ["▶", "calc", "Calculator", "warm-up", "0"]
    assert "–/10" in lines[1]
    assert "not graded" in lines[1]
    assert "–/4" in lines[2]
    assert "not graded" in lines[2]
    assert "Course 0/14 pts · 0 of 2 labs complete" in board
    assert "Next   calc · Calculator warm-up" in board
    assert "make watch LAB=calc" in board

    # calc complete and unchanged; ask half done, and its files changed since that grade.
    _record(own_course, "calc", 10, 10, content_hash(calc, own_course / "labs" / "calc"))
    _record(own_course, "ask", 2, 4, "0" * 64)
    board = _board(own_course)
    calc_line = next(ln for ln in board.splitlines() if " calc " in ln)
    ask_line = next(ln for ln in board.splitlines() if " ask " in ln)
    local = time.strftime("%b %d", time.localtime(1796117400))  # 2026-12-01 09:30 UTC
    assert "10/10" in calc_line
    assert "██████████ 100%" in calc_line
    assert local in calc_line
    assert "2/4" in ask_line
    assert "█████░░░░░  50%" in ask_line
    assert "ask: your files changed since its last grade" in board
    assert "calc: your files changed" not in board
    assert "Course 12/14 pts · 1 of 2 labs complete" in board
    assert "Next   ask · Ask the model" in board
    assert "\x1b[" not in board  # no colour codes when not a terminal


def test_ungraded_points_are_collected_once_per_grader_version(
    own_course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calc = load_manifest(own_course / "graders" / "calc" / "lab.toml")
    assert grader_points(own_course, calc) == 10.0  # 2 + 2 + 4 + 2; the hidden 3.1 not counted
    cached = json.loads(points_cache_path(own_course).read_text())
    assert cached["calc"]["points"] == 10.0

    # Same grader files: the cache answers, nothing is collected.
    def no_collection(*_: object, **__: object) -> None:
        raise AssertionError("collected again although the grader did not change")

    with monkeypatch.context() as patched:
        patched.setattr("labkit.grading.runner.collect_expected", no_collection)
        assert grader_points(own_course, calc) == 10.0

    # A changed grader (a test worth 2 more points) is collected again.
    grader = own_course / "graders" / "calc" / "test_calc.py"
    source = grader.read_text()
    assert 'points=4, number="1.3"' in source
    grader.write_text(source.replace('points=4, number="1.3"', 'points=6, number="1.3"'))
    assert grader_points(own_course, calc) == 12.0


def test_hint_tiers_are_revealed_in_order_and_remembered(
    own_course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hint", "calc"]) == 2
    assert "has not been graded yet: run make grade LAB=calc first" in capsys.readouterr().err
    (own_course / "labs" / "calc" / "calc.py").write_text(MEAN_WITHOUT_EMPTY_CASE)
    assert main(["grade", "calc"]) == 0
    shown = capsys.readouterr().out
    assert "labkit hint calc reveals the next one" in " ".join(shown.split())

    assert main(["hint", "calc"]) == 0  # first failing test: 1.3; tier 2 revealed
    out = capsys.readouterr().out
    assert "test 1.3" in out
    assert "mean([]) raised ZeroDivisionError" in out
    assert "hint 1/3 (nudge)  mean([]) is 0.0" in out
    assert "hint 2/3 (concept)  Concept: the mean of no numbers" in out
    assert "hint 3/3" not in out
    assert dumps_state(own_course) == '{"calc": {"1.3": 1}}'

    assert main(["hint", "calc", "1.3"]) == 0  # remembered: now tier 3 as well
    out = capsys.readouterr().out
    assert "hint 2/3 (concept)" in out
    assert "hint 3/3 (near-solution)  Nearly there" in out
    assert "That is every hint for this test." in out
    assert main(["hint", "calc"]) == 0  # nothing more to reveal: the same three, no new count
    assert dumps_state(own_course) == '{"calc": {"1.3": 2}}'
    capsys.readouterr()

    assert main(["grade", "calc"]) == 0  # the report counts them
    assert "2 extra hints used so far" in " ".join(capsys.readouterr().out.split())
    assert main(["list"]) == 0
    assert "calc: 2 extra hints used" in capsys.readouterr().out
    assert main(["hint", "calc", "9.9"]) == 2
    assert "calc has no test '9.9'; its tests: 1.1, 1.2, 1.3, 2.1" in capsys.readouterr().err


def test_grading_one_test_keeps_the_record(
    own_course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (own_course / "labs" / "calc" / "calc.py").write_text(MEAN_WITHOUT_EMPTY_CASE)
    assert main(["grade", "calc", "--test", "1.3"]) == 0
    out = capsys.readouterr().out
    assert "1.3" in out
    assert "1.1" not in out
    assert "3/4 pts" in out
    assert "only test 1.3 was graded: your record is unchanged" in " ".join(out.split())
    assert not record_path(own_course, "calc").exists()
    assert main(["grade", "calc", "--test", "7"]) == 2
    assert "calc has no test 7; its tests: 1.1, 1.2, 1.3, 2.1" in capsys.readouterr().err


def test_reset_saves_the_learners_files_then_restores_the_starter(
    own_course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=own_course, check=True)
    subprocess.run([*git, "add", "-A"], cwd=own_course, check=True)
    subprocess.run([*git, "commit", "-qm", "course"], cwd=own_course, check=True)
    starter = (own_course / "labs" / "calc" / "calc.py").read_text()
    (own_course / "labs" / "calc" / "calc.py").write_text("# my work\n")
    assert main(["reset", "calc"]) == 0
    out = capsys.readouterr().out
    assert (own_course / "labs" / "calc" / "calc.py").read_text() == starter
    saved = list((own_course / ".labkit" / "saved").glob("calc-*/calc.py"))
    assert len(saved) == 1
    assert saved[0].read_text() == "# my work\n"
    assert "Restored the starter of calc: calc.py" in out


class _Watch:
    """What a running `labkit watch` process has printed so far."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.stdout = proc.stdout
        self.seen: list[str] = []

    def read_until(self, marker: str, count: int, limit: float) -> str:
        """Read lines until `marker` has been printed `count` times; return all output so far."""
        end = time.monotonic() + limit
        while sum(marker in ln for ln in self.seen) < count:
            assert time.monotonic() < end, f"no {marker!r} within {limit} s:\n" + "".join(self.seen)
            line = self.stdout.readline()
            assert line, "watch exited early:\n" + "".join(self.seen)
            self.seen.append(line)
        return "".join(self.seen)


def test_watch_regrades_after_a_change_and_stops_cleanly(own_course: Path) -> None:
    """A real `labkit watch` process: first grade, a save, one re-grade, Ctrl-C, exit 0."""
    env = {**os.environ, "LABKIT_ROOT": str(own_course), "COLUMNS": "100"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "labkit.cli", "watch", "calc", "--debounce", "300"],
        cwd=own_course,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watch = _Watch(proc)
    try:
        text = watch.read_until("calc 0/10 pts", 1, 90)  # the starter: first grade
        assert "first grade" in text
        assert "✗ 1.1" in text
        assert "hint" in text
        assert "· next: test 1.1 ·" in text
        calc = own_course / "labs" / "calc" / "calc.py"
        for _ in range(3):  # a save storm: graded once
            calc.write_text(MEAN_WITHOUT_EMPTY_CASE)
            time.sleep(0.05)
        text = watch.read_until("calc 9/10 pts", 1, 90)
        assert "calc.py changed" in text
        assert "◐ 1.3" in text
        assert "mean([]) raised ZeroDivisionError" in text
        assert "· next: test 1.3 ·" in text
        time.sleep(1.5)  # nothing else changed: no third grade
        assert text.count("── ") == 2, text
        # Still wrong: only the test that failed (1.3) is re-run, and the record is left alone.
        calc.write_text(MEAN_WITHOUT_EMPTY_CASE + "\n# still thinking\n")
        text = watch.read_until("were re-run", 1, 90)
        assert "1 of the 1 failing test(s) still fail · next: test 1.3" in text, text
        assert "Only the tests that failed last time were re-run" in text
        assert json.loads(record_path(own_course, "calc").read_text())["score"] == 9.0
        # Fixed: 1.3 passes alone, then the whole lab is graded and saved before saying so.
        calc.write_text(REFERENCE.read_text())
        text = watch.read_until("calc 10/10 pts", 1, 90)
        assert "now pass" in text, text
        assert "grading the whole lab" in text, text
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
        watch.seen.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(watch.seen)
    assert proc.returncode == 0, text
    assert text.count("── ") == 4, text
    assert "Stopped watching labs/calc." in text
    assert "Traceback" not in text
    saved = json.loads(record_path(own_course, "calc").read_text())
    assert saved["score"] == 10.0


@pytest.mark.timeout(60)  # without the fix, watch would wait for a save that never comes
def test_watch_grades_a_save_made_during_its_first_grade(
    own_course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file watcher starts after the first grade; a save made while that grade ran used to
    wait for the next save. Now the files' stamps are compared, and it is graded at once."""
    from labkit.grading import watch as watch_module

    calc = own_course / "labs" / "calc" / "calc.py"
    calls: list[list[str]] = []

    def grade_once(*_args: object, changed: list[str], **_kwargs: object) -> list[object]:
        calls.append(changed)
        if len(calls) == 1:  # the learner saves while the first grade runs
            calc.write_text(calc.read_text() + "\n# saved mid-grade\n")
        return []

    monkeypatch.setattr(watch_module, "grade_once", grade_once)
    lab = load_manifest(own_course / "graders" / "calc" / "lab.toml")
    console = Console(file=StringIO(), width=100)
    assert watch_module.watch(own_course, lab, console, max_rounds=2) == 0
    assert calls == [[], ["calc.py"]]
