"""One grading child from start to verdict: the message loop that watches it, and its outcomes.

The parent side of the result channel: it accepts ``collected``/``start``/``result``/``done``
messages only in sequence, times each test from its ``start``, kills the process group on a
timeout, a deadline or tampering, and turns the way the child ended into outcomes. The process
itself (folder, argv, environment, rlimits) is :mod:`labkit.grading.child`; the session that
starts attempts until every expected test has an outcome is :mod:`labkit.grading.runner`.
"""

from __future__ import annotations

import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from labkit.grading import identity, zygote
from labkit.grading.channel import ChannelReader, Message
from labkit.grading.child import (
    ACTIVE,
    apply_limits,
    child_argv,
    child_env,
    grading_root,
    preexec_limits,
    prepare_folder,
    share_with_learner,
    write_spec,
)
from labkit.grading.guard import GuardConfig
from labkit.grading.outcomes import GradingError, Kind, TestOutcome
from labkit.grading.postmortem import ended, innermost_frame, read_dump
from labkit.grading.spec import RunSpec, TestMeta, clean_text, judge_warm, worker_warm

if TYPE_CHECKING:
    from labkit.grading.runner import Session

_COLLECT_TIMEOUT = 120.0  # collecting imports test modules (maybe torch); generous but bounded
_EXIT_GRACE = 2.0  # after "done", how long a child may take to exit before it is killed
_TAIL_BYTES = 8192
_TRACE_BYTES = 65536  # a faulthandler dump of every thread, asked for just before a timeout kill
_TRACE_WAIT = 1.0  # how long the parent waits for that dump before killing anyway


class Attempt:
    """One grading child: its folder, process, pipes and the message loop."""

    def __init__(self, session: Session, select: list[str] | None) -> None:
        self.s = session
        self.select = select
        self.token = secrets.token_hex(16)
        self.dir = Path(tempfile.mkdtemp(prefix="run-", dir=session.base))
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader = ChannelReader(self.token)
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.current: str | None = None
        self.current_deadline = 0.0
        self.accepted: list[str] = []
        self.done = False
        self.killed_for: str | None = None
        self.selected: set[str] | None = None
        self.reader_seen_collected = False
        self.trace_fd: int | None = None
        self.zygote_fd: int | None = None
        self.trace = bytearray()
        # the learner's own user for this run (root graders only; see grading/identity.py); a
        # pool of zygotes chose one for all its runs
        pool = session.opts.zygotes
        self.ids, self.ids_problem = (
            (pool.ids, pool.ids_problem) if pool else identity.choose(session.opts.python)
        )

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- process ----------------------------------------------------------------------------------

    def run(self) -> bool:
        s = self.s
        lab, tests, hidden, ini = prepare_folder(
            self.dir, s.files, s.manifest.grader_dir, s.opts.hidden_tests
        )
        if self.ids is not None:
            share_with_learner(self.dir, s.base, self.ids, lab, tests, hidden)
        spec_r, spec_w = os.pipe()
        chan_r, chan_w = os.pipe()
        trace_r, trace_w = os.pipe()  # faulthandler's stack dump, asked for before a timeout kill
        self.trace_fd = trace_r
        argv = child_argv(s.opts.python, self.dir, ini, tests, hidden, (spec_r, chan_w, trace_w))
        env = child_env(self.dir, s.opts.python, s.opts.repo_root, self.ids)
        pooled = self._pooled_zygote(lab, env)
        self.zygote_fd = pooled.fileno() if pooled is not None else None
        try:
            self.proc = subprocess.Popen(
                argv,
                cwd=lab,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(spec_r, chan_w, trace_w, *([pooled.fileno()] if pooled else [])),
                close_fds=True,
                start_new_session=True,
                preexec_fn=preexec_limits(s.manifest),
            )
        except BaseException:
            os.close(trace_r)
            raise
        finally:
            os.close(spec_r)
            os.close(chan_w)
            os.close(trace_w)
            if pooled is not None:
                pooled.close()  # the judge holds its own copy now
        ACTIVE.add(self.proc.pid)
        apply_limits(self.proc.pid, s.manifest)
        write_spec(spec_w, self._spec(lab, tests, hidden))
        try:
            self._loop(chan_r)
        except BaseException:  # Ctrl-C, or a broken grader: take the child down right away
            self._kill("interrupted")
            raise
        finally:
            os.close(chan_r)
            self._reap()
            os.close(trace_r)
        return self._settle()

    def _pooled_zygote(self, lab: Path, env: dict[str, str]) -> socket.socket | None:
        """This run's channel to the pool's zygote for the lab, when grading with a pool."""
        pool = self.s.opts.zygotes
        if pool is None or self.s.opts.collect_only or os.environ.get("LABKIT_NO_ZYGOTE"):
            return None
        preload = zygote.preload_list(lab, worker_warm(self.s.manifest.extra))
        try:
            return pool.connect(
                self.s.manifest.id, preload, env, lambda pid: apply_limits(pid, self.s.manifest)
            )
        except OSError:
            return None  # the judge starts a zygote of its own, as without a pool

    def _spec(self, lab: Path, tests: Path, hidden: Path | None) -> RunSpec:
        """The run spec (with the guard's configuration) this attempt's child reads first."""
        protected = [
            self.s.manifest.grader_dir,
            grading_root(),  # every grading folder on this machine but this run's own
            self.s.base,
            *([self.s.opts.hidden_tests] if self.s.opts.hidden_tests else []),
            *self.s.opts.protected,
        ]
        guard = GuardConfig(
            work_dir=str(self.dir),
            # the system temp folder too: some libraries write there whatever TMPDIR says
            write_roots=(tempfile.gettempdir(),),
            protected_roots=tuple(str(Path(p).resolve()) for p in protected),
            learner_dir=str(lab),
            display_dir=self.s.display,
        )
        return RunSpec(
            token=self.token,
            lab_id=self.s.manifest.id,
            learner_dir=str(lab),
            display_dir=self.s.display,
            tests_dir=str(tests),
            seed=self.s.seed,
            test_timeout=self.s.limits.test_timeout,
            output_limit=self.s.limits.output_kb * 1024,
            guard=guard.to_json(),
            hidden_dir=str(hidden) if hidden else None,
            select=self.select,
            skip_hidden=self.s.opts.mode == "learner",
            collect_only=self.s.opts.collect_only,
            first_failure=self.s.opts.first_failure,
            run_first=list(self.s.opts.run_first),
            delete_after_collection=[str(tests), *([str(hidden)] if hidden else [])],
            judge_warm=judge_warm(self.s.manifest.extra),
            worker_warm=worker_warm(self.s.manifest.extra),
            zygote_fd=self.zygote_fd,
        )

    # -- message loop -----------------------------------------------------------------------------

    def _loop(self, chan_r: int) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        out_fd = self.proc.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(chan_r, selectors.EVENT_READ, "chan")
        selector.register(out_fd, selectors.EVENT_READ, "out")
        assert self.trace_fd is not None
        selector.register(self.trace_fd, selectors.EVENT_READ, "trace")
        collect_deadline = time.monotonic() + min(_COLLECT_TIMEOUT, self.s.limits.run_timeout)
        try:
            while True:
                now = time.monotonic()
                due = self.s.deadline
                if not self.reader_seen_collected:
                    due = min(due, collect_deadline)
                if self.current is not None:
                    due = min(due, self.current_deadline)
                if now >= due:
                    self._on_deadline(now)
                    return
                events = selector.select(timeout=min(due - now, 1.0))
                for key, _ in events:
                    data = os.read(key.fd, 65536)
                    if key.data == "out":
                        if not data:
                            selector.unregister(out_fd)
                        else:
                            self._keep_tail(data)
                        continue
                    if key.data == "trace":
                        if not data:
                            selector.unregister(key.fd)
                        elif len(self.trace) < _TRACE_BYTES:
                            self.trace += data
                        continue
                    if not data:  # the child closed the channel: it exited (or cut it)
                        return
                    for message in self.reader.feed(data):
                        self._handle(message)
                        if self.killed_for:
                            return
                    if self.reader.out_of_sequence:
                        self._tamper("a message on the result channel was out of sequence")
                        return
                if self.done:
                    # Every result is in; nothing the child does while exiting can change them,
                    # so do not wait for its interpreter shutdown.
                    self._kill("done")
                    return
        finally:
            selector.close()
            self.s.stray += self.reader.stray

    def _on_deadline(self, now: float) -> None:
        if self.current is not None and now >= self.current_deadline:
            self._dump_stack()
            self._kill("timeout")
        elif now >= self.s.deadline:
            self._kill("deadline")
        else:
            self._kill("collect-timeout")

    def _handle(self, message: Message) -> None:
        kind, data = message.kind, message.data
        if kind == "collected":
            self._on_collected(data)
        elif kind == "start":
            test_id = data.get("id")
            allowed = self.selected if self.selected is not None else set()
            if (
                self.current is not None
                or not isinstance(test_id, str)
                or test_id not in allowed
                or test_id in self.s.outcomes
            ):
                self._tamper(f"unexpected start of {test_id!r}")
                return
            self.current = test_id
            self.current_deadline = time.monotonic() + self.s.limits.test_timeout
        elif kind == "result":
            test_id = data.get("id")
            if test_id is None or test_id != self.current:
                self._tamper(f"a result for {test_id!r} arrived while {self.current!r} was running")
                return
            self._on_result(test_id, data)
            self.current = None
        elif kind == "done":
            self.done = True

    def _on_collected(self, data: dict[str, object]) -> None:
        if self.reader_seen_collected:
            self._tamper("the test list was announced twice")
            return
        self.reader_seen_collected = True
        errors = data.get("errors")
        if errors:
            self._kill("collect-error")
            items = errors if isinstance(errors, list) else [errors]
            lines = [self._rewrite(str(e).strip().splitlines()[0]) for e in items if str(e).strip()]
            detail = "; ".join(lines[:3]) or "unknown error"
            raise GradingError(f"the grader's tests for {self.s.manifest.id} are broken: {detail}")
        raw = data.get("tests")
        if not isinstance(raw, list):
            raise GradingError("the grading process sent a malformed test list")
        announced = [TestMeta.from_dict(t) for t in raw]
        ids = [m.id for m in announced]
        if self.s.announced is None:
            self.s.announced = ids
        elif ids != self.s.announced:
            self.s.notes.append("the grader announced a different test list on a restart")
        if self.s.expected is None:
            if not announced:
                raise GradingError(f"the grader for {self.s.manifest.id} has no tests")
            self.s.expected = announced
        wanted = {m.id for m in self.s.to_run()} - set(self.s.outcomes)
        if self.select is not None:
            wanted &= set(self.select)
        selected = data.get("selected")
        chosen = {str(x) for x in selected} if isinstance(selected, list) else set()
        self.selected = chosen & wanted

    def _on_result(self, test_id: str, data: dict[str, object]) -> None:
        assert self.s.expected is not None
        meta = next(m for m in self.s.expected if m.id == test_id)
        passed = data.get("passed") is True
        try:
            claimed = float(data.get("score") or 0.0)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            claimed = 0.0
        score = meta.points if passed else min(meta.points, max(0.0, claimed))
        limit = self.s.limits.output_kb * 1024
        blocked_raw = data.get("blocked")
        blocked = (
            [clean_text(self._rewrite(str(b)), 300) for b in blocked_raw][:10]
            if isinstance(blocked_raw, list)
            else []
        )
        duration = data.get("duration")
        # The judge may say a failure was a timeout or a crash of the worker (a claim that only
        # names the kind of a failure; it cannot turn one into a pass).
        claimed_kind = data.get("outcome")
        kind: Kind = "passed" if passed else "failed"
        if not passed and claimed_kind in ("timeout", "crash"):
            kind = "timeout" if claimed_kind == "timeout" else "crash"
        self.s.outcomes[test_id] = TestOutcome(
            meta=meta,
            kind=kind,
            score=round(score, 6),
            reason=clean_text(self._rewrite(str(data.get("reason") or "")), 2000),
            output=clean_text(self._rewrite(str(data.get("output") or "")), limit),
            blocked=blocked,
            duration=float(duration) if isinstance(duration, int | float) else 0.0,
        )
        self.accepted.append(test_id)
        if kind == "timeout":
            # The judge stopped the worker itself and says where learner code was stuck.
            where = clean_text(self._rewrite(str(data.get("stuck_at") or "")), 300)
            self.s.note_timeout(meta.number, where)
            if self.s.stop_reason:  # the same loop twice in a row: end this attempt now
                self._kill("stopped")
        else:
            self.s.stuck = []  # a test that finished breaks a run of stuck ones

    def _dump_stack(self) -> None:
        """Ask the child (SIGUSR1, faulthandler in the plugin) where it is stuck, before the kill."""
        if self.proc is None or self.trace_fd is None or not hasattr(signal, "SIGUSR1"):
            return
        try:
            os.kill(self.proc.pid, signal.SIGUSR1)
        except (ProcessLookupError, PermissionError):
            return
        self.trace = bytearray(read_dump(self.trace_fd, _TRACE_WAIT, _TRACE_BYTES))

    def _stuck_at(self) -> str:
        """The innermost learner frame of the stack dump: "labs/x/foo.py line 7 (in f)", or ""."""
        return innermost_frame(bytes(self.trace), self.dir / "lab", self.s.display)

    def _tamper(self, what: str) -> None:
        """Someone other than the plugin wrote with the token: distrust this whole attempt."""
        self.s.notes.append(f"result channel tampering detected: {what}")
        reason = "failed: the grading process's results were tampered with during this run"
        assert self.s.expected is not None or not self.accepted
        for test_id in self.accepted:
            outcome = self.s.outcomes[test_id]
            self.s.outcomes[test_id] = TestOutcome(outcome.meta, "tamper", 0.0, reason)
        if self.current is not None and self.s.expected is not None:
            meta = next(m for m in self.s.expected if m.id == self.current)
            self.s.outcomes[self.current] = TestOutcome(meta, "tamper", 0.0, reason)
            self.current = None
        self._kill("tamper")

    def _rewrite(self, text: str) -> str:
        """Show the learner's folder as they know it, never as this run's temporary copy (which
        also differs between runs, and results must not)."""
        lab = str(self.dir / "lab")
        text = text.replace(lab + os.sep, self.s.display + "/").replace(lab, self.s.display)
        text = text.replace(str(self.dir), "<grading folder>")
        text = text.replace(str(self.s.base), "<grader's temp folder>")
        return text.replace(str(grading_root()), "<grader's temp folder>")

    def _keep_tail(self, data: bytes) -> None:
        self.tail.append(data)
        self.tail_size += len(data)
        while self.tail_size > _TAIL_BYTES and len(self.tail) > 1:
            self.tail_size -= len(self.tail.popleft())

    def _kill(self, why: str) -> None:
        self.killed_for = self.killed_for or why
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _reap(self) -> None:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=_EXIT_GRACE)
        except subprocess.TimeoutExpired:
            self._kill(self.killed_for or "exit-grace")
            self.proc.wait()
        # Anything the child left behind in its group (it cannot create processes, but be sure).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        ACTIVE.discard(self.proc.pid)
        if self.proc.stdout is not None:
            try:
                os.set_blocking(self.proc.stdout.fileno(), False)
                while chunk := os.read(self.proc.stdout.fileno(), 65536):
                    self._keep_tail(chunk)
            except (BlockingIOError, OSError):
                pass
            self.proc.stdout.close()

    # -- verdicts ---------------------------------------------------------------------------------

    def _settle(self) -> bool:
        """Turn the way the child ended into outcomes for the test it was running."""
        progressed = bool(self.accepted)
        why = self.killed_for
        if not self.reader_seen_collected:
            if self.s.opts.collect_only and self.s.expected is not None:
                return True
            if self.s.expected is not None:
                # A restart that died (or hit the run deadline) before collecting: the expected
                # tests are already known, so the session fails what is left, with this reason.
                self.s.last_failure = f"{self._exit_text()}: {self._tail_text(200) or 'no output'}"
                return False
            if why == "collect-timeout":
                raise GradingError(
                    f"collecting the tests of {self.s.manifest.id} took longer than "
                    f"{min(_COLLECT_TIMEOUT, self.s.limits.run_timeout):g} s"
                )
            raise GradingError(
                f"the grading process for {self.s.manifest.id} stopped before listing its tests "
                f"({self._exit_text()}): {self._tail_text(300) or 'no output'}"
            )
        assert self.s.expected is not None
        if self.current is not None:
            meta = next(m for m in self.s.expected if m.id == self.current)
            if why == "timeout":
                limit = self.s.limits.test_timeout
                where = self._stuck_at()
                detail = (
                    f"; it was stuck at {where} (an endless loop, or much slower than it should be?)"
                    if where
                    else " (an endless loop, or much slower than it should be?)"
                )
                outcome = TestOutcome(
                    meta,
                    "timeout",
                    0.0,
                    f"timeout: the test did not finish within {limit:g} s{detail}",
                )
                self.s.note_timeout(meta.number, where)
            elif why == "deadline":
                outcome = TestOutcome(meta, "deadline", 0.0, self.s.deadline_reason())
            else:
                outcome = TestOutcome(meta, "crash", 0.0, self._crash_reason())
            self.s.outcomes[self.current] = outcome
            self.current = None
            progressed = True
        return progressed

    def _exit_text(self) -> str:
        return ended(self.proc.returncode if self.proc is not None else None)

    def _tail_text(self, limit: int) -> str:
        text = self._rewrite(b"".join(self.tail).decode("utf-8", "replace").strip())
        lines = [ln for ln in text.splitlines() if ln.strip()][-3:]
        return clean_text(" | ".join(lines), limit)

    def _crash_reason(self) -> str:
        code = self.proc.returncode if self.proc is not None else None
        if code == -signal.SIGKILL and self.killed_for is None:
            what = "the grading process was killed (out of memory?)"
        elif code is not None and code < 0:
            what = f"the grading process was {self._exit_text()}"
        else:
            what = f"the grading process exited during this test ({self._exit_text()})"
        tail = self._tail_text(240)
        return f"crash: {what}" + (f"; last output: {tail}" if tail else "")
