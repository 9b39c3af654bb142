"""The pytest plugin every lab test runs under (``-p labkit.grading.plugin``).

It gives lab tests their vocabulary — ``@lab_test`` points/number/visibility, each test's hint
from the ``hints.toml`` beside it, and the fixtures ``learner``, ``partial_credit``, ``lab_seed``
(plus ``fake_llm`` from ``labkit.testing`` when that module exists) — and, when started by the
grader's runner, reports to the parent over the result channel:

1. at collection: every expected test and its metadata, before any learner code runs; then the
   grader's test files are deleted from disk, so learner code cannot read them;
2. per test: ``start`` (the parent's per-test timer starts), then ``result``.

A test passes only if this plugin itself called the test function recorded at collection and saw
it return; pytest's reports are not trusted alone, because learner code runs in this process and
could patch pytest. The parent still treats everything here as claims to check (see attempt.py).

The hooks and fixtures live here (pytest registers them from this module); the session state and
its set-up are :mod:`.plugin_state`, test metadata and failure reasons :mod:`.plugin_text`.

Without the runner (a lab author running ``pytest graders/<id> -p labkit.grading.plugin``), the
same fixtures work against ``labs/<id>`` (or ``--lab-dir``), nothing is guarded, and a points
summary is printed at the end.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import linecache
import os
import shutil
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from labkit.grading import guard, identity, zygote
from labkit.grading.api import MARKER, PartialCredit
from labkit.grading.failures import LearnerCrash, LearnerTimeout
from labkit.grading.learner import Learner
from labkit.grading.plugin_state import (
    WARMING,
    _Record,
    _State,
    runner_state,
    standalone_state,
    start_zygote,
)
from labkit.grading.plugin_text import (
    collect_summary,
    failure_reason,
    lab_test_meta,
    learner_location,
    should_run,
)
from labkit.grading.spec import clean_text

_JUDGE_MARGIN = 0.6  # s before the parent's per-test kill: ask the worker's stack, kill, report


_KEY = pytest.StashKey[_State]()
# Hooks that receive no config (collectreport, logstart, logfinish) find the state here.
_STATE_REF: dict[str, _State] = {}


# --- configuration -------------------------------------------------------------------------------


_RUNNER_ONLY = "set by the labkit grader's runner (not for people)"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("labkit", "labkit grading")
    group.addoption("--labkit-spec-fd", type=int, default=None, help=_RUNNER_ONLY)
    group.addoption("--labkit-channel-fd", type=int, default=None, help=_RUNNER_ONLY)
    group.addoption("--labkit-trace-fd", type=int, default=None, help=_RUNNER_ONLY)
    group.addoption(
        "--lab-dir", default=None, help="folder with the learner's files (default: labs/<id>)"
    )
    group.addoption("--lab-seed", type=int, default=None, help="seed for the lab_seed fixture")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(points, number, visibility='visible', name=None): a graded lab test",
    )
    spec_fd = config.getoption("labkit_spec_fd")
    if spec_fd is not None:
        state = runner_state(config, spec_fd)
        if state.spec is not None and state.spec.first_failure:
            config.option.maxfail = 1  # pytest's own -x: the session stops after this test
    else:
        state = standalone_state(config)
    state.learner = Learner(state.learner_dir, state.display_dir, state.default_timeout)
    config.stash[_KEY] = state
    _STATE_REF["state"] = state
    start_zygote(config, state)
    if importlib.util.find_spec("labkit.testing") is not None:
        if not config.pluginmanager.has_plugin("labkit.testing"):
            config.pluginmanager.import_plugin("labkit.testing")


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first test: let the judge's background imports finish (see start_zygote)."""
    while WARMING:
        WARMING.pop().join(timeout=120)


def _state(config: pytest.Config) -> _State:
    return config.stash[_KEY]


# --- collection ----------------------------------------------------------------------------------


def pytest_collectreport(report: pytest.CollectReport) -> None:
    state = _STATE_REF.get("state")
    if report.failed and state is not None:
        state.collect_errors.append(f"{report.nodeid or 'collection'}: {collect_summary(report)}")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = _state(config)
    numbers: dict[str, str] = {}
    case_index: dict[tuple[str, str], int] = {}
    for item in items:
        meta = lab_test_meta(item, state, case_index)
        if isinstance(meta, str):
            state.collect_errors.append(meta)
            continue
        if meta.number in numbers:
            state.collect_errors.append(
                f"{item.nodeid}: number {meta.number} is already used by {numbers[meta.number]}"
            )
            continue
        numbers[meta.number] = item.nodeid
        function = getattr(item, "function", None)
        state.records[item.nodeid] = _Record(
            meta=meta, function=function, code=getattr(function, "__code__", None)
        )
    if state.spec is None and state.collect_errors:
        raise pytest.UsageError("; ".join(state.collect_errors))
    keep, drop = [], []
    for item in items:
        record = state.records.get(item.nodeid)
        if should_run(state, item.nodeid, record):
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    first = state.spec.run_first if state.spec is not None else []
    if first:
        # a stable sort: the named tests first, in the order given, then the rest as they were
        rank = {name: i for i, name in enumerate(first)}
        items.sort(key=lambda item: rank.get(getattr(item, "originalname", item.name), len(rank)))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Check no learner code ran, delete the grader's files, then announce the expected tests."""
    state = _state(session.config)
    spec = state.spec
    if spec is None:
        return
    learner_dir = str(state.learner_dir.resolve())
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if origin and os.path.realpath(origin).startswith(learner_dir + os.sep):
            state.collect_errors.append(
                f"the grader's tests imported learner module {name!r} while being collected; "
                "use learner.import_module() inside the test"
            )
    for target in spec.delete_after_collection:
        shutil.rmtree(target, ignore_errors=True)
        if os.path.exists(target):
            state.collect_errors.append(f"could not delete {target} before running learner code")
    linecache.clearcache()
    state.send(
        "collected",
        tests=[r.meta.to_dict() for r in state.records.values()],
        errors=state.collect_errors,
        selected=[item.nodeid for item in session.items],
    )


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def learner(request: pytest.FixtureRequest) -> Learner:
    """The folder being graded: ``.path``, ``.import_module(name)``, ``.run(cli, input=...)``."""
    state = _state(request.config)
    if state.learner is None:
        state.learner = Learner(state.learner_dir, state.display_dir, state.default_timeout)
    return state.learner


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(
    fixturedef: Any, request: pytest.FixtureRequest
) -> Generator[None, Any, None]:
    """Learner code may write in a test's ``tmp_path`` too (its own user, when grading as root)."""
    outcome = yield
    if fixturedef.argname == "tmp_path" and outcome.excinfo is None:
        identity.hand_over(Path(outcome.get_result()))


@pytest.fixture
def private_dir() -> Generator[Path, None, None]:
    """A fresh, writable folder for this test only, that learner code in the worker may use too
    (a plain temporary folder: pytest's ``tmp_path`` links its folders with a symlink, which the
    grading guard refuses). Removed after the test."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="labkit-test-") as folder:
        identity.hand_over(Path(folder))  # the learner's user may write there (grading as root)
        yield Path(folder)


@pytest.fixture(scope="session")
def lab_seed(request: pytest.FixtureRequest) -> int:
    """The lab's seed for generating cases: the default one, or the instructor's secret seed.

    Generate inputs from it (``random.Random(lab_seed)``) so a submission cannot hard-code the
    answers the public tests expect.
    """
    return _state(request.config).seed


@pytest.fixture
def partial_credit(request: pytest.FixtureRequest) -> PartialCredit:
    """Award part of this test's points; a failing test keeps what it was awarded."""
    state = _state(request.config)
    record = state.records.get(request.node.nodeid)
    if record is None:
        raise pytest.UsageError("partial_credit is only available in @lab_test tests")
    record.credit = PartialCredit(record.meta.points)
    return record.credit


@pytest.fixture(scope="session", autouse=True)
def _labkit_session_fixtures(request: pytest.FixtureRequest) -> None:
    """Set up every session-scoped fixture the selected tests use, before any learner code runs.

    A session fixture such as ``fake_llm``'s server registers its port with the guard; doing that
    after the guard froze (at the first learner import) would fail.
    """
    seen: set[str] = {"_labkit_session_fixtures"}
    for item in request.session.items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        for name, defs in info.name2fixturedefs.items():
            if name in seen or not defs:
                continue
            seen.add(name)
            last = defs[-1]
            if last.scope == "session" and not last.params:
                try:
                    request.getfixturevalue(name)
                except Exception:  # reported again, properly, by the test that needs it
                    pass


# --- running -------------------------------------------------------------------------------------


def _record_of(nodeid: str) -> tuple[_State, _Record] | None:
    """The run's state and a test's record, for hooks that get only a node id."""
    state = _STATE_REF.get("state")
    record = state.records.get(nodeid) if state is not None else None
    return None if state is None or record is None else (state, record)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    found = _record_of(nodeid)
    if found is None:
        return
    state, record = found
    record.called = record.returned = record.skipped = False
    record.failed_phase = record.reason = record.output = ""
    record.credit = None
    record.outcome = ""
    record.stuck_at = ""
    record.started = time.monotonic()
    record.blocked_at_start = 0
    if state.learner is not None:
        state.learner.test_deadline = record.started + state.default_timeout
        if state.spec is not None:
            # The judge stops a hung call itself just before the parent's per-test timer would
            # kill the whole judge: it has time to ask the worker where it was stuck and report.
            limit = state.spec.test_timeout
            state.learner.test_deadline = record.started + max(0.5, limit - _JUDGE_MARGIN)
            state.learner.time_limit = limit
    state.send("start", id=nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Call the test function ourselves, so a pass is something this plugin saw happen."""
    state = _state(pyfuncitem.config)
    record = state.records.get(pyfuncitem.nodeid)
    if record is None or record.function is None:
        return None
    function = pyfuncitem.obj
    if getattr(function, "__func__", function) is not record.function or (
        record.code is not None and record.function.__code__ is not record.code
    ):
        pytest.fail("the test function was replaced while grading", pytrace=False)
    if inspect.iscoroutinefunction(function):
        pytest.fail("async lab tests are not supported", pytrace=False)
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    record.called = True
    try:
        function(**kwargs)
    except guard.LearnerExit as exc:
        pytest.fail(f"your code called os._exit({exc.code!r}) during the test", pytrace=False)
    except SystemExit as exc:
        where = learner_location(state, exc)
        pytest.fail(
            f"{where}your code called sys.exit({exc.code!r}) during the test", pytrace=False
        )
    except KeyboardInterrupt:
        pytest.fail("your code raised KeyboardInterrupt during the test", pytrace=False)
    except pytest.exit.Exception:
        pytest.fail("your code called pytest.exit() during the test", pytrace=False)
    record.returned = True
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    state = _state(item.config)
    record = state.records.get(item.nodeid)
    if record is None:
        return report
    if report.when == "teardown":
        parts = [report.capstdout, report.capstderr]
        record.output = "".join(p for p in parts if p)
    if report.passed or record.failed_phase:
        return report
    record.failed_phase = report.when
    record.skipped = bool(report.skipped)
    if call.excinfo is not None and isinstance(call.excinfo.value, LearnerTimeout):
        record.outcome = "timeout"
        record.stuck_at = call.excinfo.value.stuck_at
    elif call.excinfo is not None and isinstance(call.excinfo.value, LearnerCrash):
        record.outcome = "crash"
    record.reason = failure_reason(state, call, report)
    return report


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    found = _record_of(nodeid)
    if found is None:
        return
    state, record = found
    passed = record.called and record.returned and not record.failed_phase
    if record.called and not record.returned and not record.failed_phase:
        record.failed_phase, record.reason = "call", "the test did not finish normally"
    if not record.called and not record.failed_phase:
        record.failed_phase, record.reason = "call", "the test body never ran"
    points = record.meta.points
    credit = record.credit.points if record.credit is not None else 0.0
    score = points if passed else min(points, max(0.0, credit))
    blocked = state.learner.worker.blocked()[:10] if state.learner is not None else []
    state.send(
        "result",
        id=nodeid,
        passed=passed,
        score=round(score, 6),
        reason="" if passed else record.reason,
        output=clean_text(record.output, state.output_limit),
        blocked=blocked,
        outcome="" if passed else record.outcome,
        stuck_at="" if passed else record.stuck_at,
        duration=round(time.monotonic() - record.started, 3),
    )


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = _state(session.config)
    if state.learner is not None:
        state.learner.stop_worker()
    zygote.stop_all()
    state.send("done", exitstatus=int(exitstatus))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Outside the runner: print the points, so a lab author sees what a learner would score."""
    state = _state(config)
    if state.spec is not None or not state.records:
        return
    earned = total = 0.0
    for record in state.records.values():
        total += record.meta.points
        if record.called and record.returned and not record.failed_phase:
            earned += record.meta.points
        elif record.credit is not None:
            earned += min(record.meta.points, record.credit.points)
    terminalreporter.write_line(f"labkit: {earned:g}/{total:g} points ({state.display_dir})")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_KEY, None)
    if state is not None and state.channel is not None:
        state.channel.close()
        state.channel = None
