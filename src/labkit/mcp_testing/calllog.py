"""A server-side call log and per-tool fault schedules for any ``MCPServer``.

:func:`instrument` appends one middleware to a server. Every ``tools/call`` that reaches the
server is recorded (:class:`ToolCallRecord`) — so a test checks what the agent really did, never
what it says it did — and, when a fault is scheduled for that tool, the fault happens instead of
(or before) the real call::

    log, faults = instrument(server)
    faults.fail("search_kb", times=2)        # the next 2 calls return is_error results
    faults.slow("query_shop", seconds=0.5)   # the next call answers 0.5 s late
    faults.malformed("search_kb")            # the next call returns text, no structured content
    faults.returns("search_kb", {...})       # the next call returns this structured content
    ...
    [c.tool for c in log.calls()]            # what reached the server, in order

Faults for one tool are consumed in the order they were scheduled, one per call.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FaultKind = Literal["fail", "slow", "malformed", "returns"]
Outcome = Literal["ok", "error", "fail", "slow", "malformed", "returns", "cancelled"]
FAIL_MESSAGE = "the service is temporarily unavailable, try again"


@dataclass(frozen=True)
class Fault:
    """One scheduled misbehaviour of a tool (see the module doc)."""

    kind: FaultKind
    seconds: float = 0.0
    message: str = FAIL_MESSAGE
    payload: Any = None


@dataclass(frozen=True)
class ToolCallRecord:
    """One ``tools/call`` as the server saw it.

    ``started``/``ended`` are ``time.monotonic()`` values (the test's clock, same process);
    ``outcome`` is ``ok``, ``error`` (the tool itself returned/raised an error), the kind of
    fault injected, or ``cancelled`` (the client gave up while the call was running).
    """

    seq: int
    tool: str
    arguments: dict[str, Any]
    started: float
    ended: float
    outcome: Outcome
    is_error: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (what crosses a process boundary): every field, by name, so a
        field added later crosses too; ``arguments`` is a copy, not the record's own dict."""
        return asdict(self)


class CallLog:
    """Thread-safe list of :class:`ToolCallRecord` (an HTTP server appends from its thread)."""

    def __init__(self) -> None:
        self._records: list[ToolCallRecord] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._running = 0

    def _begin(self) -> None:
        with self._lock:
            self._running += 1

    def _add(self, *, running: bool = False, **fields: Any) -> None:
        with self._lock:
            self._records.append(ToolCallRecord(seq=len(self._records) + 1, **fields))
            if running:
                self._running = max(0, self._running - 1)
            self._changed.notify_all()

    @property
    def running(self) -> int:
        """Calls the server has started and not finished yet."""
        with self._lock:
            return self._running

    def wait_idle(self, timeout: float = 5.0, at_least: int = 0) -> bool:
        """Wait until no call is running and at least ``at_least`` are recorded; False on timeout.

        Over HTTP a call the client gave up on (a timeout) keeps running on the server and is
        recorded when it ends, after the client has moved on: wait for it before counting.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._running or len(self._records) < at_least:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def calls(self, tool: str | None = None) -> list[ToolCallRecord]:
        """Every recorded call (of ``tool`` only, when given), oldest first."""
        with self._lock:
            return [r for r in self._records if tool is None or r.tool == tool]

    def tools(self) -> list[str]:
        """The names of the tools called, in order (one per call)."""
        return [r.tool for r in self.calls()]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._running = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


@dataclass
class FaultSchedule:
    """Per-tool FIFO of :class:`Fault` (see the module doc)."""

    _queues: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, tool: str, fault: Fault, times: int = 1) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queues[tool].extend([fault] * times)

    def fail(self, tool: str, times: int = 1, message: str = FAIL_MESSAGE) -> None:
        """The next ``times`` calls of ``tool`` return an ``is_error`` result with ``message``."""
        self.add(tool, Fault("fail", message=message), times)

    def slow(self, tool: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` calls of ``tool`` wait ``seconds`` before running (a client with a
        shorter timeout sees a timeout)."""
        self.add(tool, Fault("slow", seconds=seconds), times)

    def malformed(self, tool: str, times: int = 1) -> None:
        """The next ``times`` calls return non-JSON text and no structured content: a tool with
        an output schema then fails the client's validation (the SDK raises)."""
        self.add(tool, Fault("malformed"), times)

    def returns(self, tool: str, payload: dict[str, Any], times: int = 1) -> None:
        """The next ``times`` calls return ``payload`` as their structured content (and as JSON
        text) instead of running: e.g. a search result carrying a prompt injection."""
        self.add(tool, Fault("returns", payload=payload), times)

    def take(self, tool: str) -> Fault | None:
        with self._lock:
            queue = self._queues.get(tool)
            return queue.popleft() if queue else None

    def pending(self) -> dict[str, list[Fault]]:
        """Faults not consumed yet, by tool."""
        with self._lock:
            return {tool: list(q) for tool, q in self._queues.items() if q}

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()


def instrument(
    server: Any, log: CallLog | None = None, faults: FaultSchedule | None = None
) -> tuple[CallLog, FaultSchedule]:
    """Add the recording / fault-injecting middleware to ``server`` (an ``MCPServer``).

    It is appended last, so it runs innermost — after the SDK's own middleware, right around the
    tool call — and sees calls from every transport (in-memory, streamable HTTP, stdio).
    """
    import anyio
    from mcp.types import CallToolResult, TextContent

    log = log if log is not None else CallLog()
    faults = faults if faults is not None else FaultSchedule()

    def text_result(text: str, *, is_error: bool, structured: Any = None) -> CallToolResult:
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content=structured,
            is_error=is_error,
        )

    async def middleware(ctx: Any, call_next: Any) -> Any:
        if ctx.method != "tools/call" or ctx.request_id is None:
            return await call_next(ctx)
        params = ctx.params if isinstance(ctx.params, dict) else {}
        tool = str(params.get("name", ""))
        arguments = params.get("arguments") or {}
        started = time.monotonic()
        outcome: Outcome = "cancelled"
        is_error = False
        log._begin()
        try:
            fault = faults.take(tool)
            if fault is not None and fault.kind == "fail":
                outcome, is_error = "fail", True
                return text_result(fault.message, is_error=True)
            if fault is not None and fault.kind == "malformed":
                outcome = "malformed"
                return text_result("<<not json: the tool crashed half-way>>", is_error=False)
            if fault is not None and fault.kind == "returns":
                outcome = "returns"
                return text_result(
                    json.dumps(fault.payload), is_error=False, structured=fault.payload
                )
            if fault is not None and fault.kind == "slow":
                await anyio.sleep(fault.seconds)
            result = await call_next(ctx)
            is_error = bool(
                getattr(result, "is_error", False)
                or (isinstance(result, dict) and (result.get("isError") or result.get("is_error")))
            )
            outcome = "slow" if fault is not None else ("error" if is_error else "ok")
            return result
        except Exception:
            outcome, is_error = "error", True
            raise
        except BaseException:  # cancelled: the client gave up (a timeout) while it ran
            is_error = True
            raise
        finally:
            log._add(
                running=True,
                tool=tool,
                arguments=dict(arguments) if isinstance(arguments, dict) else {"_raw": arguments},
                started=started,
                ended=time.monotonic(),
                outcome=outcome,
                is_error=is_error,
            )

    server.middleware.append(middleware)
    return log, faults
