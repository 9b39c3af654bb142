"""Every lab, proven: the starter fails, the reference passes, grading is deterministic, and
breaking any one function of the reference makes some test fail.

Labs are discovered from ``graders/*/lab.toml``, so a new lab is covered the moment it exists.
Grading goes through the real grader (sandboxed child processes), exactly as ``make grade`` does.

The mutants: every function or method that the STARTER leaves as a ``NotImplementedError`` stub
is what the learner writes, so each one, in turn, is replaced in a copy of the reference by
``raise NotImplementedError`` — and the grade of that copy must drop below full marks. The
mutants come from ``labkit.scaffold.mutants``, which the benchmarks use too.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest

from labkit.grading.board import grader_points
from labkit.grading.manifest import LabManifest, discover_labs, repo_root
from labkit.grading.runner import GradeOptions, GradeResult, grade
from labkit.grading.zygote import ZygotePool
from labkit.scaffold.mutants import lab_mutants

ROOT = repo_root(Path(__file__).resolve().parent)
LABS = discover_labs(ROOT)
LAB_IDS = [lab.id for lab in LABS]
_POOL: list[ZygotePool] = []


def _pooled() -> GradeOptions:
    """Options for the repeat grades (the determinism check, the mutants): learner processes fork
    from one zygote per lab, booted once (ft-01's torch imports alone take seconds), instead of one
    per grade. The first grades of the reference and the starter keep the ordinary path, so both
    are proven, and the determinism check compares one with the other."""
    if not _POOL:
        _POOL.append(ZygotePool())
    return GradeOptions(zygotes=_POOL[0])


@pytest.fixture(scope="module", autouse=True)
def _close_pool() -> Iterator[None]:
    yield
    while _POOL:
        _POOL.pop().close()


def _lab(lab_id: str) -> LabManifest:
    return next(lab for lab in LABS if lab.id == lab_id)


@cache
def _graded(lab_id: str, folder: str) -> GradeResult:
    """Grade ``labs/<id>`` or ``solutions/<id>`` once per session (several tests read it)."""
    return grade(_lab(lab_id), ROOT / folder / lab_id)


def _failures(result: GradeResult) -> str:
    return "\n".join(
        f"  {t.meta.number} {t.meta.id}: {t.kind}: {t.reason[:400]}"
        for t in result.tests
        if not t.passed
    )


def test_every_lab_has_its_three_parts() -> None:
    assert LAB_IDS, "no labs found under graders/"
    for lab_id in LAB_IDS:
        for part in ("labs", "solutions", "graders"):
            assert (ROOT / part / lab_id).is_dir(), f"{part}/{lab_id} is missing"
        assert (ROOT / "labs" / lab_id / "README.md").is_file(), (
            f"labs/{lab_id}/README.md is missing"
        )


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_reference_scores_full_marks(lab_id: str) -> None:
    result = _graded(lab_id, "solutions")
    assert result.tests, f"{lab_id}: the grader produced no tests"
    assert result.score == result.max_score, (
        f"{lab_id}: reference scored {result.score}/{result.max_score}:\n{_failures(result)}"
    )


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_board_total_is_what_grading_counts(lab_id: str, tmp_path: Path) -> None:
    """The board's points for a lab not graded yet (make list) are a number, and the same number
    grading reports — parametrised tests included, however their values are built."""
    total = grader_points(tmp_path, _lab(lab_id))  # tmp_path: a cache of its own
    assert total is not None, f"{lab_id}: the board cannot count the grader's points"
    result = _graded(lab_id, "solutions")
    assert total == result.max_score == result.score


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_starter_scores_at_most_ten_percent(lab_id: str) -> None:
    result = _graded(lab_id, "labs")
    assert result.max_score > 0
    assert result.score <= 0.10 * result.max_score, (
        f"{lab_id}: the starter scored {result.score}/{result.max_score}; passing tests: "
        + ", ".join(t.meta.id for t in result.tests if t.score > 0)
    )


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_each_lab_has_at_least_ten_tests(lab_id: str) -> None:
    count = len(_graded(lab_id, "labs").tests)
    assert count >= 10, (
        f"{lab_id}: {count} test(s); a lab has 10 to 20 (CONTRIBUTING.md, section 2): the "
        "scaffold's one test is a start, add one for each thing a task asks"
    )


@pytest.mark.slow
@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_grading_is_deterministic(lab_id: str) -> None:
    first = _graded(lab_id, "solutions")
    again = grade(_lab(lab_id), ROOT / "solutions" / lab_id, _pooled())
    assert [(t.meta.id, t.kind, t.score) for t in again.tests] == [
        (t.meta.id, t.kind, t.score) for t in first.tests
    ]


# --------------------------------------------------------------------------- mutants


def _tests_naming(lab: LabManifest, qualname: str) -> list[str]:
    """The grader's test functions whose code names the function (``tune.merge(...)``, or
    ``"merge"``): run first, they are the likeliest to notice it broken. Only an order: a mutant
    no test notices still runs every test."""
    name = qualname.rsplit(".", 1)[-1]
    found: list[str] = []
    for path in sorted(lab.grader_dir.glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            for inner in ast.walk(node):
                if (
                    (isinstance(inner, ast.Attribute) and inner.attr == name)
                    or (isinstance(inner, ast.Name) and inner.id == name)
                    or (isinstance(inner, ast.Constant) and inner.value == name)
                ):
                    found.append(node.name)
                    break
    return found


@pytest.mark.slow
@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_breaking_any_reference_function_fails_a_test(lab_id: str, tmp_path: Path) -> None:
    lab = _lab(lab_id)
    mutants = lab_mutants(lab, ROOT)
    assert mutants, f"{lab_id}: the starter has no NotImplementedError stubs to check"
    reference = ROOT / "solutions" / lab_id
    folders: list[tuple[str, Path, GradeOptions]] = []
    for i, (rel, qualname, source) in enumerate(mutants):
        folder = tmp_path / f"m{i:02d}"
        shutil.copytree(reference, folder, ignore=shutil.ignore_patterns("__pycache__"))
        (folder / rel).write_text(source, encoding="utf-8")
        # first_failure: one failing test answers the question; the rest need not run.
        options = _pooled()
        options.first_failure = True
        options.run_first = _tests_naming(lab, qualname)
        folders.append((f"{rel}:{qualname}", folder, options))
    with ThreadPoolExecutor(max_workers=2) as pool:  # each grade is its own child process
        results = list(pool.map(lambda item: grade(lab, item[1], item[2]), folders))
    survivors = [
        name
        for (name, _, _), result in zip(folders, results, strict=True)
        if result.score >= result.max_score
    ]
    assert not survivors, (
        f"{lab_id}: breaking these reference functions still scores full marks "
        f"(no test notices): {', '.join(survivors)}"
    )
