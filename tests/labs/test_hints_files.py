"""Every lab's graders/<id>/hints.toml (if any) is valid and names tests that exist.

Runs for every lab found, so a lab added later with a hints.toml is checked too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from labkit.grading.hints import load_extra_hints
from labkit.grading.manifest import LabManifest, discover_labs, repo_root
from labkit.scaffold.course_check import grader_numbers

ROOT = repo_root(Path(__file__).resolve().parent)
LABS = discover_labs(ROOT)


@pytest.mark.parametrize("lab", LABS, ids=[lab.id for lab in LABS])
def test_hints_name_existing_tests(lab: LabManifest) -> None:
    hints = load_extra_hints(lab)  # raises one clear line if malformed
    unknown = sorted(set(hints) - grader_numbers(lab))
    assert not unknown, f"graders/{lab.id}/hints.toml names tests that do not exist: {unknown}"
