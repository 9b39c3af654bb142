"""Reading the course's data files, and how their errors read: one home for every loader.

A data file that is missing or broken fails with one line naming the file (relative to the
repository when it lies inside it), the line when there is one, and what to do about it —
by default ``restore it with git checkout -- <file>``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

from labkit.datasets.paths import display_path
from labkit.errors import LabkitError


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


Record = TypeVar("Record", bound=_HasId)


def restore_hint(path: Path) -> str:
    """What to do about a broken committed file: check it out again."""
    return f"restore it with git checkout -- {display_path(path)}"


def data_error(
    path: Path, problem: str, line: int | None = None, *, hint: str | None = None
) -> LabkitError:
    """``<file>[ line N] <problem> — <hint>`` (the hint defaults to :func:`restore_hint`)."""
    where = display_path(path) + (f" line {line}" if line is not None else "")
    return LabkitError(f"{where} {problem} — {hint or restore_hint(path)}")


def read_text(path: Path, *, hint: str | None = None) -> str:
    """The file's UTF-8 text; a missing or undecodable file is a one-line :class:`LabkitError`."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LabkitError(
            f"{display_path(path)} is missing — {hint or restore_hint(path)}"
        ) from None
    except UnicodeDecodeError as exc:
        raise data_error(path, f"is not valid UTF-8 ({exc.reason})", hint=hint) from None


def read_jsonl(path: Path, *, hint: str | None = None) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value)`` for each non-blank line of a JSON-lines file, failing on the
    first line that is not JSON (the caller checks the values' shape)."""
    for number, line in enumerate(read_text(path, hint=hint).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise data_error(
                path, f"is not valid JSON: {exc.msg} at column {exc.colno}", number, hint=hint
            ) from None
        yield number, value


def read_unique_records(
    path: Path, parse: Callable[[Any, Path, int], Record], *, hint: str | None = None
) -> list[Record]:
    """Every line of a JSON-lines file through ``parse(value, path, line)``, in file order,
    failing on the first line whose record repeats an earlier ``id``."""
    records: list[Record] = []
    seen: set[str] = set()
    for number, value in read_jsonl(path, hint=hint):
        record = parse(value, path, number)
        if record.id in seen:
            raise data_error(path, f"repeats the id {record.id!r}", number, hint=hint)
        seen.add(record.id)
        records.append(record)
    return records
