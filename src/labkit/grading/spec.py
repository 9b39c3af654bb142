"""Data shared by the parent runner and the grading child: the run spec and test metadata.

The spec travels over a one-shot pipe that the child reads and closes before any learner code runs,
so the run token and the seed are never in the child's argv or environment (both of which learner
code could read from /proc).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class TestMeta:
    """One expected test, as declared by ``@lab_test`` (known before any learner code runs)."""

    id: str
    number: str
    name: str
    points: float
    visibility: str
    hint: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestMeta:
        return cls(
            id=str(data["id"]),
            number=str(data["number"]),
            name=str(data["name"]),
            points=float(data["points"]),
            visibility=str(data["visibility"]),
            hint=str(data["hint"]),
        )


@dataclass(frozen=True)
class RunSpec:
    """Everything the grading child needs to know, from the parent."""

    token: str
    lab_id: str
    learner_dir: str
    display_dir: str
    tests_dir: str
    seed: int
    test_timeout: float
    output_limit: int
    guard: str  # GuardConfig as JSON
    hidden_dir: str | None = None
    select: list[str] | None = None
    skip_hidden: bool = False
    collect_only: bool = False
    first_failure: bool = False
    run_first: list[str] = field(default_factory=list)  # test function names to run first
    delete_after_collection: list[str] = field(default_factory=list)
    # What the judge loads in the background before tests need it (lab.toml [extra] judge_warm).
    judge_warm: list[str] = field(default_factory=list)
    # What the zygote imports for learner processes beyond what their files import (worker_warm).
    worker_warm: list[str] = field(default_factory=list)
    # This run's channel to a pooled zygote the runner started (zygote.ZygotePool), if any.
    zygote_fd: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**data)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def clean_text(text: str, limit: int) -> str:
    """Make child-produced text safe to show: no memory addresses (they differ between runs, and
    grading the same submission twice must give identical results), at most ``limit`` characters
    (the start and the end are kept; the middle is cut with a note)."""
    text = _ADDRESS.sub("", text.replace("\r\n", "\n"))
    if len(text) <= limit:
        return text
    head = max(0, limit * 3 // 4)
    tail = max(0, limit - head)
    cut = len(text) - head - tail
    return f"{text[:head]}\n… [{cut} characters cut] …\n{text[len(text) - tail :]}"


JUDGE_WARMERS = ("embedder",)
# Heavy packages a lab's recipes use in the worker although the learner's files may not import
# them at the top (ft-01's tiny Llama and tokenizer): the zygote imports them once, before forking.
# Only imports, never a computation: a forked child of a process that ran torch's thread pool
# could hang, and an import leaves no threads behind.
WORKER_WARMERS = ("torch", "transformers", "peft", "scipy")


def _known(extra: Mapping[str, object], key: str, allowed: tuple[str, ...]) -> list[str]:
    """The allowed names in a manifest's ``[extra] <key>`` list. Unknown ones are ignored:
    warming is an optimisation, never a reason for a grade to fail."""
    names = extra.get(key) or []
    if not isinstance(names, list):
        return []
    return [str(n) for n in names if str(n) in allowed]


def judge_warm(extra: Mapping[str, object]) -> list[str]:
    """What the judge loads in the background (``[extra] judge_warm``; see JUDGE_WARMERS)."""
    return _known(extra, "judge_warm", JUDGE_WARMERS)


def worker_warm(extra: Mapping[str, object]) -> list[str]:
    """What the zygote imports ahead for learner processes (``[extra] worker_warm``)."""
    return _known(extra, "worker_warm", WORKER_WARMERS)
