"""What moving learner code into a worker process costs (issue 19), before and after.

- **per lab**: ``grade()`` of ``solutions/<id>`` for the six real labs, wall time;
- **one boundary call**: p50/p99 of a learner function call through the proxy (a cached function
  handle: one round trip; ``module.function(...)``: an attribute read plus the call);
- **batch**: ``grade-all --jobs 2`` on chat-01 and rag-02 (reference, starter, reference, starter),
  submissions per minute.

"Before" runs the same measurements with the interpreter ``LABKIT_BEFORE_PYTHON`` (a venv where
the last commit before the worker is installed; the grading child runs ``python -I``, so a
``PYTHONPATH`` would not reach it) on the tree ``LABKIT_BEFORE`` (its graders and solutions), so
both sides grade their own graders. Results are added to
``benchmarks/results/grader.md`` (the section between the ``worker-bench`` markers).
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

from benchmarks.machine import load_average, machine_line, percentile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "grader.md"
ALL_LABS = ("chat-01", "chat-02", "chat-03", "rag-01", "rag-02", "rag-03")
# LABKIT_BENCH_LABS / LABKIT_BENCH_BATCH (comma-separated) narrow the run on a busy machine.
LABS = tuple(os.environ.get("LABKIT_BENCH_LABS", ",".join(ALL_LABS)).split(","))
BATCH_LABS = tuple(os.environ.get("LABKIT_BENCH_BATCH", "chat-01,rag-02").split(","))
CALLS = 2000
# Grades per lab and side; the table shows the median (one run of a 1 s grade is mostly noise).
RUNS = int(os.environ.get("LABKIT_BENCH_RUNS", "3"))
START, END = "<!-- worker-bench -->", "<!-- /worker-bench -->"

_MEASURE = r"""
import json, shutil, sys, tempfile, time
from pathlib import Path
from rich.console import Console
from labkit.grading.batch import BatchOptions, grade_all
from labkit.grading.manifest import load_manifest
from labkit.grading.runner import grade

root = Path(sys.argv[1])
labs, batch_labs = sys.argv[2].split(","), sys.argv[3].split(",")
runs = int(sys.argv[4])
out = {"labs": {}, "batch": {}}
for lab in labs:
    manifest = load_manifest(root / "graders" / lab / "lab.toml")
    walls = []
    for _ in range(runs):
        start = time.monotonic()
        result = grade(manifest, root / "solutions" / lab)
        walls.append(time.monotonic() - start)
    out["labs"][lab] = [sorted(walls)[len(walls) // 2], result.score, result.max_score]
for lab in batch_labs:
    manifest = load_manifest(root / "graders" / lab / "lab.toml")
    work = Path(tempfile.mkdtemp())
    subs = work / "subs"
    for i, kind in enumerate(["solutions", "labs", "solutions", "labs"]):
        target = subs / f"s{i}"
        shutil.copytree(root / kind / lab, target)
    start = time.monotonic()
    grade_all(manifest, subs, work / "out", BatchOptions(jobs=2, repo_root=root),
              Console(file=open("/dev/null", "w")))
    took = time.monotonic() - start
    out["batch"][lab] = 4 / took * 60
    shutil.rmtree(work, ignore_errors=True)
print(json.dumps(out))
"""


def _side(
    src_root: Path, labs: tuple[str, ...], batch: tuple[str, ...], python: str = sys.executable
) -> dict[str, Any]:
    env = dict(os.environ)
    env["LABKIT_ROOT"] = str(ROOT)  # the datasets (identical on both sides)
    done = subprocess.run(
        [python, "-c", _MEASURE, str(src_root), ",".join(labs), ",".join(batch), str(RUNS)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _boundary() -> dict[str, float]:
    from labkit.grading.learner import Learner

    folder = Path(tempfile.mkdtemp())
    (folder / "mod.py").write_text("def add(a, b):\n    return a + b\n")
    learner = Learner(folder, "labs/bench", default_timeout=60)
    try:
        mod = learner.import_module("mod")
        add = mod.add
        one, two = [], []
        for _ in range(CALLS):
            start = time.perf_counter()
            add(1, 2)
            one.append(time.perf_counter() - start)
        for _ in range(CALLS):
            start = time.perf_counter()
            mod.add(1, 2)
            two.append(time.perf_counter() - start)
    finally:
        learner.stop_worker()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "handle_p50": percentile(one, 0.50) * 1e6,
        "handle_p99": percentile(one, 0.99) * 1e6,
        "module_p50": percentile(two, 0.50) * 1e6,
        "module_p99": percentile(two, 0.99) * 1e6,
    }


def run() -> dict[str, Any]:
    before_root = os.environ.get("LABKIT_BEFORE")
    before_python = os.environ.get("LABKIT_BEFORE_PYTHON")
    load = load_average()
    result: dict[str, Any] = {"load": load, "boundary": _boundary()}
    result["after"] = _side(ROOT, LABS, BATCH_LABS)
    if before_root and before_python:
        result["before"] = _side(Path(before_root), LABS, BATCH_LABS, before_python)
    _write(result)
    return result


def _write(r: dict[str, Any]) -> None:
    b = r["boundary"]
    after = r["after"]
    before = r.get("before") or {"labs": {}, "batch": {}}
    lines = [
        START,
        "## Learner code in a worker process (issue 19): before / after",
        "",
        f"Median of {RUNS} grades per lab and side. {machine_line(r['load'])}. "
        "`python -m benchmarks worker`; "
        "the before column needs `LABKIT_BEFORE=<tree of c41f44e>` and `LABKIT_BEFORE_PYTHON=<a "
        "venv with that tree installed>`.",
        "",
        "| lab (`grade()` of the reference) | before s | after s | after / before | score after |",
        "|---|---:|---:|---:|---:|",
    ]
    for lab in ALL_LABS:
        a = after["labs"].get(lab)
        p = before["labs"].get(lab)
        ratio = f"{a[0] / p[0]:.2f}" if a and p else "–"
        shown_before = f"{p[0]:.1f}" if p else "–"
        lines.append(
            f"| {lab} | {shown_before} | {a[0]:.1f} | {ratio} | {a[1]:g}/{a[2]:g} |"
            if a
            else f"| {lab} | {shown_before} | not measured | – | – |"
        )
    lines += [
        "",
        "| one call across the boundary | p50 µs | p99 µs |",
        "|---|---:|---:|",
        f"| `add(1, 2)` on a function handle (one round trip) | {b['handle_p50']:.0f} | "
        f"{b['handle_p99']:.0f} |",
        f"| `mod.add(1, 2)` (attribute read + call: two round trips) | {b['module_p50']:.0f} | "
        f"{b['module_p99']:.0f} |",
        "",
        "| `grade-all --jobs 2`, 4 submissions (2 reference, 2 starter) | before / min | after / min |",
        "|---|---:|---:|",
    ]
    for lab in ("chat-01", "rag-02"):
        p = before["batch"].get(lab)
        a = after["batch"].get(lab)
        shown = [f"{v:.1f}" if v else "not measured" for v in (p, a)]
        lines.append(f"| {lab} | {shown[0]} | {shown[1]} |")
    lines += [
        "",
        "Where the time goes: each grading run starts one more interpreter (the zygote, which imports the SDKs, chromadb or numpy the learner's files name once; the worker and each CLI are forked from it), and every call pays a socket round trip (~0.08 ms) and a JSON encoding of its arguments and result (orjson). A module's functions are looked up once per worker, so `mod.add(1, 2)` costs one round trip like a held handle. The labs whose grade used to be a second or two pay for their round trips: rag-03 makes ~650 calls a grade, rag-01 ~1,700 calls and ~280 callbacks carrying 25 MB (the knowledge base and its vectors); the fixed cost of the second process is hidden behind the judge's own start. Labs that run learner CLIs or reload SDKs (chat-01, rag-02) are faster than before the worker.",
        END,
    ]
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + "\n".join(lines) + tail
    else:
        text = text.rstrip() + "\n\n" + "\n".join(lines) + "\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
