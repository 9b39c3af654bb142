"""What the judge says about tests: the metadata of a collected test, which tests run, and the
short reasons a learner reads (an assertion's message, not a traceback)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from labkit.errors import LabkitError
from labkit.grading.api import MARKER, VISIBILITIES
from labkit.grading.hints import tiers_for
from labkit.grading.plugin_state import _Record, _State
from labkit.grading.spec import TestMeta, clean_text

_REASON_LIMIT = 1500


def collect_summary(report: pytest.CollectReport) -> str:
    """One line a lab author can act on: the exception pytest hit, not its whole report."""
    lines = [ln for ln in (report.longreprtext or "").splitlines() if ln.strip()]
    raised = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    summary = raised[-1] if raised else (lines[-1].strip() if lines else "collection failed")
    if "No module named" in summary:
        summary += " (lab tests reach learner code with learner.import_module() inside a test)"
    return clean_text(summary, 500)


def should_run(state: _State, nodeid: str, record: _Record | None) -> bool:
    spec = state.spec
    if spec is None:
        return True
    if spec.collect_only or record is None:
        return False
    if spec.skip_hidden and record.meta.visibility == "hidden":
        return False
    return spec.select is None or nodeid in spec.select


def lab_test_meta(
    item: pytest.Item, state: _State, case_index: dict[tuple[str, str], int]
) -> TestMeta | str:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return f"{item.nodeid}: add @lab_test(points=..., number=...) to this test"
    kwargs = dict(marker.kwargs)
    try:
        points = float(kwargs["points"])
        number = str(kwargs["number"])
    except (KeyError, TypeError, ValueError):
        return f"{item.nodeid}: @lab_test needs points and number"
    try:
        tiers = tiers_for(state.hints_of(item.path.parent), number)
    except LabkitError as exc:
        return str(exc)
    if not tiers:
        return (
            f"{item.nodeid}: test {number} has no hint: add "
            f'"{number}" = ["what to check when it fails"] to {state.hints_file_name(item.path.parent)}'
        )
    hint = tiers[0]
    visibility = str(kwargs.get("visibility") or "visible")
    if visibility not in VISIBILITIES:
        return f"{item.nodeid}: unknown visibility {visibility!r}"
    function = getattr(item, "function", None)
    name = kwargs.get("name") or default_name(function, item.name)
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        key = (str(item.path), getattr(item, "originalname", item.name))
        case_index[key] = case_index.get(key, 0) + 1
        number = f"{number}.{case_index[key]}"
        name = f"{name} [{callspec.id}]"
    if state.hidden_dir is not None and is_under(item.path, state.hidden_dir):
        visibility = "hidden"
    return TestMeta(
        id=item.nodeid,
        number=number,
        name=str(name),
        points=points,
        visibility=visibility,
        hint=hint,
    )


def default_name(function: object, fallback: str) -> str:
    doc = inspect.getdoc(function) if function is not None else None
    if doc:
        return doc.strip().splitlines()[0].rstrip(".")
    base = getattr(function, "__name__", fallback)
    return base.removeprefix("test_").replace("_", " ")


def is_under(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def learner_location(state: _State, exc: BaseException) -> str:
    if state.learner is None:
        return ""
    where = state.learner.location(exc)
    return f"{where}: " if where else ""


def failure_reason(state: _State, call: pytest.CallInfo[None], report: pytest.TestReport) -> str:
    """The short reason a learner reads: the assertion message, not a traceback."""
    excinfo = call.excinfo
    prefix = {"setup": "error while preparing the test: ", "teardown": "error after the test: "}
    lead = prefix.get(report.when, "")
    if excinfo is None:
        return lead + "failed"
    exc = excinfo.value
    if isinstance(exc, pytest.skip.Exception):
        return f"skipped: {exc.msg}" if exc.msg else "skipped"
    if isinstance(exc, pytest.fail.Exception):
        return lead + (exc.msg or "failed")
    where = learner_location(state, exc)
    if isinstance(exc, OSError) and "reading from stdin while output is captured" in str(exc):
        return f"{where}your code waited for input (input() or sys.stdin); tests give it none"
    if isinstance(exc, AssertionError) and not where:
        text = str(exc).strip() or "an assertion failed"
        lines = text.splitlines()
        # pytest appends its own "assert ..." explanation after an author's message; the
        # author's message is the one written for learners, so it wins when there is one.
        explained = next((i for i, ln in enumerate(lines) if ln.startswith("assert ")), None)
        if explained:
            lines = lines[:explained]
        if len(lines) > 12:
            lines = [*lines[:12], "…"]
        return lead + clean_text("\n".join(lines), _REASON_LIMIT)
    message = str(exc).strip().splitlines()
    first = message[0][:500] if message else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return lead + clean_text(f"{where}{text}", _REASON_LIMIT)
