"""Where the course data lives: the repository root and its ``datasets/`` folder.

The root is ``LABKIT_ROOT`` when that variable is set; otherwise the nearest folder above this
file (then above the working directory) that holds both ``datasets/`` and ``pyproject.toml``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from labkit.errors import LabkitError


def find_root(marker: str, starts: Sequence[Path]) -> Path:
    """The course repository: ``LABKIT_ROOT`` when set (it must hold ``marker/``), else the nearest
    folder holding both ``marker/`` and ``pyproject.toml`` above the first of ``starts`` that has
    one. The one search every "where is the course" question uses; callers differ only in the
    marker and where they start (:func:`repo_root`, :func:`labkit.grading.manifest.repo_root`)."""
    env = os.environ.get("LABKIT_ROOT")
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / marker).is_dir():
            raise LabkitError(
                f"LABKIT_ROOT={env} has no {marker}/ folder; point it at the course repository"
            )
        return root
    for start in starts:
        here = start.resolve()
        for candidate in (here, *here.parents):
            if (candidate / marker).is_dir() and (candidate / "pyproject.toml").is_file():
                return candidate
    raise LabkitError(
        f"no course repository above {starts[-1].resolve()} (a folder with {marker}/ and "
        "pyproject.toml); cd into it or set LABKIT_ROOT"
    )


def repo_root() -> Path:
    """The course repository that holds the data (``datasets/``), looked for above this package
    first (an editable install lives inside it), then above the working directory."""
    return find_root("datasets", (Path(__file__).parent, Path.cwd()))


def datasets_dir() -> Path:
    """``<repo root>/datasets``."""
    return repo_root() / "datasets"


def display_path(path: Path) -> str:
    """``path`` relative to the repository root when it lies inside it (for one-line errors)."""
    try:
        return path.resolve().relative_to(repo_root()).as_posix()
    except (ValueError, LabkitError):
        return str(path)
