"""Which tests fail most across the course: where tiered hints are worth writing first.

Every starter stub, in turn, is replaced by ``raise NotImplementedError`` in a copy of the
reference (the same mutants as ``tests/labs/test_labs.py``), and graded; a test "fails for" every
mutant under which it does not pass. The tests that fail for the most mutants are the ones a
learner meets failing most often while working through a lab, so they get the extra hint tiers
(``graders/<id>/hints.toml``).

``python -m benchmarks hints`` (all labs, ~1 grade per stub: tens of minutes on two cores);
``LABKIT_HINT_LABS=chat-01,chat-02`` limits it. Per-lab results are cached in
``benchmarks/results/hints-<lab>.json`` so an interrupted run resumes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from labkit.grading.manifest import discover_labs, repo_root
from labkit.scaffold.mutants import lab_mutants

ROOT = repo_root(Path(__file__).resolve().parent)
RESULTS = ROOT / "benchmarks" / "results"


def measure_lab(lab_id: str) -> dict[str, object]:
    """Grade every mutant of one lab; return {test number: [mutants it fails for], ...}."""
    from labkit.grading.runner import grade

    cache = RESULTS / f"hints-{lab_id}.json"
    if cache.is_file():
        return dict(json.loads(cache.read_text(encoding="utf-8")))
    lab = next(m for m in discover_labs(ROOT) if m.id == lab_id)
    mutants = lab_mutants(lab, ROOT)
    failing: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hints-") as tmp:
        for i, (rel, qualname, source) in enumerate(mutants):
            folder = Path(tmp) / f"m{i:02d}"
            shutil.copytree(
                ROOT / "solutions" / lab_id, folder, ignore=shutil.ignore_patterns("__pycache__")
            )
            (folder / rel).write_text(source, encoding="utf-8")
            result = grade(lab, folder)
            for outcome in result.tests:
                names[outcome.meta.number] = outcome.meta.name
                if not outcome.passed:
                    failing.setdefault(outcome.meta.number, []).append(f"{rel}:{qualname}")
            print(f"   {lab_id} mutant {i + 1}/{len(mutants)} {qualname}", flush=True)
    data: dict[str, object] = {
        "lab": lab_id,
        "mutants": len(mutants),
        "seconds": round(time.perf_counter() - started, 1),
        "failing": failing,
        "names": names,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return data


def run() -> dict[str, object]:
    """Measure the chosen labs and write benchmarks/results/hints.md."""
    wanted = [x for x in os.environ.get("LABKIT_HINT_LABS", "").split(",") if x]
    labs = [m.id for m in discover_labs(ROOT) if not wanted or m.id in wanted]
    per_lab = {lab_id: measure_lab(lab_id) for lab_id in labs}
    rows: list[tuple[int, str, str, str, int]] = []
    for lab_id, data in per_lab.items():
        failing: dict[str, list[str]] = data["failing"]  # type: ignore[assignment]
        names: dict[str, str] = data["names"]  # type: ignore[assignment]
        total = int(data["mutants"])  # type: ignore[call-overload]
        for number, mutants in failing.items():
            rows.append((len(mutants), lab_id, number, names.get(number, ""), total))
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    lines = [
        "# Most-failed tests across the course (mutated references)",
        "",
        "Each starter stub, in turn, broken in a copy of the reference and graded "
        "(`python -m benchmarks hints`). *Fails for* = how many of the lab's mutants the test "
        "fails under. Measured on a shared 2-core machine under heavy load (load average ~20): "
        "times are noisy, and a few counts may include tests that timed out only because of "
        "the load (e.g. the first test of a restarted grading process).",
        "",
        "| lab | mutants | grading time (s) |",
        "|---|---:|---:|",
    ]
    for lab_id, data in per_lab.items():
        lines.append(f"| {lab_id} | {data['mutants']} | {data['seconds']} |")
    lines += ["", "| rank | lab | test | name | fails for |", "|---:|---|---|---|---:|"]
    for rank, (count, lab_id, number, name, total) in enumerate(rows[:30], start=1):
        lines.append(f"| {rank} | {lab_id} | {number} | {name} | {count} of {total} |")
    (RESULTS / "hints.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"labs": labs, "top": rows[:10]}
