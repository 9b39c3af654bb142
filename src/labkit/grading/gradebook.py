"""The gradebook of a batch: one row per submission, and the class's statistics.

``grade-all`` writes them as it goes, and ``gradebook merge`` writes them again from the shards'
results, so they live here, apart from the batch machinery (the HTML report drawn from the same
rows is :mod:`labkit.grading.classreport`).
"""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path
from typing import Any

from labkit.grading.results import write_text
from labkit.grading.spec import TestMeta

STATUSES = ("graded", "timeout", "crashed", "invalid")
_BASE_COLUMNS = [
    "submission",
    "score",
    "max_score",
    "percent",
    "status",
    "tests_passed",
    "tests_total",
    "execution_time",
    "detail",
    "content_hash",
]


def row_from_results(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """One gradebook row from a results.json document."""
    extra = doc.get("extra_data") or {}
    tests = doc.get("tests") or []
    score = float(doc.get("score") or 0.0)
    max_score = float(extra.get("max_score") or sum(float(t.get("max_score") or 0) for t in tests))
    failing = [t for t in tests if t.get("status") != "passed"]
    kinds: dict[str, int] = {}
    for t in failing:
        kind = (t.get("extra_data") or {}).get("outcome", "failed")
        kinds[kind] = kinds.get(kind, 0) + 1
    notes = extra.get("notes") or []
    detail = "; ".join(
        [f"{n} {k}" for k, n in sorted(kinds.items()) if k not in ("failed", "invalid")]
        + [str(n).splitlines()[0][:120] for n in notes[:1]]
    )
    row: dict[str, Any] = {
        "submission": name,
        "score": round(score, 4),
        "max_score": round(max_score, 4),
        "percent": round(100 * score / max_score, 1) if max_score else 0.0,
        "status": extra.get("status", "graded"),
        "tests_passed": sum(1 for t in tests if t.get("status") == "passed"),
        "tests_total": len(tests),
        "execution_time": doc.get("execution_time", ""),
        "detail": detail,
        "content_hash": extra.get("content_hash", ""),
    }
    for t in tests:
        row[f"test {t.get('number')}"] = t.get("score", 0)
    return row


def write_gradebook(
    out_dir: Path, rows: dict[str, dict[str, Any]], expected: list[TestMeta]
) -> None:
    columns = _BASE_COLUMNS + [f"test {m.number}" for m in expected]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for name in sorted(rows):
        writer.writerow(rows[name])
    write_text(out_dir / "gradebook.csv", buffer.getvalue())


def compute_stats(rows: dict[str, dict[str, Any]], expected: list[TestMeta]) -> dict[str, Any]:
    """Mean, median, a 10-bin distribution of percentages, statuses, and pass rate per test."""
    percents = [float(r["percent"]) for r in rows.values()]
    bins = [0] * 10
    for p in percents:
        bins[min(9, int(p // 10))] += 1
    statuses = {s: 0 for s in STATUSES}
    for r in rows.values():
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    per_test = []
    for meta in expected:
        key = f"test {meta.number}"
        scores = [float(r.get(key) or 0.0) for r in rows.values() if key in r]
        passed = sum(1 for s in scores if meta.points and s >= meta.points - 1e-9)
        per_test.append(
            {
                "number": meta.number,
                "name": meta.name,
                "points": meta.points,
                "visibility": meta.visibility,
                "passed": passed,
                "graded": len(scores),
                "pass_rate": round(passed / len(scores), 3) if scores else 0.0,
            }
        )
    return {
        "submissions": len(rows),
        "statuses": statuses,
        "mean_percent": round(statistics.fmean(percents), 1) if percents else 0.0,
        "median_percent": round(statistics.median(percents), 1) if percents else 0.0,
        "distribution": [
            {"range": f"{10 * i}-{10 * i + 10}%", "count": n} for i, n in enumerate(bins)
        ],
        "tests": per_test,
    }
