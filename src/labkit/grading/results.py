"""Results in Gradescope's ``results.json`` schema, written atomically.

One format for everything: the learner's ``.labkit/results/<id>.json``, ``--json OUT``, and each
``OUTDIR/<submission>/results.json`` in a batch, so an instructor can upload them unchanged.
Top-level ``extra_data`` records what graded it (grader version, tests hash, seed) so a grade can
be traced and reproduced.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from labkit import __version__ as labkit_version
from labkit.grading import GRADER_VERSION
from labkit.grading.outcomes import format_points
from labkit.grading.report import hidden_phrase
from labkit.grading.runner import GradeResult, TestOutcome


def test_output(outcome: TestOutcome) -> str:
    """What Gradescope shows under one test: the reason and hint first, captured output last."""
    parts: list[str] = []
    if outcome.passed:
        parts.append("Passed.")
    else:
        if outcome.reason:
            parts.append(outcome.reason)
        if outcome.score > 0:
            parts.append(
                f"Partial credit: {format_points(outcome.score)}/{format_points(outcome.meta.points)}."
            )
        parts.append(f"Hint: {outcome.meta.hint}")
    if outcome.blocked and not outcome.passed:
        parts.append("Blocked by the grader: " + "; ".join(outcome.blocked))
    if outcome.output.strip():
        parts.append("Output:\n" + outcome.output.rstrip())
    return "\n".join(parts)


def to_gradescope(result: GradeResult) -> dict[str, Any]:
    """The Gradescope results.json document for one graded submission.

    In learner mode, hidden tests are not run: they are left out of ``tests`` and the score, and
    counted in ``extra_data.hidden_tests`` so the learner knows they exist.
    """
    tests = [
        {
            "name": outcome.meta.name,
            "number": outcome.meta.number,
            "score": _num(outcome.score),
            "max_score": _num(outcome.meta.points),
            "status": "passed" if outcome.passed else "failed",
            "output": test_output(outcome),
            "output_format": "text",
            "visibility": outcome.meta.visibility,
            "extra_data": {
                "id": outcome.meta.id,
                "outcome": outcome.kind,
                "hint": outcome.meta.hint,
                "reason": outcome.reason,
                "blocked": outcome.blocked,
                "duration": round(outcome.duration, 3),
            },
        }
        for outcome in result.tests
    ]
    hidden_points = sum(m.points for m in result.not_run_hidden)
    summary = (
        f"{result.lab_id}: {format_points(result.score)}/{format_points(result.max_score)} points, "
        f"{result.passed_count} of {len(result.tests)} tests passed ({result.status})."
    )
    if result.not_run_hidden:
        summary += " " + hidden_phrase(len(result.not_run_hidden), hidden_points)
    if result.notes:
        summary += "\n" + "\n".join(result.notes)
    return {
        "score": _num(result.score),
        "execution_time": round(result.execution_time, 2),
        "output": summary,
        "output_format": "text",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "lab": result.lab_id,
            "title": result.lab_title,
            "submission": result.submission,
            "mode": result.mode,
            "status": result.status,
            "max_score": _num(result.max_score),
            "grader_version": GRADER_VERSION,
            "labkit_version": labkit_version,
            "tests_hash": result.tests_hash,
            "seed": result.seed_label,
            "attempts": result.attempts,
            "stray_channel_writes": result.stray_writes,
            "notes": result.notes,
            "hidden_tests": {"count": len(result.not_run_hidden), "points": _num(hidden_points)},
        },
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` as indented JSON, atomically (see :func:`write_text`)."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a reader never sees half a file, and a crash leaves
    the old file or none, which matters for resuming a batch and for an instructor opening the
    gradebook or the report while ``grade-all`` rewrites it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """A results.json previously written by the grader, or None if absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def score_text(data: dict[str, Any]) -> str:
    """ "7/20 pts" from a results.json document."""
    extra = data.get("extra_data") or {}
    max_score = extra.get("max_score")
    if max_score is None:
        max_score = sum(float(t.get("max_score") or 0) for t in data.get("tests", []))
    return f"{format_points(float(data.get('score') or 0))}/{format_points(float(max_score))} pts"


def _num(value: float) -> float:
    return round(float(value), 4)
