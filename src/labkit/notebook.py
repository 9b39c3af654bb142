"""Helpers for the labs' exploration notebooks (``labs/<id>/explore.ipynb``).

``use_lab()`` makes the learner's own modules importable and turns a stub's
``NotImplementedError("not implemented yet — see task N")`` into that one line instead of a
traceback, so a notebook run on an unfinished lab stops at the first stub and says which task to
do. ``start_fake_provider()`` runs the offline fake provider inside the notebook and points
``labkit.config`` at it. Nothing here names a lab: every lab's notebook uses the same two calls.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from labkit.fakellm import FakeLLM

_FAKE: FakeLLM | None = None


def stub_message(exc: BaseException, lab_dir: Path) -> str:
    """One line for a NotImplementedError raised by a stub of the lab: which function, which task."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            inside = Path(frame.filename).resolve().is_relative_to(lab_dir.resolve())
        except OSError:
            inside = False
        if inside:
            where = f"{Path(frame.filename).name}: {frame.name}()"
    said = str(exc).strip() or "not implemented yet — see the README's Tasks"
    return f"{where} is {said}" if where else said


def use_lab(folder: str | os.PathLike[str] | None = None) -> Path:
    """Import the learner's modules from ``folder`` (default: the notebook's own folder).

    In IPython, a NotImplementedError from the lab's code is shown as one line (the stub's own
    "not implemented yet — see task N") and stops the run there.
    """
    lab_dir = Path(folder or Path.cwd()).resolve()
    if str(lab_dir) not in sys.path:
        sys.path.insert(0, str(lab_dir))
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to install
        return lab_dir
    shell = get_ipython()
    if shell is not None:

        def show(
            shell: Any,
            etype: type[BaseException],
            value: BaseException,
            tb: TracebackType | None,
            tb_offset: int | None = None,
        ) -> None:
            print(f"⏸ {stub_message(value, lab_dir)}")

        shell.set_custom_exc((NotImplementedError,), show)
    return lab_dir


def start_fake_provider() -> FakeLLM:
    """The offline fake provider, started once per kernel, with ``labkit.config`` pointed at it."""
    global _FAKE
    if _FAKE is None:
        _FAKE = FakeLLM().start()
    for name, value in _FAKE.env().items():
        os.environ[name] = value
    _FAKE.reset()
    return _FAKE
