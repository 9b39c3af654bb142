"""Import a lab folder's modules by path, without touching ``sys.path``.

``labkit eval-retrieval --dir labs/rag-03`` must run *that folder's* retrievers, whatever the
current directory, and leave the process as it found it: nothing added to ``sys.path``, and no
bare module names (``search``, ``dense``...) left in ``sys.modules`` where they could shadow
something else. The lab's modules import each other by bare name (``from dense import
DenseIndex``), as they do when a learner runs ``python compare.py``; while loading, a finder that
knows only the folder's own ``*.py`` files answers those imports; afterwards the bare names are
removed again (and any module they had shadowed is put back). The loaded modules keep working:
each holds references to the siblings it imported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from labkit.errors import LabkitError, raised_in

_lock = threading.Lock()


class _FolderFinder(importlib.abc.MetaPathFinder):
    """Finds top-level modules named like a ``*.py`` file of one folder, and nothing else."""

    def __init__(self, folder: Path, names: frozenset[str]) -> None:
        self.folder = folder
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if path is not None or fullname not in self.names:
            return None
        return importlib.util.spec_from_file_location(fullname, self.folder / f"{fullname}.py")


def _where(folder: Path, exc: BaseException) -> str:
    """'search.py line 12' for the deepest frame of the failure that lies in ``folder``."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{Path(exc.filename).name} line {exc.lineno}"
    place = raised_in(exc, folder)
    return f"{place.file.name} line {place.line}" if place else "import"


def load_modules(folder: Path | str, names: Sequence[str]) -> dict[str, ModuleType]:
    """Import ``names`` (module names, no ``.py``) from ``folder``; return them by name.

    Raises :class:`LabkitError` in one line for a missing folder or file, or a module that fails
    to import (naming the file and line).
    """
    base = Path(folder).expanduser().resolve()
    if not base.is_dir():
        raise LabkitError(
            f"{folder} is not a folder (expected a lab folder such as solutions/rag-03)"
        )
    local = frozenset(p.stem for p in base.glob("*.py") if p.stem.isidentifier())
    missing = [n for n in names if n not in local]
    if missing:
        raise LabkitError(f"{folder} has no {missing[0]}.py (is it a rag-03 folder?)")
    finder = _FolderFinder(base, local)
    with _lock:
        saved = {n: sys.modules.pop(n) for n in local if n in sys.modules}
        sys.meta_path.insert(0, finder)
        try:
            return {n: importlib.import_module(n) for n in names}
        except LabkitError:
            raise
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
            raise LabkitError(
                f"importing {folder} failed at {_where(base, exc)}: {detail}"
            ) from exc
        finally:
            sys.meta_path.remove(finder)
            for name in local:
                origin = getattr(sys.modules.get(name), "__file__", None)
                if origin and Path(origin).resolve().parent == base:
                    del sys.modules[name]
            sys.modules.update(saved)
