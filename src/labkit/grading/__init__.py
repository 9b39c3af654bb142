"""Grading: lab manifests, the pytest plugin lab tests run under, the sandboxed runner, reports.

Lab test authors need only this import::

    from labkit.grading import lab_test, assert_same

and the fixtures ``learner``, ``partial_credit``, ``lab_seed`` (and ``fake_llm``) by name.

The names are loaded lazily: the learner-CLI launcher (``labkit.grading.sandbox``) lives in this
package and must start fast, without importing pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

GRADER_VERSION = "1.1"

if TYPE_CHECKING:
    from labkit.grading.api import PartialCredit, assert_same, lab_test, same
    from labkit.grading.failures import LearnerError, is_remote_error
    from labkit.grading.learner import Learner, RunResult
    from labkit.grading.recipes import make
    from labkit.grading.remote import Record, Remote, RemoteIterator, exact_type

_LAZY = {
    "PartialCredit": "labkit.grading.api",
    "assert_same": "labkit.grading.api",
    "lab_test": "labkit.grading.api",
    "same": "labkit.grading.api",
    "Learner": "labkit.grading.learner",
    "LearnerError": "labkit.grading.failures",
    "Record": "labkit.grading.remote",
    "Remote": "labkit.grading.remote",
    "RemoteIterator": "labkit.grading.remote",
    "make": "labkit.grading.recipes",
    "exact_type": "labkit.grading.remote",
    "is_remote_error": "labkit.grading.failures",
    "RunResult": "labkit.grading.learner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'labkit.grading' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "GRADER_VERSION",
    "Learner",
    "LearnerError",
    "PartialCredit",
    "Record",
    "Remote",
    "RemoteIterator",
    "RunResult",
    "assert_same",
    "exact_type",
    "is_remote_error",
    "lab_test",
    "make",
    "same",
]
