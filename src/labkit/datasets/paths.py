"""Where the course data lives: the repository root and its ``datasets/`` folder.

The root is ``LABKIT_ROOT`` when that variable is set; otherwise the nearest folder above this
file (then above the working directory) that holds both ``datasets/`` and ``pyproject.toml``.
"""

from __future__ import annotations

import os
from pathlib import Path

from labkit.errors import LabkitError


def _is_root(folder: Path) -> bool:
    return (folder / "datasets").is_dir() and (folder / "pyproject.toml").is_file()


def repo_root() -> Path:
    """The course repository root (the folder that contains ``datasets/``)."""
    env = os.environ.get("LABKIT_ROOT")
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / "datasets").is_dir():
            raise LabkitError(
                f"LABKIT_ROOT={env} has no datasets/ folder; point it at the course repository"
            )
        return root
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if _is_root(candidate):
                return candidate
    raise LabkitError(
        "cannot find the course repository (a folder with datasets/ and pyproject.toml); "
        "cd into it or set LABKIT_ROOT"
    )


def datasets_dir() -> Path:
    """``<repo root>/datasets``."""
    return repo_root() / "datasets"


def display_path(path: Path) -> str:
    """``path`` relative to the repository root when it lies inside it (for one-line errors)."""
    try:
        return path.resolve().relative_to(repo_root()).as_posix()
    except (ValueError, LabkitError):
        return str(path)
