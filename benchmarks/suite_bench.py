"""What each lab's own proof costs in the test suite: ``pytest tests/labs -k <lab>``, per test.

Every lab is proven by ``tests/labs`` (starter ≤ 10%, reference 100%, deterministic, every stub
breaks a test, the notebook runs, the README follows the course's conventions). ft-01's issue asks
that its tests add under a minute to the suite; this measures it, and any other lab named in
``LABKIT_BENCH_LABS`` (default ``ft-01``), from pytest's own JUnit timings.

Results go to ``benchmarks/results/suite.md``; ``run()`` also returns them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from benchmarks.machine import load_average, machine_line

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "suite.md"
_PYTEST = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/labs")
LABS = tuple(os.environ.get("LABKIT_BENCH_LABS", "ft-01").split(","))


def _lab_tests(lab: str) -> dict[str, Any]:
    """Wall time of ``pytest tests/labs -k <lab>`` and each test's own time."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        started = time.monotonic()
        done = subprocess.run(
            [*_PYTEST, "-k", lab, f"--junitxml={report}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - started
        cases = [
            (case.get("name", "?"), float(case.get("time", 0)), case.find("failure") is None)
            for case in ET.parse(report).getroot().iter("testcase")
        ]
    return {"wall": wall, "returncode": done.returncode, "cases": cases}


def run() -> dict[str, Any]:
    load = load_average()
    results = {lab: _lab_tests(lab) for lab in LABS}
    lines = [
        "# What each lab's proof costs in the suite (`tests/labs`)",
        "",
        f"{machine_line(load)}. `python -m benchmarks suite` "
        "(labs: `LABKIT_BENCH_LABS`, default ft-01).",
        "",
        "The mutant check grades a copy of the reference once per stub the learner writes; the "
        "copies share one zygote per lab (`ZygotePool`) and run first the tests that name the "
        "broken function, stopping at the first failure.",
    ]
    for lab, found in results.items():
        passed = all(ok for _, _, ok in found["cases"]) and found["returncode"] == 0
        lines += [
            "",
            f"## {lab}: {found['wall']:.1f} s for `pytest tests/labs -k {lab}` "
            f"({'all passed' if passed else 'FAILURES'})",
            "",
            "| test | s |",
            "|---|---:|",
        ]
        for name, seconds, ok in sorted(found["cases"], key=lambda c: -c[1]):
            lines.append(f"| `{name}`{'' if ok else ' (failed)'} | {seconds:.1f} |")
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return results
