"""The pytest plugin every lab test runs under (``-p labkit.grading.plugin``).

It gives lab tests their vocabulary — ``@lab_test`` points/number/hint/visibility and the fixtures
``learner``, ``partial_credit``, ``lab_seed`` (plus ``fake_llm`` from ``labkit.testing`` when that
module exists) — and, when started by the grader's runner, reports to the parent over the result
channel:

1. at collection: every expected test and its metadata, before any learner code runs; then the
   grader's test files are deleted from disk, so learner code cannot read them;
2. per test: ``start`` (the parent's per-test timer starts), then ``result``.

A test passes only if this plugin itself called the test function recorded at collection and saw
it return; pytest's reports are not trusted alone, because learner code runs in this process and
could patch pytest. The parent still treats everything here as claims to check (see runner.py).

Without the runner (a lab author running ``pytest graders/<id> -p labkit.grading.plugin``), the
same fixtures work against ``labs/<id>`` (or ``--lab-dir``), nothing is guarded, and a points
summary is printed at the end.
"""

from __future__ import annotations

import faulthandler
import importlib
import importlib.util
import inspect
import json
import linecache
import os
import platform
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from labkit.grading import guard, identity, zygote
from labkit.grading.api import MARKER, VISIBILITIES, PartialCredit
from labkit.grading.channel import ChannelWriter
from labkit.grading.failures import LearnerCrash, LearnerTimeout
from labkit.grading.learner import Learner
from labkit.grading.spec import RunSpec, TestMeta, clean_text, judge_warm

_REASON_LIMIT = 1500
_JUDGE_MARGIN = 0.6  # s before the parent's per-test kill: ask the worker's stack, kill, report


@dataclass
class _Record:
    """What the plugin itself observed about one test."""

    meta: TestMeta
    function: Callable[..., Any] | None
    code: CodeType | None
    called: bool = False
    returned: bool = False
    failed_phase: str = ""
    reason: str = ""
    skipped: bool = False
    output: str = ""
    credit: PartialCredit | None = None
    outcome: str = ""
    stuck_at: str = ""
    started: float = 0.0
    blocked_at_start: int = 0


@dataclass
class _State:
    """Per-session plugin state; ``spec`` is None outside a grading run."""

    spec: RunSpec | None
    channel: ChannelWriter | None
    learner_dir: Path
    display_dir: str
    seed: int
    default_timeout: float
    output_limit: int
    hidden_dir: Path | None = None
    judge_warm: list[str] = field(default_factory=list)
    records: dict[str, _Record] = field(default_factory=dict)
    collect_errors: list[str] = field(default_factory=list)
    learner: Learner | None = None

    def send(self, kind: str, **payload: Any) -> None:
        if self.channel is not None:
            self.channel.send(kind, **payload)


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
        f"{MARKER}(points, number, hint, visibility='visible', name=None): a graded lab test",
    )
    spec_fd = config.getoption("labkit_spec_fd")
    if spec_fd is not None:
        state = _runner_state(config, spec_fd)
    else:
        state = _standalone_state(config)
    state.learner = Learner(state.learner_dir, state.display_dir, state.default_timeout)
    config.stash[_KEY] = state
    _STATE_REF["state"] = state
    _start_zygote(config, state)
    if importlib.util.find_spec("labkit.testing") is not None:
        if not config.pluginmanager.has_plugin("labkit.testing"):
            config.pluginmanager.import_plugin("labkit.testing")


def _runner_state(config: pytest.Config, spec_fd: int) -> _State:
    """Read the spec from its one-shot pipe, open the channel, configure (not freeze) the guard."""
    chunks = []
    while True:
        piece = os.read(spec_fd, 65536)
        if not piece:
            break
        chunks.append(piece)
    os.close(spec_fd)
    spec = RunSpec.from_dict(json.loads(b"".join(chunks)))
    channel_fd = config.getoption("labkit_channel_fd")
    if channel_fd is None:
        raise pytest.UsageError("--labkit-channel-fd is required with --labkit-spec-fd")
    guard.configure(guard.GuardConfig.from_json(spec.guard))
    _register_stack_dump(config.getoption("labkit_trace_fd"))
    _not_dumpable()
    # platform.processor() runs `uname -p` once and caches it; SDKs (openai) ask for it, and after
    # the freeze that subprocess would be blocked (harmlessly, but noisily), so ask first.
    platform.processor()
    return _State(
        spec=spec,
        channel=ChannelWriter(channel_fd, spec.token),
        learner_dir=Path(spec.learner_dir),
        display_dir=spec.display_dir,
        seed=spec.seed,
        default_timeout=max(1.0, spec.test_timeout - 1.0),
        output_limit=spec.output_limit,
        hidden_dir=Path(spec.hidden_dir) if spec.hidden_dir else None,
        judge_warm=list(spec.judge_warm),
    )


def _start_zygote(config: pytest.Config, state: _State) -> None:
    """Start importing the SDKs for learner processes now, while pytest collects (zygote.py).

    Not for a collection-only run (nothing of the learner's runs), and not with
    ``LABKIT_NO_ZYGOTE=1`` (every learner process then starts a fresh interpreter, as before)."""
    collect_only = state.spec.collect_only if state.spec is not None else config.option.collectonly
    if collect_only or os.environ.get("LABKIT_NO_ZYGOTE") or not state.learner_dir.is_dir():
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        warm = zygote.start(state.learner_dir, env)
    except OSError:
        return  # learner processes start fresh interpreters instead
    # The judge needs the same SDKs (to check what went over the wire): import them while pytest
    # collects and the zygote boots. A lab's [extra] judge_warm names what else the judge will
    # need (the fake provider's MiniLM: seconds of torch import). The tests wait for it to finish
    # (pytest_runtestloop): two threads importing one package at once can see it half-initialised
    # (mcp.server.mcpserver did, in agent-02).
    thread = threading.Thread(
        target=_warm_judge, args=(warm.preload, state.judge_warm), daemon=True
    )
    thread.start()
    _WARMING.append(thread)


_WARMING: list[threading.Thread] = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first test: let the judge's background imports finish (see _start_zygote)."""
    while _WARMING:
        _WARMING.pop().join(timeout=120)


def _warm_judge(modules: list[str], warmers: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # a broken package fails where the test imports it, with its message
            pass
    if "embedder" in warmers:
        try:
            from labkit.models.embedder import get_embedder

            get_embedder().warm()
        except Exception:  # e.g. the model package is missing: the test that needs it says so
            pass


def _not_dumpable() -> None:
    """Mark the judge non-dumpable: no ptrace, no /proc/<pid>/mem for same-user processes (the
    worker running learner code is one), so its memory (the seed, expected values) stays its own."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def _register_stack_dump(fd: int | None) -> None:
    """On SIGUSR1, write every thread's stack to ``fd``: the runner asks for it just before it
    kills a timed-out test, to tell the learner which line of theirs was running."""
    if fd is None or not hasattr(signal, "SIGUSR1"):
        return
    faulthandler.register(signal.SIGUSR1, file=fd, all_threads=True, chain=False)


def _standalone_state(config: pytest.Config) -> _State:
    """A lab author's pytest run: find the learner folder and seed from the grader folder."""
    lab_dir_opt = config.getoption("lab_dir") or os.environ.get("LABKIT_LAB_DIR")
    grader_dir = _grader_dir_from_args(config)
    seed = config.getoption("lab_seed")
    if lab_dir_opt:
        lab_dir = Path(lab_dir_opt)
    elif grader_dir is not None:
        lab_dir = grader_dir.parent.parent / "labs" / grader_dir.name
    else:
        lab_dir = Path.cwd()
    timeout = 30.0
    warm: list[str] = []
    if grader_dir is not None and (grader_dir / "lab.toml").is_file():
        from labkit.grading.manifest import load_manifest

        manifest = load_manifest(grader_dir / "lab.toml")
        timeout = max(1.0, manifest.limits.test_timeout - 1.0)
        warm = judge_warm(manifest.extra)
        if seed is None:
            seed = manifest.seed
    try:
        display = os.path.relpath(lab_dir)
    except ValueError:
        display = str(lab_dir)
    return _State(
        spec=None,
        channel=None,
        learner_dir=lab_dir.resolve(),
        display_dir=display,
        seed=seed if seed is not None else 0,
        default_timeout=timeout,
        output_limit=4096,
        judge_warm=warm,
    )


def _grader_dir_from_args(config: pytest.Config) -> Path | None:
    for arg in config.args:
        path = Path(arg.split("::", 1)[0]).resolve()
        for candidate in (path, *path.parents):
            if (candidate / "lab.toml").is_file():
                return candidate
    return None


def _state(config: pytest.Config) -> _State:
    return config.stash[_KEY]


# --- collection ----------------------------------------------------------------------------------


def pytest_collectreport(report: pytest.CollectReport) -> None:
    state = _STATE_REF.get("state")
    if report.failed and state is not None:
        state.collect_errors.append(f"{report.nodeid or 'collection'}: {_collect_summary(report)}")


def _collect_summary(report: pytest.CollectReport) -> str:
    """One line a lab author can act on: the exception pytest hit, not its whole report."""
    lines = [ln for ln in (report.longreprtext or "").splitlines() if ln.strip()]
    raised = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    summary = raised[-1] if raised else (lines[-1].strip() if lines else "collection failed")
    if "No module named" in summary:
        summary += " (lab tests reach learner code with learner.import_module() inside a test)"
    return clean_text(summary, 500)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = _state(config)
    numbers: dict[str, str] = {}
    case_index: dict[tuple[str, str], int] = {}
    for item in items:
        meta = _metadata(item, state, case_index)
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
        if _should_run(state, item.nodeid, record):
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _should_run(state: _State, nodeid: str, record: _Record | None) -> bool:
    spec = state.spec
    if spec is None:
        return True
    if spec.collect_only or record is None:
        return False
    if spec.skip_hidden and record.meta.visibility == "hidden":
        return False
    return spec.select is None or nodeid in spec.select


def _metadata(
    item: pytest.Item, state: _State, case_index: dict[tuple[str, str], int]
) -> TestMeta | str:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return f"{item.nodeid}: add @lab_test(points=..., number=..., hint=...) to this test"
    kwargs = dict(marker.kwargs)
    try:
        points = float(kwargs["points"])
        number = str(kwargs["number"])
        hint = str(kwargs["hint"])
    except (KeyError, TypeError, ValueError):
        return f"{item.nodeid}: @lab_test needs points, number and hint"
    visibility = str(kwargs.get("visibility") or "visible")
    if visibility not in VISIBILITIES:
        return f"{item.nodeid}: unknown visibility {visibility!r}"
    function = getattr(item, "function", None)
    name = kwargs.get("name") or _default_name(function, item.name)
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        key = (str(item.path), getattr(item, "originalname", item.name))
        case_index[key] = case_index.get(key, 0) + 1
        number = f"{number}.{case_index[key]}"
        name = f"{name} [{callspec.id}]"
    if state.hidden_dir is not None and _is_under(item.path, state.hidden_dir):
        visibility = "hidden"
    return TestMeta(
        id=item.nodeid,
        number=number,
        name=str(name),
        points=points,
        visibility=visibility,
        hint=hint,
    )


def _default_name(function: object, fallback: str) -> str:
    doc = inspect.getdoc(function) if function is not None else None
    if doc:
        return doc.strip().splitlines()[0].rstrip(".")
    base = getattr(function, "__name__", fallback)
    return base.removeprefix("test_").replace("_", " ")


def _is_under(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    state = _STATE_REF.get("state")
    if state is None:
        return
    record = state.records.get(nodeid)
    if record is None:
        return
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
        where = _learner_location(state, exc)
        pytest.fail(
            f"{where}your code called sys.exit({exc.code!r}) during the test", pytrace=False
        )
    except KeyboardInterrupt:
        pytest.fail("your code raised KeyboardInterrupt during the test", pytrace=False)
    except pytest.exit.Exception:
        pytest.fail("your code called pytest.exit() during the test", pytrace=False)
    record.returned = True
    return True


def _learner_location(state: _State, exc: BaseException) -> str:
    if state.learner is None:
        return ""
    where = state.learner.location(exc)
    return f"{where}: " if where else ""


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
    record.reason = _reason(state, call, report)
    return report


def _reason(state: _State, call: pytest.CallInfo[None], report: pytest.TestReport) -> str:
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
    where = _learner_location(state, exc)
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


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    state = _STATE_REF.get("state")
    if state is None:
        return
    record = state.records.get(nodeid)
    if record is None:
        return
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
