"""One error type for problems a person must fix (bad input, missing setup, busy port), and
where in a learner's files an error was raised.

The CLI prints these as a single line — what went wrong and what to do — never as a traceback;
:func:`raised_in` finds the file, line and function that line names.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path


class LabkitError(Exception):
    """A user-facing problem, described in one line that says what to do next."""


class ConfigError(LabkitError):
    """The provider configuration is incomplete or contradictory (e.g. a missing API key)."""


class ProviderNotRunning(SystemExit):
    """Nothing listens where the fake provider should be (``make serve`` is not running).

    A ``SystemExit`` on purpose: it is a setup problem, not a provider failure a lab should
    handle, and an uncaught one prints just its one-line message (no 80-line SDK traceback).
    The message is also ``str(exc)``, so code that catches it can show it.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        message = (
            f"labkit: nothing listens at {url} (the fake provider): start it with `make serve` "
            "in another terminal, or set LABKIT_BASE_URL to where it runs"
        )
        super().__init__(message)


@dataclass(frozen=True)
class Place:
    """A line of code: its file, line number and function (qualified: ``"Searcher.search"``)."""

    file: Path
    line: int
    function: str


def raised_in(exc: BaseException, folder: Path | None = None) -> Place | None:
    """Where ``exc`` was raised in the code under ``folder``: the innermost frame of its traceback
    whose file is there (the learner's stub or bug, not the library it called on the way), or
    None. Without ``folder``, the innermost frame of all."""
    base = folder.resolve() if folder is not None else None
    found: Place | None = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        code = frame.f_code
        if base is not None:
            try:
                if not Path(code.co_filename).resolve().is_relative_to(base):
                    continue
            except OSError:
                continue
        found = Place(Path(code.co_filename), line, code.co_qualname)
    return found
