"""GitHub Classroom: a workflow that grades each push with ``make grade``, and its points report.

Classroom's autograding reporter (``classroom-resources/autograding-grading-reporter@v1``) reads,
for each runner id listed in its ``runners`` input, an environment variable
``<RUNNER ID IN CAPITALS>_RESULTS`` holding base64 JSON::

    {"version": 1, "status": "pass" | "fail" | "error", "max_score": 12,
     "tests": [{"name": "...", "status": "pass" | "fail" | "error", "score": 4,
                "message": "...", "test_code": "...", "filename": "", "line_no": 0,
                "execution_time": "0.12s"}]}

and reports the sum of the tests' ``score`` out of the sum of ``max_score`` to Classroom. It also
requires the workflow to be named ``Autograding Tests`` with a single job
``run-autograding-tests``. Each lab is one runner: ``make grade LAB=<id>`` writes the learner's
``.labkit/results/<id>.json`` (Gradescope schema), and ``labkit classroom-result <id>`` turns it
into the reporter's format as a ``result=...`` line appended to ``$GITHUB_OUTPUT``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from labkit.grading.manifest import LabManifest

WORKFLOW_PATH = Path(".github") / "workflows" / "classroom.yml"


def runner_id(lab_id: str) -> str:
    """A runner id the reporter accepts (letters and digits only): ``chat-01`` -> ``chat01``."""
    return "".join(ch for ch in lab_id if ch.isalnum())


def grade_command(lab_id: str) -> str:
    """The exact shell command a workflow step runs for one lab."""
    # Actions runs `bash -e`: a grading failure must still reach the reporter (as status "error")
    return (
        f"make grade LAB={lab_id} || echo 'grading {lab_id} did not finish'; "
        f'.venv/bin/labkit classroom-result {lab_id} >> "$GITHUB_OUTPUT"'
    )


def workflow(labs: list[LabManifest]) -> dict[str, Any]:
    """The workflow as data (written as YAML by :func:`write_workflow`)."""
    steps: list[dict[str, Any]] = [
        {"name": "Checkout code", "uses": "actions/checkout@v4"},
        {
            "name": "Python 3.11",
            "uses": "actions/setup-python@v5",
            "with": {"python-version": "3.11"},
        },
        {
            "name": "Reuse the environment",
            "uses": "actions/cache@v4",
            "with": {
                "path": ".venv",
                "key": "labkit-venv-${{ runner.os }}-${{ hashFiles('pyproject.toml', 'constraints.txt') }}",
            },
        },
        {"name": "Install the course environment", "run": "make setup"},
    ]
    env: dict[str, str] = {}
    for lab in labs:
        rid = runner_id(lab.id)
        steps.append(
            {
                "name": f"Grade {lab.id}",
                "id": rid,
                "continue-on-error": True,  # one lab's infrastructure error must not hide the others
                "run": grade_command(lab.id),
            }
        )
        env[f"{rid.upper()}_RESULTS"] = "${{ steps." + rid + ".outputs.result }}"
    steps.append(
        {
            "name": "Autograding Reporter",
            "uses": "classroom-resources/autograding-grading-reporter@v1",
            "env": env,
            "with": {"runners": ",".join(runner_id(lab.id) for lab in labs)},
        }
    )
    return {
        "name": "Autograding Tests",
        "on": ["push", "repository_dispatch", "workflow_dispatch"],
        "permissions": {"checks": "write", "actions": "read", "contents": "read"},
        "jobs": {
            "run-autograding-tests": {
                "runs-on": "ubuntu-latest",
                "if": "github.actor != 'github-classroom[bot]'",
                "timeout-minutes": 60,
                "steps": steps,
            }
        },
    }


def write_workflow(root: Path, labs: list[LabManifest]) -> Path:
    """Write ``.github/workflows/classroom.yml`` under ``root``."""
    import yaml

    path = root / WORKFLOW_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# GitHub Classroom autograding: every push runs `make grade` for each lab and reports the\n"
        "# points to Classroom. Written by `labkit export student`; the reporter needs this exact\n"
        "# workflow name and job id.\n"
    )
    text = yaml.safe_dump(workflow(labs), sort_keys=False, width=200)
    path.write_text(header + text, encoding="utf-8")
    return path


def classroom_result(document: dict[str, Any] | None, lab_id: str) -> dict[str, Any]:
    """The reporter's JSON for one lab, from the learner's results.json (None: not graded)."""
    if document is None:
        return {
            "version": 1,
            "status": "error",
            "max_score": 0,
            "tests": [
                {
                    "name": f"{lab_id}: not graded",
                    "status": "error",
                    "score": 0,
                    "message": f"no results for {lab_id}: `make grade LAB={lab_id}` did not finish",
                    "test_code": f"make grade LAB={lab_id}",
                    "filename": "",
                    "line_no": 0,
                    "execution_time": "0s",
                }
            ],
        }
    tests = []
    for t in document.get("tests") or []:
        extra = t.get("extra_data") or {}
        passed = t.get("status") == "passed"
        tests.append(
            {
                "name": f"{t.get('number')} {t.get('name')}",
                "status": "pass" if passed else "fail",
                "score": t.get("score", 0),
                "message": str(t.get("output") or ""),
                "test_code": f"make grade LAB={lab_id}  # test {t.get('number')}",
                "filename": "",
                "line_no": 0,
                "execution_time": f"{float(extra.get('duration') or 0):.2f}s",
            }
        )
    extra = document.get("extra_data") or {}
    max_score = extra.get("max_score")
    if max_score is None:
        max_score = sum(float(t.get("max_score") or 0) for t in document.get("tests") or [])
    status = "pass" if tests and all(t["status"] == "pass" for t in tests) else "fail"
    return {"version": 1, "status": status, "max_score": max_score, "tests": tests}


def output_line(result: dict[str, Any]) -> str:
    """``result=<base64 JSON>``: one line for ``$GITHUB_OUTPUT``."""
    payload = json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode()
    return "result=" + base64.b64encode(payload).decode("ascii")
