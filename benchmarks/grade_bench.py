"""How long a learner waits for `make grade`, per lab, and where the time goes (issue 17).

For every lab: ``labkit grade <lab> --dir <folder>`` end to end (what a person waits for), on the
reference and on the starter, cold (the first grade after the lab's result records and the
points cache are cleared) and warm (p50 of the next ``LABKIT_BENCH_RUNS`` grades, default 3), with
learner processes forked from the zygote (today) and, for the reference, with
``LABKIT_NO_ZYGOTE=1`` (every learner process a fresh interpreter, as before the zygote).

Where the time goes comes from the per-test durations the grader records: the first test
(it also waits for the zygote's imports and the worker), the slowest test, the sum of all tests,
and the rest (the `labkit` command, copying the folder, starting pytest, collecting, writing the
report). Then ``grade-all --jobs 2`` on chat-01 and rag-02 (2 references and 2 starters, twice
over: 8 submissions), submissions per minute, with and without the zygote.

``LABKIT_BENCH_LABS`` (comma-separated) narrows the run (and skips the batch rows unless
``LABKIT_BENCH_BATCH=1``). Results: benchmarks/results/grade.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import load_average, machine_line
from labkit.grading.manifest import discover_labs
from labkit.grading.records import is_own_folder, other_path, record_path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "grade.md"
LABKIT = str(Path(sys.executable).parent / "labkit")
RUNS = int(os.environ.get("LABKIT_BENCH_RUNS", "3"))
BATCH_LABS = ("chat-01", "rag-02")


def _labs() -> list[str]:
    chosen = os.environ.get("LABKIT_BENCH_LABS")
    if chosen:
        return chosen.split(",")
    return [m.id for m in discover_labs(ROOT)]


def _record(lab: str, folder: Path) -> Path:
    """Where ``labkit grade <lab> --dir <folder>`` writes its result (the rule of its cli)."""
    own = is_own_folder(ROOT, lab, folder)
    return record_path(ROOT, lab) if own else other_path(ROOT, lab, folder)


def _env(zygote: bool) -> dict[str, str]:
    """This environment, with learner processes forked from the zygote or (False) fresh."""
    env = {k: v for k, v in os.environ.items() if k != "LABKIT_NO_ZYGOTE"}
    if not zygote:
        env["LABKIT_NO_ZYGOTE"] = "1"
    return env


def _grade(lab: str, folder: Path, *, zygote: bool) -> dict[str, Any]:
    env = _env(zygote)
    start = time.monotonic()
    subprocess.run(
        [LABKIT, "grade", lab, "--dir", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
    )
    wall = time.monotonic() - start
    record = _record(lab, folder)
    tests: list[dict[str, Any]] = []
    score = max_score = 0.0
    if record.is_file():
        data = json.loads(record.read_text(encoding="utf-8"))
        tests = data.get("tests", [])
        score = float(data.get("score", 0.0))
        max_score = float(data.get("extra_data", {}).get("max_score", 0.0))
    durations = [float(t.get("extra_data", {}).get("duration", 0.0)) for t in tests]
    slowest = max(tests, key=lambda t: t.get("extra_data", {}).get("duration", 0.0), default={})
    return {
        "wall": wall,
        "score": score,
        "max": max_score,
        "first": durations[0] if durations else 0.0,
        "tests": sum(durations),
        "slowest": float(slowest.get("extra_data", {}).get("duration", 0.0)),
        "slowest_name": str(slowest.get("number", "")),
    }


def _clear(lab: str, folder: Path) -> None:
    _record(lab, folder).unlink(missing_ok=True)


def _measure(lab: str, folder: Path, zygote: bool, runs: int) -> dict[str, Any]:
    _clear(lab, folder)
    cold = _grade(lab, folder, zygote=zygote)
    warm = [_grade(lab, folder, zygote=zygote) for _ in range(runs)]
    middle = sorted(warm, key=lambda r: r["wall"])[len(warm) // 2]
    return {"cold": cold, "warm": middle, "walls": [r["wall"] for r in warm]}


def _batch(lab: str, zygote: bool) -> float:
    work = Path(tempfile.mkdtemp(prefix="labkit-bench-"))
    subs = work / "subs"
    for i, kind in enumerate(["solutions", "labs"] * 4):
        shutil.copytree(
            ROOT / kind / lab, subs / f"s{i}", ignore=shutil.ignore_patterns("__pycache__")
        )
    env = _env(zygote)
    start = time.monotonic()
    subprocess.run(
        [
            LABKIT,
            "grade-all",
            lab,
            "--submissions",
            str(subs),
            "--out",
            str(work / "out"),
            "--jobs",
            "2",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
    )
    took = time.monotonic() - start
    shutil.rmtree(work, ignore_errors=True)
    return 8 / took * 60


def run() -> dict[str, Any]:
    labs = _labs()
    result: dict[str, Any] = {"load": load_average(), "labs": {}, "batch": {}}
    for lab in labs:
        row = {
            "reference": _measure(lab, ROOT / "solutions" / lab, True, RUNS),
            "starter": _measure(lab, ROOT / "labs" / lab, True, max(1, RUNS - 2)),
            "reference_fresh": _measure(lab, ROOT / "solutions" / lab, False, max(1, RUNS - 2)),
        }
        result["labs"][lab] = row
        print(lab, json.dumps({k: round(v["warm"]["wall"], 1) for k, v in row.items()}), flush=True)
    if not os.environ.get("LABKIT_BENCH_LABS") or os.environ.get("LABKIT_BENCH_BATCH"):
        for lab in BATCH_LABS:
            result["batch"][lab] = {"zygote": _batch(lab, True), "fresh": _batch(lab, False)}
    result["load_end"] = load_average()
    _write(result)
    return result


def _write(r: dict[str, Any]) -> None:
    chat_target, rag_target = 5.0, 10.0
    lines = [
        "# How long `make grade` takes, per lab (benchmarks/grade_bench.py)",
        "",
        f"{machine_line(r['load'], load_end=r['load_end'])}. "
        "`python -m benchmarks grade`. Each cell is `labkit grade <lab> --dir <folder>` "
        f"end to end, in seconds: *cold* is the first grade after the lab's record is cleared, "
        f"*warm* the median of {RUNS} more (starter and fresh-interpreter columns: "
        f"{max(1, RUNS - 2)}). *Fresh* is the reference with `LABKIT_NO_ZYGOTE=1`: every learner "
        "process (worker, each CLI run) a new interpreter, as before the zygote. Target (issue 17, "
        f"quiet machine): reference ≤ {chat_target:g} s for chat labs, ≤ {rag_target:g} s for "
        "labs with a model in the loop.",
        "",
        "| lab | reference cold | reference warm | fresh warm | fresh / warm | starter warm "
        "| score | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for lab, row in r["labs"].items():
        ref, fresh, starter = row["reference"], row["reference_fresh"], row["starter"]
        target = chat_target if lab.startswith("chat") else rag_target
        met = "met" if ref["warm"]["wall"] <= target else f"not met (> {target:g} s)"
        lines.append(
            f"| {lab} | {ref['cold']['wall']:.1f} | {ref['warm']['wall']:.1f} | "
            f"{fresh['warm']['wall']:.1f} | {fresh['warm']['wall'] / ref['warm']['wall']:.2f} | "
            f"{starter['warm']['wall']:.1f} | {ref['warm']['score']:g}/{ref['warm']['max']:g} | "
            f"{met} |"
        )
    lines += [
        "",
        "Where the time goes (reference, warm run): *first test* includes waiting for the "
        "zygote's imports and the worker; *overhead* is everything outside the tests (the "
        "`labkit` command, copying the folder, starting pytest and the fake provider, collecting, "
        "the report).",
        "",
        "| lab | wall | overhead | first test | slowest test | all tests |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for lab, row in r["labs"].items():
        w = row["reference"]["warm"]
        lines.append(
            f"| {lab} | {w['wall']:.1f} | {w['wall'] - w['tests']:.1f} | {w['first']:.1f} | "
            f"{w['slowest_name']}: {w['slowest']:.1f} | {w['tests']:.1f} |"
        )
    if r["batch"]:
        lines += [
            "",
            "| `grade-all --jobs 2`, 8 submissions (4 reference, 4 starter) | zygote / min | "
            "fresh interpreters / min | target |",
            "|---|---:|---:|---:|",
        ]
        for lab, b in r["batch"].items():
            goal = "≥ 20" if lab.startswith("chat") else "≥ 6"
            lines.append(f"| {lab} | {b['zygote']:.1f} | {b['fresh']:.1f} | {goal} |")
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
