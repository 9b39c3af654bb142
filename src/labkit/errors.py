"""One error type for problems a person must fix (bad input, missing setup, busy port).

The CLI prints these as a single line — what went wrong and what to do — never as a traceback.
"""

from __future__ import annotations


class LabkitError(Exception):
    """A user-facing problem, described in one line that says what to do next."""


class ConfigError(LabkitError):
    """The provider configuration is incomplete or contradictory (e.g. a missing API key)."""
