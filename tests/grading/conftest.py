"""Fixtures for the grader's own tests: a private copy of the fixture course repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from grader_fixtures import LABROOT

from labkit.grading.manifest import LabManifest, load_manifest


@pytest.fixture(scope="session")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of tests/fixtures/labroot (graders/, labs/, solutions/), so grading never writes
    .labkit/ into the repository; committed to a git repository of its own, as a course checkout
    is (its object store holds the reference too: the ``git_objects`` attack reads it)."""
    root = tmp_path_factory.mktemp("course") / "labroot"
    shutil.copytree(LABROOT, root, ignore=shutil.ignore_patterns("__pycache__", ".labkit"))
    git = ["git", "-C", str(root), "-c", "user.name=labkit", "-c", "user.email=labkit@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "course"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    return root


@pytest.fixture
def in_course(course: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run with LABKIT_ROOT pointing at the course copy, and the working directory inside it."""
    monkeypatch.setenv("LABKIT_ROOT", str(course))
    monkeypatch.chdir(course)
    return course


@pytest.fixture(scope="session")
def calc(course: Path) -> LabManifest:
    """The fixture lab's manifest."""
    return load_manifest(course / "graders" / "calc" / "lab.toml")


def pytest_configure(config: pytest.Config) -> None:
    # These tests decorate functions with @lab_test outside the grading plugin.
    config.addinivalue_line("markers", "lab_test(points, number, visibility, name): graded")
