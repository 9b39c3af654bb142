"""Shared pytest fixtures for the project's tests and the lab graders (a pytest plugin).

Load it with ``pytest_plugins = ["labkit.testing"]`` (tests/conftest.py does; the grader's plugin
loads it itself). Fixtures:

- ``fake_llm_server`` (session): one :class:`~labkit.fakellm.FakeLLM` per test session, started on
  first use on a free loopback port; before it serves, its port is registered with the grader's
  network guard (``labkit.grading.guard.allow_loopback_port``) when that module exists.
- ``fake_llm`` (function): that server, ``reset()`` before the test (no script, handler or journal
  left over from another test), with ``LABKIT_PROVIDER=fake`` and ``LABKIT_BASE_URL=<its url>``
  set for the test's duration, so ``labkit.config.openai_client()`` / ``anthropic_client()`` and
  any subprocess the test starts talk to it. Changes a test makes to ``behaviours`` or
  ``stream_delay`` are undone after it.
- ``mcp_course_server`` (session, agent-02): one :class:`~labkit.mcp_testing.fixtures.CourseMcp`,
  started before any learner code runs: jsonschema and the knowledge base are warmed (the SDK
  imports jsonschema lazily on the first ``call_tool``: seconds), and it also listens on a loopback
  port for streamable HTTP, that port registered with the grader's network guard.
- ``mcp_course`` (function): that server with a fresh, private copy of the shop database, an
  empty call log and no faults scheduled.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from labkit.fakellm import FakeLLM
    from labkit.mcp_testing.fixtures import CourseMcp

# The fixtures import the fake provider (starlette, pydantic) and the MCP server (mcp) when first
# used, not when the plugin loads: every grading run loads this plugin before its first test, and a
# lab that uses neither (rag-01, rag-03) would wait ~0.15 s for imports it never needs.


def _register_with_guard(port: int) -> None:
    """Tell the grader's network guard that learner code may reach this port (no-op outside a
    grading run, and when the grading package is not there)."""
    try:
        from labkit.grading.guard import allow_loopback_port
    except ImportError:
        return
    allow_loopback_port(port)


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLM]:
    """The session's fake provider (started lazily, stopped at the end of the session).

    While grading (``LABKIT_GRADING``), its ``/__labkit/*`` control endpoints are left out:
    the judge drives it in-process, and learner code, which can reach the provider's port, must
    not rewrite the journal the wire checks read or queue replies.
    """
    from labkit.fakellm import FakeLLM

    grading = bool(os.environ.get("LABKIT_GRADING"))
    fake = FakeLLM(control=not grading).start(on_bound=_register_with_guard)
    try:
        yield fake
    finally:
        fake.stop(grace=0)  # the session is over: no request is left to answer


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    """The fake provider, reset, with the environment pointing ``labkit.config`` at it."""
    fake_llm_server.reset()
    behaviours = list(fake_llm_server.behaviours)
    stream_delay = fake_llm_server.stream_delay
    for name, value in fake_llm_server.env().items():
        monkeypatch.setenv(name, value)
    yield fake_llm_server
    # A test may have changed the shared server's knobs: put them back for the next one.
    fake_llm_server.on(None)
    fake_llm_server.behaviours[:] = behaviours
    fake_llm_server.stream_delay = stream_delay


@pytest.fixture(scope="session")
def mcp_course_server() -> Iterator[CourseMcp]:
    """The session's course server (warmed, also served over HTTP on loopback)."""
    from labkit.mcp_testing.fixtures import CourseMcp, copy_shop

    folder = Path(tempfile.mkdtemp(prefix="labkit-mcp-"))
    course = CourseMcp(copy_shop(folder))
    course.warm()
    course.start_http(on_bound=_register_with_guard)
    try:
        yield course
    finally:
        course.stop(grace=0)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def mcp_course(mcp_course_server: CourseMcp) -> Iterator[CourseMcp]:
    """The course server with a fresh database copy, an empty call log and no faults."""
    from labkit.mcp_testing.fixtures import copy_shop

    with tempfile.TemporaryDirectory(prefix="labkit-mcp-") as folder:
        mcp_course_server.reset(copy_shop(folder))
        yield mcp_course_server
        mcp_course_server.settle()  # a late call must not land in the next test's log
        mcp_course_server.faults.clear()
