"""Where the course data lives: the repository root and its ``datasets/`` folder.

The root is ``LABKIT_ROOT`` when that variable is set; otherwise the nearest folder above this
file (then above the working directory) that holds both ``datasets/`` and ``pyproject.toml``.
Paths in messages are shown relative to it, or to another base, by :func:`relative_path`.
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
        found = course_above(marker, start)
        if found is not None:
            return found
    raise LabkitError(
        f"no course repository above {starts[-1].resolve()} (a folder with {marker}/ and "
        "pyproject.toml); cd into it or set LABKIT_ROOT"
    )


def course_above(marker: str, start: Path) -> Path | None:
    """The nearest folder at or above ``start`` (resolved) holding both ``marker/`` and
    ``pyproject.toml``, or None; ``LABKIT_ROOT`` is not consulted (:func:`find_root` does)."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / marker).is_dir() and (candidate / "pyproject.toml").is_file():
            return candidate
    return None


def repo_root() -> Path:
    """The course repository that holds the data (``datasets/``), looked for above this package
    first (an editable install lives inside it), then above the working directory."""
    return find_root("datasets", (Path(__file__).parent, Path.cwd()))


def datasets_dir() -> Path:
    """``<repo root>/datasets``."""
    return repo_root() / "datasets"


def relative_path(path: Path, *bases: Path | None, outside: bool = False) -> Path | None:
    """``path`` relative to the first of ``bases`` that holds it (``None`` entries skipped; no
    bases: the working directory), or None when none does. With ``outside``, the first base that
    can name it is used even from outside (``../x``). Lexical, like :func:`os.path.relpath`:
    resolve both sides first when symlinks matter. The one "show this path from there" rule of
    messages and reports (:func:`display_path`, the grading report's folder, manifest errors)."""
    for base in bases or (Path.cwd(),):
        if base is None:
            continue
        try:
            rel = Path(os.path.relpath(path, base))
        except ValueError:  # another drive (Windows)
            continue
        if outside or rel.parts[:1] != ("..",):
            return rel
    return None


def display_path(path: Path) -> str:
    """``path`` relative to the repository root when it lies inside it (for one-line errors)."""
    try:
        rel = relative_path(path.resolve(), repo_root())
    except LabkitError:
        rel = None
    return str(path) if rel is None else rel.as_posix()
