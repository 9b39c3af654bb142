"""Project-wide test setup: the shared fixtures (``fake_llm`` ...) come from labkit.testing."""

import signal

import pytest

pytest_plugins = ["labkit.testing"]

# A shell starts a background job (`cmd &`, as a CI runner may) with SIGINT ignored, and children
# inherit that: the Ctrl-C tests' `labkit serve` / `labkit watch` would then never see their
# SIGINT. Give the suite, and so every process it starts, Python's usual Ctrl-C.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _not_under_make(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test` exports MAKELEVEL, and the learner-facing messages name `make` commands when it
    is set (`make hint LAB=x` instead of `labkit hint x`): every test starts as if typed in a
    shell, whether the suite runs under make (CI) or not; a test that wants make sets it."""
    monkeypatch.delenv("MAKELEVEL", raising=False)
