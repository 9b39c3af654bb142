"""One error type for problems a person must fix (bad input, missing setup, busy port).

The CLI prints these as a single line — what went wrong and what to do — never as a traceback.
"""

from __future__ import annotations


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
