"""Tiered hints: a nudge, then the concept, then a near-solution, one at a time, on demand.

Every hint of a grader lives in one file, ``hints.toml`` beside its test files (``graders/<id>/``,
or an instructor's hidden-tests folder), keyed by test number, rustlings-style::

    # a parametrised test's base number ("4.1") covers "4.1.1", "4.1.2"...
    "1.3" = [
      "The nudge: ...",              # tier 1: every report shows it when the test fails
      "The concept: ...",            # tier 2 (optional)
      "Nearly the answer: ...",      # tier 3 (optional)
    ]

The judge reads tier 1 while it collects the tests (a test with none is a collection error that
names the line to add); ``labkit hint <lab> [<test>]`` reveals the next tier for the first failing
test of the learner's last grade (or the named test) and remembers it in ``.labkit/hints.json``, so
asking again shows what was revealed plus one more; reports and the board count the tiers
revealed. Keeping the words out of the test code lets a writer review all of a lab's learner-facing
hints in one place, and keeps each test's declaration to one line. A lab added later gets hints by
adding its own ``hints.toml``: nothing here names a lab.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError
from labkit.grading.manifest import LabManifest
from labkit.grading.records import RESULTS_DIR, record_path
from labkit.grading.results import read_json, write_json

HINTS_FILE = "hints.toml"
TIER_NAMES = ("nudge", "concept", "near-solution")
MAX_TIERS = len(TIER_NAMES)


def state_path(root: Path) -> Path:
    """Where revealed hints are remembered (per learner checkout)."""
    return root / RESULTS_DIR.parent / "hints.json"


def load_hints(folder: Path, shown: str | None = None) -> dict[str, list[str]]:
    """The hint tiers of the tests in ``folder``, by test number; a malformed file is one clear error.

    A folder without ``hints.toml`` has no hints (the judge then reports each test that needs one).
    White space is folded so a long hint may be wrapped in the file. ``shown`` is how errors name
    the file (the judge reads a copy of the grader, but the author edits ``graders/<id>/``).
    """
    path = folder / HINTS_FILE
    shown = shown or f"{folder.parent.name}/{folder.name}/{HINTS_FILE}"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LabkitError(f"{shown} is not valid TOML ({exc}): fix the line it names") from None
    hints: dict[str, list[str]] = {}
    for number, tiers in data.items():
        if (
            not isinstance(tiers, list)
            or not 1 <= len(tiers) <= MAX_TIERS
            or not all(isinstance(t, str) and t.strip() for t in tiers)
        ):
            raise LabkitError(
                f"{shown}: {number!r} must be a list of 1 to {MAX_TIERS} hints "
                '(the nudge first), e.g. "1.1" = ["Return the value; do not print it."]'
            )
        hints[str(number)] = [" ".join(t.split()) for t in tiers]
    return hints


def tiers_for(hints: dict[str, list[str]], number: str) -> list[str]:
    """The tiers of a test number, falling back to its parametrised base ("4.1.2" → "4.1")."""
    parts = number.split(".")
    while parts:
        key = ".".join(parts)
        if key in hints:
            return hints[key]
        parts.pop()
    return []


def _load_state(root: Path) -> dict[str, dict[str, int]]:
    data = read_json(state_path(root)) or {}
    state: dict[str, dict[str, int]] = {}
    for lab, tests in data.items():
        if isinstance(tests, dict):
            state[str(lab)] = {str(k): int(v) for k, v in tests.items() if isinstance(v, int)}
    return state


def revealed(root: Path, lab_id: str, number: str) -> int:
    """How many extra tiers of a test the learner has revealed (0, 1 or 2)."""
    return _load_state(root).get(lab_id, {}).get(number, 0)


def hints_used(root: Path, lab_id: str) -> int:
    """Extra tiers revealed across a lab's tests (what reports and the board show)."""
    return sum(_load_state(root).get(lab_id, {}).values())


@dataclass(frozen=True)
class HintView:
    """What ``labkit hint`` shows: the test, why it failed, and the tiers revealed so far."""

    number: str
    name: str
    reason: str
    tiers: list[str]  # revealed tiers, tier 1 first
    available: int  # how many tiers the test has in all
    new: bool  # True if this call revealed a tier


def reveal(root: Path, manifest: LabManifest, number: str | None = None) -> HintView:
    """Reveal the next tier for ``number`` (default: the first failing test of the last grade)."""
    record = read_json(record_path(root, manifest.id))
    if record is None:
        raise LabkitError(
            f"{manifest.id} has not been graded yet: run make grade LAB={manifest.id} first"
        )
    tests: list[dict[str, Any]] = [t for t in record.get("tests", []) if isinstance(t, dict)]
    if number is None:
        failing = [t for t in tests if t.get("status") != "passed"]
        if not failing:
            raise LabkitError(
                f"every test of {manifest.id} passed at its last grade: no hint needed"
            )
        test = failing[0]
    else:
        test = next((t for t in tests if str(t.get("number")) == number), {})
        if not test:
            known = ", ".join(str(t.get("number")) for t in tests)
            raise LabkitError(f"{manifest.id} has no test {number!r}; its tests: {known}")
    num = str(test.get("number"))
    extra: dict[str, Any] = test.get("extra_data") or {}
    tiers = tiers_for(load_hints(manifest.grader_dir), num)
    # Tier 1 as the report showed it (a hidden test's hint is not in the lab's file).
    first = str(extra.get("hint") or "").strip() or (tiers[0] if tiers else "")
    more = tiers[1:]
    state = _load_state(root)
    shown = state.get(manifest.id, {}).get(num, 0)
    new = shown < len(more)
    if new:
        shown += 1
        state.setdefault(manifest.id, {})[num] = shown
        write_json(state_path(root), state)
    reason = str(extra.get("reason") or "").strip()
    return HintView(
        number=num,
        name=str(test.get("name") or ""),
        reason="" if test.get("status") == "passed" else reason,
        tiers=[first, *more[:shown]],
        available=1 + len(more),
        new=new,
    )


def dumps_state(root: Path) -> str:
    """The remembered hints as JSON text (for tests and debugging)."""
    return json.dumps(_load_state(root), sort_keys=True)
