"""The grading guard's policy: what a grading process may touch, and the error learner code sees.

Shared by :mod:`labkit.grading.guard` (the lifecycle: configure, allow ports, freeze) and
:mod:`labkit.grading.guard_hook` (the enforcing audit hook the freeze installs).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

SANDBOX_MODULE = "labkit.grading.sandbox"
SANDBOX_ENV = "LABKIT_SANDBOX"


class GuardViolation(PermissionError):
    """Raised into learner code when it tries something the grader does not allow."""


@dataclass(frozen=True)
class GuardConfig:
    """The policy for one grading process (JSON-serialisable, passed on to learner CLIs)."""

    work_dir: str
    write_roots: tuple[str, ...] = ()
    protected_roots: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    learner_dir: str = ""
    display_dir: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GuardConfig:
        data = json.loads(text)
        return cls(
            work_dir=str(data["work_dir"]),
            write_roots=tuple(data.get("write_roots", ())),
            protected_roots=tuple(data.get("protected_roots", ())),
            ports=tuple(int(p) for p in data.get("ports", ())),
            learner_dir=str(data.get("learner_dir", "")),
            display_dir=str(data.get("display_dir", "")),
        )
