"""Issue 15, the instructor's tools: the student export (and its GitHub Classroom workflow), the
Gradescope bundle, sharded grading and its merge, the class report in a real browser, and the
similarity report. Fixture submissions are built from the fixture lab ``calc``; the student export
is also made of the real course, and every starter in it is graded."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from grader_fixtures import (
    ALTERNATIVE_GOOD,
    HIDDEN_CALC,
    LABROOT,
    ONLY_ADD,
    REFERENCE,
    STARTER,
    build_code,
)
from test_learner_mode import check_gradescope_schema

from labkit.cli import main
from labkit.grading.classroom import WORKFLOW_PATH, grade_command, runner_id
from labkit.grading.export import export_student, function_bodies, reference_leaks
from labkit.grading.manifest import LabManifest, discover_labs
from labkit.grading.runner import GradeOptions, grade
from labkit.grading.shard import shard_of

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("VIRTUAL_ENV") or REPO / ".venv")

# Reference code the leak check may find in the real course: none. Issue 15 removed the last
# leaks (grader oracles now compute expected values another way, the toolkit delegates what
# learners write to libraries); keep it empty, so any new leak fails these tests.
KNOWN_LEAKS: set[str] = set()


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("labkit: "), err
    return err[0]


# --- 1. the student export of the real course ---------------------------------------------------


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "student"
    report = export_student(REPO, out)
    assert set(report.leaks) == KNOWN_LEAKS, sorted(set(report.leaks) ^ KNOWN_LEAKS)
    return out


def test_student_export_has_starters_and_graders_but_no_instructor_material(
    student: Path,
) -> None:
    for gone in ("solutions", "tests", "benchmarks", ".ci", "docs/THREAT-MODEL.md", ".venv"):
        assert not (student / gone).exists(), gone
    assert not list(student.rglob("build_*.py")), "fixture builders import solutions/"
    assert not list(student.rglob("__pycache__"))
    for lab in discover_labs(REPO):
        for path in (REPO / "labs" / lab.id).iterdir():
            if path.is_file():
                assert (student / "labs" / lab.id / path.name).read_bytes() == path.read_bytes()
        assert (student / "graders" / lab.id / "lab.toml").is_file()
    readme = (student / "README.md").read_text()
    assert "## Quick start" in readme
    assert "## For instructors" not in readme
    assert ".labkit/" in (student / ".gitignore").read_text()


def test_student_export_is_git_ready(student: Path, tmp_path: Path) -> None:
    clone = tmp_path / "repo"
    shutil.copytree(student, clone)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "Course"]):
        subprocess.run(cmd, cwd=clone, check=True, env=env)
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=clone, check=True, capture_output=True, text=True
    ).stdout.split()
    on_disk = sorted(
        p.relative_to(clone).as_posix()
        for p in clone.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(clone).parts
    )
    assert sorted(tracked) == on_disk  # nothing the .gitignore would silently drop


def test_no_reference_file_or_function_body_is_left(student: Path) -> None:
    references = {p.read_bytes() for p in (REPO / "solutions").rglob("*.py")}
    starters = {p.read_bytes() for p in (REPO / "labs").rglob("*.py")}
    for path in student.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert data not in references - starters, path
    # every reference body a learner must write, checked by hand here, independent of the exporter
    secret: set[str] = set()
    for ref in (REPO / "solutions").rglob("*.py"):
        starter = REPO / "labs" / ref.relative_to(REPO / "solutions")
        given = set(function_bodies(starter.read_text()).values()) if starter.exists() else set()
        secret |= {b for b in function_bodies(ref.read_text()).values() if b and b not in given}
    found = {
        f"{p.relative_to(student).as_posix()}:{name}"
        for p in student.rglob("*.py")
        for name, body in function_bodies(p.read_text()).items()
        if body in secret
    }
    assert found == {leak.split(" (")[0] for leak in KNOWN_LEAKS}


@pytest.mark.slow
def test_every_starter_in_the_export_scores_at_most_ten_percent(student: Path) -> None:
    labs = discover_labs(student)
    assert [m.id for m in labs] == [m.id for m in discover_labs(REPO)]

    def run(manifest: LabManifest) -> tuple[str, float, float]:
        options = GradeOptions(mode="learner", repo_root=student)
        result = grade(manifest, student / "labs" / manifest.id, options)
        return manifest.id, result.score, result.max_score

    with ThreadPoolExecutor(max_workers=2) as pool:
        scores = list(pool.map(run, labs))
    for lab_id, score, max_score in scores:
        assert max_score > 0, (lab_id, score, max_score)
        assert score <= 0.1 * max_score, (lab_id, score, max_score)


def test_export_refuses_bad_output_folders_and_hidden_tests_in_graders(
    in_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    line = _one_line_error(capsys, ["export", "student", str(busy)])
    assert "already exists and is not empty" in line
    assert (busy / "keep.txt").read_text() == "mine"  # nothing lost
    line = _one_line_error(capsys, ["export", "student", str(in_course / "out")])
    assert "inside the course" in line
    # the fixture lab keeps a hidden test inside its grader: students must never receive it
    line = _one_line_error(capsys, ["export", "student", str(tmp_path / "new")])
    assert "graders/calc/test_calc.py declares hidden tests" in line
    assert "--hidden-tests" in line
    assert not (tmp_path / "new").exists()


def test_strict_export_refuses_a_grader_oracle_equal_to_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    course = _visible_course(tmp_path)
    oracle = "\n\ndef _expected_add(a, b):\n    return a + b\n"
    (course / "graders" / "calc" / "helpers.py").write_text(oracle)
    leaks = export_student(course, tmp_path / "lenient").leaks
    assert leaks == [
        "graders/calc/helpers.py:_expected_add (same body as solutions/calc/calc.py:add)"
    ]
    with pytest.raises(Exception, match="refusing to export"):
        export_student(course, tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict").exists()
    assert reference_leaks(tmp_path / "lenient", course) == leaks


def test_leak_check_sees_through_renames_layout_comments_and_annotations(tmp_path: Path) -> None:
    """A copy of a reference body stays a leak when its parameters and locals are renamed, it is
    reformatted, commented, annotated or given a docstring, or pasted into a notebook; code that
    computes something else (another operator, another function called) is not."""
    course = _visible_course(tmp_path)
    disguised = (
        "import math\n\n\n"
        "def _oracle(left: int, right: int) -> int:\n"
        '    """An oracle: the sum, written out again."""\n'
        "    # same code, other names\n"
        "    return (left\n            + right)\n\n\n"
        "class Checks:\n"
        "    def mean(self, values: list[float]) -> float:\n"
        '        "the mean"\n'
        "        return sum(values) / len(values) if values else 0.0\n\n\n"
        "def not_a_leak(a, b):\n"
        "    return a - b\n\n\n"
        "def other_function(xs):\n"
        "    return math.fsum(xs) / len(xs) if xs else 0.0\n"
    )
    (course / "graders" / "calc" / "helpers.py").write_text(disguised)
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["def shown(a, b):\n", "    return a * b\n"]},
            {
                "cell_type": "code",
                "source": ["%matplotlib inline\n", "def p(u, v):\n", "    return u * v\n"],
            },
            {"cell_type": "code", "source": "def broken(:\n"},
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (course / "labs" / "calc" / "explore.ipynb").write_text(json.dumps(notebook))
    leaks = export_student(course, tmp_path / "out").leaks
    assert leaks == [
        "graders/calc/helpers.py:_oracle (same body as solutions/calc/calc.py:add)",
        "graders/calc/helpers.py:Checks.mean (same body as solutions/calc/calc.py:mean)",
        "labs/calc/explore.ipynb:p (same body as solutions/calc/calc.py:mul)",
    ]
    bodies = function_bodies(disguised)
    assert bodies["_oracle"] == function_bodies("def add(a, b):\n    return a + b\n")["add"]
    assert bodies["not_a_leak"] != bodies["_oracle"]
    # names read from outside (globals, imports, builtins) are kept: fsum is not sum
    assert bodies["other_function"] != bodies["Checks.mean"]


# --- 3. GitHub Classroom ------------------------------------------------------------------------


def test_classroom_workflow_is_what_the_reporter_needs(student: Path) -> None:
    data = yaml.safe_load((student / WORKFLOW_PATH).read_text())
    assert data["name"] == "Autograding Tests"
    assert list(data["jobs"]) == ["run-autograding-tests"]
    assert data[True if True in data else "on"] == [
        "push",
        "repository_dispatch",
        "workflow_dispatch",
    ]
    steps = data["jobs"]["run-autograding-tests"]["steps"]
    labs = [m.id for m in discover_labs(REPO)]
    graded = [s for s in steps if s.get("name", "").startswith("Grade ")]
    assert [s["id"] for s in graded] == [runner_id(lab) for lab in labs]
    assert [s["run"] for s in graded] == [grade_command(lab) for lab in labs]
    assert all(s["id"].isalnum() for s in graded)
    reporter = steps[-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert reporter["with"]["runners"].split(",") == [s["id"] for s in graded]
    assert reporter["env"] == {
        f"{s['id'].upper()}_RESULTS": f"${{{{ steps.{s['id']}.outputs.result }}}}" for s in graded
    }


def _decode(output_file: Path) -> dict[str, Any]:
    lines = [ln for ln in output_file.read_text().splitlines() if ln.startswith("result=")]
    assert len(lines) == 1, lines
    return json.loads(base64.b64decode(lines[0].removeprefix("result=")))


def _visible_course(tmp_path: Path) -> Path:
    """The fixture course with the real Makefile, its hidden test made visible (exportable)."""
    course = tmp_path / "course"
    shutil.copytree(LABROOT, course, ignore=shutil.ignore_patterns("__pycache__", ".labkit"))
    for name in ("Makefile", "constraints.txt"):
        shutil.copyfile(REPO / name, course / name)
    test = course / "graders" / "calc" / "test_calc.py"
    test.write_text(test.read_text().replace('visibility="hidden"', 'visibility="visible"'))
    return course


def test_classroom_step_command_reports_points(tmp_path: Path) -> None:
    """Runs a workflow step's exact command (the one every lab's step runs, with its lab id), on
    the starter and on the reference, in a student export whose .venv is this environment (no
    reinstall). The fixture lab keeps it fast; the real course's workflow is checked above."""
    repo = tmp_path / "student"
    export_student(_visible_course(tmp_path), repo)
    bin_dir = repo / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "labkit"):
        (bin_dir / tool).symlink_to(VENV / "bin" / tool)
    (repo / ".venv" / ".labkit-installed").touch()  # newer than pyproject.toml: `setup` is done
    data = yaml.safe_load((repo / WORKFLOW_PATH).read_text())
    step = next(s for s in data["jobs"]["run-autograding-tests"]["steps"] if s.get("id") == "calc")
    assert step["run"] == grade_command("calc")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}

    def run_step() -> dict[str, Any]:
        output = tmp_path / "github_output"
        output.write_text("")
        subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=repo,
            check=True,
            timeout=300,
            env={**env, "GITHUB_OUTPUT": str(output)},
            capture_output=True,
        )
        return _decode(output)

    starter = run_step()
    assert starter["version"] == 1
    assert starter["status"] == "fail"
    assert starter["max_score"] == 12
    assert sum(t["score"] for t in starter["tests"]) == 0
    shutil.copyfile(REFERENCE, repo / "labs" / "calc" / "calc.py")
    done = run_step()
    assert done["status"] == "pass", [t["message"] for t in done["tests"] if t["status"] != "pass"]
    assert sum(t["score"] for t in done["tests"]) == done["max_score"] == 12
    assert all(t["status"] == "pass" for t in done["tests"])
    shutil.rmtree(repo / ".labkit")  # grading never ran: the reporter still gets a clear error
    subprocess.run(
        [".venv/bin/labkit", "classroom-result", "calc"],
        cwd=repo,
        check=True,
        env=env,
        stdout=(tmp_path / "github_output").open("w"),
    )
    missing = _decode(tmp_path / "github_output")
    assert missing["status"] == "error"
    assert "make grade LAB=calc" in missing["tests"][0]["message"]


# --- 2. Gradescope ------------------------------------------------------------------------------


@dataclass
class Autograder:
    root: Path  # stands in for /autograder

    def run(self, files: dict[str, str]) -> dict[str, Any]:
        submission = self.root / "submission"
        shutil.rmtree(submission, ignore_errors=True)
        shutil.rmtree(self.root / "results", ignore_errors=True)
        submission.mkdir()
        for rel, text in files.items():
            (submission / rel).parent.mkdir(parents=True, exist_ok=True)
            (submission / rel).write_text(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
        env.update(LABKIT_AUTOGRADER_ROOT=str(self.root), LABKIT_AUTOGRADER_VENV=str(VENV))
        script = self.root / "source" / "run_autograder"
        subprocess.run([str(script)], env=env, check=False, timeout=300, capture_output=True)
        return json.loads((self.root / "results" / "results.json").read_text())


@pytest.fixture(scope="module")
def autograder(course: Path, tmp_path_factory: pytest.TempPathFactory) -> Autograder:
    base = tmp_path_factory.mktemp("gradescope")
    hidden = base / "hidden"
    shutil.copytree(HIDDEN_CALC, hidden)
    bundle = base / "calc.zip"
    old = os.environ.get("LABKIT_ROOT")
    os.environ["LABKIT_ROOT"] = str(course)
    try:
        assert (
            main(
                [
                    "export",
                    "gradescope",
                    "calc",
                    str(bundle),
                    "--hidden-tests",
                    str(hidden),
                    "--seed",
                    "correct horse",
                ]
            )
            == 0
        )
    finally:
        if old is None:
            os.environ.pop("LABKIT_ROOT", None)
        else:
            os.environ["LABKIT_ROOT"] = old
    root = base / "autograder"
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        assert {"setup.sh", "run_autograder"} <= set(names)
        assert not any(n.startswith("solutions/") for n in names)
        for info in zf.infolist():  # Gradescope unpacks the zip into /autograder/source
            target = root / "source" / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            target.chmod((info.external_attr >> 16) & 0o777)
    assert os.access(root / "source" / "run_autograder", os.X_OK)
    assert stat.S_IMODE((root / "source" / "setup.sh").stat().st_mode) & 0o111
    return Autograder(root)


def test_gradescope_bundle_grades_the_reference_with_hidden_tests_and_secret_seed(
    autograder: Autograder,
) -> None:
    doc = autograder.run({"calc.py": REFERENCE.read_text()})
    check_gradescope_schema(doc)
    assert doc["score"] == doc["extra_data"]["max_score"] == 13.0
    assert {t["number"] for t in doc["tests"] if t["visibility"] == "hidden"} == {"3.1", "9.1"}
    assert doc["extra_data"]["seed"].startswith("secret:")
    assert "correct horse" not in json.dumps(doc)
    assert doc["extra_data"]["mode"] == "instructor"


def test_gradescope_bundle_grades_starter_broken_and_nested_uploads(autograder: Autograder) -> None:
    assert autograder.run({"calc.py": STARTER.read_text()})["score"] == 0.0
    broken = autograder.run({"calc.py": "def add(a, b:\n    return a + b\n"})
    check_gradescope_schema(broken)
    assert broken["score"] == 0.0
    assert broken["extra_data"]["status"] == "graded"
    assert "SyntaxError" in json.dumps(broken["tests"])
    nested = autograder.run({"labs/calc/calc.py": ONLY_ADD, "README.md": "my repo"})
    assert nested["score"] == 4.0  # a zip of the whole repository is found in labs/calc/
    empty = autograder.run({})
    assert empty["score"] == 0.0
    assert empty["extra_data"]["status"] == "invalid"
    assert "none of the lab's files" in empty["output"]


def test_gradescope_export_bad_input(
    in_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _one_line_error(capsys, ["export", "gradescope", "calc", str(tmp_path / "calc.tar")])
    assert "must be a .zip file" in line
    line = _one_line_error(capsys, ["export", "gradescope", "nope", str(tmp_path / "x.zip")])
    assert "unknown lab 'nope'" in line
    line = _one_line_error(
        capsys,
        [
            "export",
            "gradescope",
            "calc",
            str(tmp_path / "x.zip"),
            "--hidden-tests",
            str(tmp_path / "missing"),
        ],
    )
    assert "hidden tests folder not found" in line
    assert not list(tmp_path.glob("*.zip*"))


# --- 4. shards and merge; 5. the class report ----------------------------------------------------


def _class(subs: Path) -> None:
    """Ten submissions of every kind, the zip included."""
    for name in ("ref_a", "ref_b", "ref_c"):
        build_code(subs / name, REFERENCE.read_text())
    build_code(subs / "alt", ALTERNATIVE_GOOD)
    build_code(subs / "only_add", ONLY_ADD)
    build_code(subs / "starter", STARTER.read_text())
    build_code(
        subs / "loops",
        STARTER.read_text().replace(
            'raise NotImplementedError("add() is not written yet")', "while True:\n        pass"
        ),
    )
    build_code(subs / "syntax", "def add(a, b:\n")
    (subs / "empty").mkdir()
    shutil.make_archive(str(subs / "zipped"), "zip", subs / "ref_a")


@dataclass
class Sharded:
    subs: Path
    shards: list[Path]
    merged: Path


@pytest.fixture(scope="module")
def sharded(course: Path, tmp_path_factory: pytest.TempPathFactory) -> Sharded:
    base = tmp_path_factory.mktemp("shards")
    subs = base / "subs"
    _class(subs)
    old = os.environ.get("LABKIT_ROOT")
    os.environ["LABKIT_ROOT"] = str(course)
    try:
        shards = [base / f"out{i}" for i in (1, 2, 3)]
        for i, out in enumerate(shards, 1):
            argv = [
                "grade-all",
                "calc",
                "--submissions",
                str(subs),
                "--out",
                str(out),
                "--shard",
                f"{i}/3",
            ]
            assert main(argv) == 0
        merged = base / "merged"
        assert main(["gradebook", "merge", str(merged), *map(str, shards)]) == 0
    finally:
        if old is None:
            os.environ.pop("LABKIT_ROOT", None)
        else:
            os.environ["LABKIT_ROOT"] = old
    return Sharded(subs, shards, merged)


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open() as fh:
        return {row["submission"]: row for row in csv.DictReader(fh)}


def test_shards_split_the_class_deterministically(sharded: Sharded) -> None:
    names = sorted(p.name for p in sharded.subs.iterdir())
    seen: list[str] = []
    for i, out in enumerate(sharded.shards, 1):
        rows = _rows(out)
        # derivable: shard = 1 + first 16 hex digits of sha256(name) mod n
        expected = [
            n for n in names if 1 + int(hashlib.sha256(n.encode()).hexdigest()[:16], 16) % 3 == i
        ]
        assert sorted(rows) == expected
        seen += rows
    assert sorted(seen) == names
    assert shard_of("ref_a", 3) == shard_of("ref_a", 3)


def test_merge_joins_everything_and_is_idempotent(sharded: Sharded, tmp_path: Path) -> None:
    rows = _rows(sharded.merged)
    assert sorted(rows) == sorted(p.name for p in sharded.subs.iterdir())
    assert rows["ref_a"]["score"] == rows["ref_a"]["max_score"] == "12.0"
    assert rows["only_add"]["score"] == "4.0"
    assert rows["loops"]["status"] == "timeout"
    assert rows["empty"]["status"] == "invalid"
    assert rows["zipped.zip"]["status"] == "invalid"
    summary = json.loads((sharded.merged / "summary.json").read_text())
    assert summary["submissions"] == 10
    assert "shard" not in summary
    before = {p.name: p.read_bytes() for p in sharded.merged.iterdir() if p.is_file()}
    assert main(["gradebook", "merge", str(sharded.merged), *map(str, sharded.shards)]) == 0
    after = {p.name: p.read_bytes() for p in sharded.merged.iterdir() if p.is_file()}
    assert before == after
    again = tmp_path / "again"
    assert main(["gradebook", "merge", str(again), *map(str, reversed(sharded.shards))]) == 0
    assert (again / "gradebook.csv").read_bytes() == before["gradebook.csv"]
    assert (again / "report.html").read_bytes() == before["report.html"]


def test_merge_refuses_missing_repeated_and_overlapping_shards(
    sharded: Sharded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two, three = map(str, sharded.shards)
    out = str(tmp_path / "m")
    line = _one_line_error(capsys, ["gradebook", "merge", out, one, three])
    assert "missing shard(s) 2/3" in line
    line = _one_line_error(capsys, ["gradebook", "merge", out, one, one, two, three])
    assert "shard 1/3 given twice" in line
    fake = tmp_path / "fake2"
    shutil.copytree(sharded.shards[0], fake)  # shard 1's submissions, claiming to be shard 2
    summary = json.loads((fake / "summary.json").read_text())
    summary["shard"]["index"] = 2
    (fake / "summary.json").write_text(json.dumps(summary))
    line = _one_line_error(capsys, ["gradebook", "merge", out, one, str(fake), three])
    assert "overlapping shards" in line
    line = _one_line_error(capsys, ["gradebook", "merge", out, str(sharded.subs)])
    assert "no summary.json" in line
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("3/2", "i must be between 1 and n"),
        ("0/4", "i must be between 1 and n"),
        ("two", "expected i/n"),
        ("1/0", "i must be between 1 and n"),
    ],
)
def test_bad_shard_spec_is_one_line(
    in_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    (tmp_path / "subs").mkdir()
    line = _one_line_error(
        capsys,
        [
            "grade-all",
            "calc",
            "--submissions",
            str(tmp_path / "subs"),
            "--out",
            str(tmp_path / "out"),
            "--shard",
            spec,
        ],
    )
    assert message in line
    assert not (tmp_path / "out").exists()


def test_report_has_every_section_and_needs_no_network(sharded: Sharded) -> None:
    page = (sharded.merged / "report.html").read_text()
    for anchor in ("distribution", "tests", "problems", "slowest"):
        assert f"id='{anchor}'" in page
    assert page.count("<svg") == 3
    assert "<script" not in page
    assert "src=" not in page
    assert "<link" not in page
    # no URL anywhere but XML namespace declarations (which are names, never fetched)
    assert "http" not in re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
    summary = json.loads((sharded.merged / "summary.json").read_text())
    rates = sorted(summary["tests"], key=lambda t: t["pass_rate"])
    order = [page.index(f"<tr><td>{t['number']}</td>") for t in rates]
    assert [t["pass_rate"] for t in rates] == sorted(t["pass_rate"] for t in rates)
    assert order == sorted(order) or len({t["pass_rate"] for t in rates}) < len(rates)
    assert page.index("<tr><td>" + rates[0]["number"]) < page.index(
        "<tr><td>" + rates[-1]["number"]
    )
    assert "Multiplying" not in page  # no hidden test in this run
    hint = next(m["hint"] for m in summary["expected"] if m["number"] == rates[0]["number"])
    assert hint.replace("'", "&#x27;").replace('"', "&quot;") in page
    for name, why in (("loops", "timeout"), ("zipped.zip", "is an archive"), ("empty", "none of")):
        assert name in page
        assert why in page


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_report_renders_in_a_real_browser(sharded: Sharded, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (.ci/run installs it: apt-get install -y chromium)")
    from PIL import Image

    shot = tmp_path / "report.png"
    profile = tmp_path / "profile"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            (sharded.merged / "report.html").as_uri(),
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 1600)
    colors = {c for _, c in image.getcolors(maxcolors=1 << 20) or []}
    # the histogram's bars (#3e7cb1) and a pass-rate bar colour are on screen: the SVG rendered
    assert (0x3E, 0x7C, 0xB1) in colors
    assert colors & {(0xC0, 0x39, 0x2B), (0xE6, 0xA2, 0x3C), (0x2E, 0x9E, 0x5B)}
    dom = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--dump-dom",
            (sharded.merged / "report.html").as_uri(),
        ],
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    ).stdout
    assert "the class at a glance" in dom
    assert dom.count("<svg") == 3


# --- 6. similarity -------------------------------------------------------------------------------


def test_similarity_ranks_the_copy_first_and_ignores_the_starter(
    in_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subs = tmp_path / "subs"
    build_code(subs / "alice", REFERENCE.read_text())
    renamed = REFERENCE.read_text().replace("xs", "values").replace("argv", "args")
    build_code(subs / "bob", renamed)  # alice's code, variables renamed
    build_code(subs / "dave", STARTER.read_text())
    build_code(subs / "erin", STARTER.read_text())
    build_code(subs / "frank", ONLY_ADD)
    (subs / "empty").mkdir()
    shutil.make_archive(str(subs / "zipped"), "zip", subs / "alice")
    out = tmp_path / "similarity.html"
    assert main(["similarity", "calc", "--submissions", str(subs), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "alice · bob" in printed
    assert "not compared" in printed
    page = out.read_text()
    rows = [line for line in page.splitlines() if line.startswith("<tr><td>")]
    assert "<td>alice</td><td>bob</td>" in rows[0]
    top = float(rows[0].split("class='num")[1].split(">")[1].split("%")[0])
    assert top >= 80
    starters = next(r for r in rows if "<td>dave</td><td>erin</td>" in r)
    assert ">0%</td>" in starters  # two untouched starters share only the starter's code
    assert "<mark>" in page  # the copied code is highlighted side by side
    assert "empty: none of the lab&#x27;s .py files is in it" in page
    assert "zipped.zip: zipped.zip is an archive" in page


def test_similarity_bad_input_is_one_line(
    in_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subs = tmp_path / "subs"
    build_code(subs / "alice", REFERENCE.read_text())
    (subs / "empty").mkdir()
    line = _one_line_error(capsys, ["similarity", "calc", "--submissions", str(subs)])
    assert "need at least two submissions" in line
    assert "(found 1)" in line
    archive = shutil.make_archive(str(tmp_path / "all"), "zip", subs)
    line = _one_line_error(capsys, ["similarity", "calc", "--submissions", archive])
    assert "is a file (unzip it first)" in line


def test_gradescope_submission_cannot_read_the_secret_seed_or_hidden_tests(
    autograder: Autograder,
) -> None:
    seed = autograder.root / "source" / "secret_seed"
    hidden = autograder.root / "source" / "hidden" / "test_hidden.py"
    assert seed.is_file()
    assert hidden.is_file()
    code = REFERENCE.read_text().replace(
        "return a + b",
        f"return a + b + len(open({str(seed)!r}).read()) + len(open({str(hidden)!r}).read())",
    )
    doc = autograder.run({"calc.py": code})
    tests = {t["number"]: t for t in doc["tests"]}
    assert tests["1.1"]["status"] == "failed"
    blocked = " ".join(tests["1.1"]["extra_data"]["blocked"])
    assert "secret_seed" in blocked, tests["1.1"]["extra_data"]
