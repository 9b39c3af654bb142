"""A whole class: ``grade-all --jobs 2`` on chat-01 and rag-02 submissions, and the report.

The class is a mix built from the course itself: the reference, the starter, and one mutant per
starter stub (the reference with that one function or method broken back to ``raise
NotImplementedError``: a learner who did all but one task; :mod:`labkit.scaffold.mutants`, the
same mutants ``tests/labs`` proves), cycled until each lab has its count. Counts default to the issue's 60 chat-01 and 30 rag-02; ``LABKIT_BENCH_CHAT01`` / ``LABKIT_BENCH_RAG02``
choose a smaller class on a busy machine (the table says which was run).

Measured: submissions per minute of the whole ``grade_all`` call (collection, grading, gradebook,
report) per lab, and the time to build ``report.html`` alone (its share of the batch). Results go
to ``benchmarks/results/class.md``; ``run()`` also returns them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.machine import load_average, machine_line
from labkit.grading.batch import BatchOptions, grade_all
from labkit.grading.manifest import find_lab
from labkit.scaffold.mutants import lab_mutants

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "class.md"
JOBS = 2
DEFAULT_COUNTS = {"chat-01": 60, "rag-02": 30}


def build_class(lab: str, count: int, folder: Path) -> dict[str, int]:
    """``count`` submissions of ``lab`` in ``folder``; returns how many of each kind."""
    reference = {p.name: p.read_text() for p in (ROOT / "solutions" / lab).glob("*.py")}
    starter = {p.name: p.read_text() for p in (ROOT / "labs" / lab).glob("*.py")}
    kinds: list[tuple[str, dict[str, str]]] = [("reference", reference), ("starter", starter)]
    kinds += [
        ("mutant", {**reference, rel: source})
        for rel, _, source in lab_mutants(find_lab(ROOT, lab), ROOT)
    ]
    tally: dict[str, int] = {}
    for i in range(count):
        kind, files = kinds[i % len(kinds)]
        sub = folder / f"{lab}-{i:03d}-{kind}"
        sub.mkdir(parents=True)
        for name, code in files.items():
            (sub / name).write_text(code)
        tally[kind] = tally.get(kind, 0) + 1
    return tally


def run() -> dict[str, Any]:
    counts = {
        "chat-01": int(os.environ.get("LABKIT_BENCH_CHAT01", DEFAULT_COUNTS["chat-01"])),
        "rag-02": int(os.environ.get("LABKIT_BENCH_RAG02", DEFAULT_COUNTS["rag-02"])),
    }
    load = load_average()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="class-bench-") as tmp:
        for lab, count in counts.items():
            if count <= 0:
                continue
            subs = Path(tmp) / lab / "subs"
            tally = build_class(lab, count, subs)
            manifest = find_lab(ROOT, lab)
            load_now = load_average()
            started = time.perf_counter()
            summary = grade_all(
                manifest,
                subs,
                Path(tmp) / lab / "out",
                BatchOptions(jobs=JOBS, repo_root=ROOT),
                Console(stderr=True, quiet=True),
            )
            elapsed = time.perf_counter() - started
            stats = summary.stats
            load_before, load_after = load_now, load_average()
            rows.append(
                {
                    "lab": lab,
                    "count": count,
                    "mix": ", ".join(f"{n} {k}" for k, n in tally.items()),
                    "seconds": elapsed,
                    "per_minute": 60 * count / elapsed,
                    "report_seconds": summary.report_seconds,
                    "statuses": stats["statuses"],
                    "mean": stats["mean_percent"],
                    "load": f"{load_before:.1f} → {load_after:.1f}",
                }
            )
            shutil.rmtree(subs, ignore_errors=True)
    _write(rows, load, counts != DEFAULT_COUNTS)
    return {"rows": rows, "load": load}


def _write(rows: list[dict[str, Any]], load: float, smaller: bool) -> None:
    lines = [
        "# A whole class: grade-all and its report (benchmarks/class_bench.py)",
        "",
        f"`grade-all --jobs {JOBS}`, instructor mode, default seed. {machine_line(load)}. "
        "Numbers on a busy machine are noisy: read them as an order of magnitude.",
        "",
        *(
            [
                "A SMALLER class than the issue's 60 chat-01 + 30 rag-02 was run "
                "(LABKIT_BENCH_CHAT01 / LABKIT_BENCH_RAG02): at about one submission a minute on "
                "this loaded machine the full class would take over an hour.",
                "",
            ]
            if smaller
            else []
        ),
        "| lab | submissions (mix) | wall time | submissions per minute | report.html build |"
        " statuses | mean | load before → after |",
        "|---|---|---:|---:|---:|---|---:|---|",
    ]
    for r in rows:
        statuses = ", ".join(f"{k} {v}" for k, v in r["statuses"].items() if v)
        lines.append(
            f"| {r['lab']} | {r['count']} ({r['mix']}) | {r['seconds']:.0f} s | "
            f"{r['per_minute']:.1f} | {r['report_seconds']:.2f} s | {statuses} | {r['mean']}% | "
            f"{r['load']} |"
        )
    lines += [
        "",
        "A mutant is the reference with one function or method that the starter leaves as a "
        "stub broken again (`raise NotImplementedError`, as in tests/labs). Each "
        "submission is one guarded grading child (start-up of Python, pytest, the SDKs and, for "
        "rag-02, MiniLM), so the rate is bounded by child start-up and the lab's own tests; "
        "`--shard i/n` across machines scales it linearly (see docs/GRADING.md).",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
