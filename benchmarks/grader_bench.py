"""What the grader's isolation costs, and how fast a batch goes.

Two questions, on the fixture lab ``calc`` (tests/fixtures/labroot), whose five tests include a
learner CLI run:

- **overhead**: ``labkit grade`` (learner mode: allow-listed copy, guarded child, result channel,
  report) against plain pytest running the same tests with the same plugin in one process
  (``pytest -p labkit.grading.plugin graders/calc --lab-dir solutions/calc``), median of
  ``REPEATS`` runs each; the ratio is grader / plain;
- **throughput**: ``grade-all`` on ``SUBMISSIONS`` submissions (reference, partial, starter), with
  ``--jobs 1`` and ``--jobs 2``, in submissions per minute.

Results go to ``benchmarks/results/grader.md``; ``run()`` also returns them as a dict.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.machine import load_average, machine_line
from labkit.grading.batch import BatchOptions, grade_all
from labkit.grading.child import plain_pytest_argv
from labkit.grading.manifest import load_manifest
from labkit.grading.runner import GradeOptions, grade

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "grader.md"
LABROOT = HERE.parent / "tests" / "fixtures" / "labroot"
REPEATS = 5
SUBMISSIONS = 8


def _plain_pytest(course: Path) -> float:
    """One plain pytest run of the same tests (same plugin, one process, no isolation)."""
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        plain_pytest_argv(
            "graders/calc",
            "solutions/calc",
            # learner mode does not run hidden tests: leave the hidden one out here too
            "--deselect",
            "graders/calc/test_calc.py::test_add_large",
        ),
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if "4 passed" not in done.stdout:
        raise RuntimeError(f"plain pytest did not pass:\n{done.stdout}\n{done.stderr}")
    return elapsed


def _grader_api(course: Path) -> float:
    manifest = load_manifest(course / "graders" / "calc" / "lab.toml")
    started = time.perf_counter()
    result = grade(manifest, course / "solutions" / "calc", GradeOptions(mode="learner"))
    elapsed = time.perf_counter() - started
    if result.score != result.max_score:
        raise RuntimeError(f"the reference scored {result.score}/{result.max_score}")
    return elapsed


def _grader_cli(work: Path) -> float:
    """``labkit grade calc --dir ...`` end to end: CLI start-up, grading, report, results file."""
    env = {**os.environ, "LABKIT_ROOT": str(work)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "labkit.cli", "grade", "calc", "--dir", "solutions/calc"],
        cwd=work,
        env=env,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - started


def _submissions(folder: Path) -> None:
    reference = (LABROOT / "solutions" / "calc" / "calc.py").read_text()
    starter = (LABROOT / "labs" / "calc" / "calc.py").read_text()
    partial = reference.replace(
        "return sum(xs) / len(xs) if xs else 0.0", "return sum(xs) / len(xs)"
    )
    kinds = [reference, partial, starter]
    for i in range(SUBMISSIONS):
        sub = folder / f"learner{i:02d}"
        sub.mkdir(parents=True)
        (sub / "calc.py").write_text(kinds[i % len(kinds)])


def _batch(jobs: int, work: Path) -> float:
    manifest = load_manifest(LABROOT / "graders" / "calc" / "lab.toml")
    out = work / f"out-{jobs}"
    started = time.perf_counter()
    grade_all(
        manifest,
        work / "subs",
        out,
        BatchOptions(jobs=jobs, repo_root=LABROOT),
        Console(quiet=True),
    )
    elapsed = time.perf_counter() - started
    return SUBMISSIONS / elapsed * 60


def run() -> dict[str, Any]:
    """Measure, write benchmarks/results/grader.md, return the numbers."""
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as tmp:
        work = Path(tmp)
        # a copy: inside the repository, tests/fixtures/conftest.py hides these tests from pytest
        course = work / "course"
        shutil.copytree(LABROOT, course, ignore=shutil.ignore_patterns(".labkit", "__pycache__"))
        _plain_pytest(course)  # warm the OS caches once for everyone
        plain = [_plain_pytest(course) for _ in range(REPEATS)]
        api = [_grader_api(course) for _ in range(REPEATS)]
        cli = [_grader_cli(course) for _ in range(REPEATS)]
        _submissions(work / "subs")
        per_min = {jobs: _batch(jobs, work) for jobs in (1, 2)}
    results: dict[str, Any] = {
        "plain_pytest_s": statistics.median(plain),
        "grade_api_s": statistics.median(api),
        "grade_cli_s": statistics.median(cli),
        "overhead_ratio_api": statistics.median(api) / statistics.median(plain),
        "overhead_ratio_cli": statistics.median(cli) / statistics.median(plain),
        "batch_per_min_jobs1": per_min[1],
        "batch_per_min_jobs2": per_min[2],
        "load_average": load,
    }
    _write(results)
    return results


def _write(r: dict[str, Any]) -> None:
    lines = [
        "# Grader overhead and batch throughput (benchmarks/grader_bench.py)",
        "",
        f"Fixture lab `calc` (4 visible tests, one runs the learner's CLI). Median of {REPEATS} runs. "
        f"{machine_line(r['load_average'])}.",
        "",
        "| measurement | seconds | vs plain pytest |",
        "|---|---:|---:|",
        f"| plain pytest, same tests and plugin, one process | {r['plain_pytest_s']:.2f} | 1.00 |",
        f"| `grade()` (copy, guarded child, channel, scoring) | {r['grade_api_s']:.2f} | "
        f"{r['overhead_ratio_api']:.2f} |",
        f"| `labkit grade calc` end to end (CLI, report, results file) | {r['grade_cli_s']:.2f} | "
        f"{r['overhead_ratio_cli']:.2f} |",
        "",
        f"| batch (`grade-all`, {SUBMISSIONS} submissions: reference / partial / starter) | "
        "submissions per minute |",
        "|---|---:|",
        f"| `--jobs 1` | {r['batch_per_min_jobs1']:.1f} |",
        f"| `--jobs 2` | {r['batch_per_min_jobs2']:.1f} |",
        "",
        "Where the time goes: a grading child pays the same interpreter and pytest start-up as",
        "plain pytest, but the parent kills it as soon as the last result arrives, so it skips the",
        "interpreter shutdown plain pytest waits for; that is why `grade()` can come out below 1.",
        "The command adds the `labkit` start-up (the dispatcher imports every area's CLI, the fake",
        "provider's included). A batch also runs one collection-only child up front (the trusted",
        "list of expected tests) and then one child per submission.",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value:.3f}")
    print(f"written to {RESULTS}")
