"""The progress board (``labkit list`` / ``make list``): every lab in course order, where the
learner stands in each, and which lab comes next.

Everything comes from what already exists for any lab — ``graders/<id>/lab.toml`` (order, phase,
title, files), the grader's ``@lab_test`` decorators (points, for a lab not graded yet) and the
learner's records in ``.labkit/results/`` — so a lab added later appears on the board by itself.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from labkit.grading.hints import hints_used
from labkit.grading.manifest import LabManifest, discover_labs
from labkit.grading.records import files_digest, own_folder, record_path
from labkit.grading.results import read_json

BAR_WIDTH = 10


@dataclass(frozen=True)
class LabRow:
    """One lab on the board."""

    manifest: LabManifest
    earned: float | None  # None: never graded
    total: float | None  # None: not graded and the points could not be read from the grader
    graded_at: datetime | None
    changed: bool  # the learner's files differ from what was last graded
    hints: int  # extra hint tiers revealed

    @property
    def complete(self) -> bool:
        return self.earned is not None and self.total is not None and self.earned >= self.total


def board_rows(root: Path) -> list[LabRow]:
    """Every lab in course order, with the learner's standing."""
    return [_row(root, lab) for lab in discover_labs(root)]


def next_lab(rows: list[LabRow]) -> LabRow | None:
    """The first lab in course order that is not complete."""
    return next((row for row in rows if not row.complete), None)


def _row(root: Path, lab: LabManifest) -> LabRow:
    data = read_json(record_path(root, lab.id))
    hints = hints_used(root, lab.id)
    if data is None:
        return LabRow(lab, None, grader_points(lab), None, False, hints)
    extra: dict[str, Any] = data.get("extra_data") or {}
    earned = float(data.get("score") or 0.0)
    total = extra.get("max_score")
    if total is None:
        total = sum(float(t.get("max_score") or 0) for t in data.get("tests", []))
    graded_at = _parse_time(extra.get("graded_at"))
    if graded_at is None:
        graded_at = datetime.fromtimestamp(record_path(root, lab.id).stat().st_mtime).astimezone()
    folder = own_folder(root, lab.id)
    digest = extra.get("files_digest")
    if isinstance(digest, str):
        changed = folder.is_dir() and files_digest(lab, folder) != digest
    else:  # a record written before digests were kept: compare modification times
        since = graded_at.timestamp()
        changed = any(p.stat().st_mtime > since for p, _ in lab.learner_files(folder))
    return LabRow(lab, earned, float(total), graded_at, changed, hints)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).astimezone()
    except ValueError:
        return None


# --- points of a lab that was never graded -------------------------------------------------------


def grader_points(lab: LabManifest) -> float | None:
    """The points a learner can earn in ``lab``, read from its grader's source without running it.

    Sums ``@lab_test(points=...)`` over the visible tests, times their parametrisations (literal
    ``parametrize`` lists, and fixtures with literal ``params``). None when a test's count cannot
    be read statically; the board then shows "?" until the lab is graded once.
    """
    total = 0.0
    for path in sorted(lab.grader_dir.glob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            return None
        constants = _module_sequences(tree)
        fixtures = _param_fixtures(tree, constants)
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            points = _lab_test_points(node)
            if points is None:
                continue
            count = 1
            for deco in node.decorator_list:
                if _call_name(deco).endswith("parametrize"):
                    size = _length(deco.args[1] if len(deco.args) > 1 else None, constants)  # type: ignore[attr-defined]
                    if size is None:
                        return None
                    count *= size
            for arg in node.args.args:
                count *= fixtures.get(arg.arg, 1)
            total += points * count
    return total


def _call_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    parts: list[str] = []
    while isinstance(target, ast.Attribute):
        parts.append(target.attr)
        target = target.value
    if isinstance(target, ast.Name):
        parts.append(target.id)
    return ".".join(reversed(parts))


def _lab_test_points(fn: ast.FunctionDef) -> float | None:
    for deco in fn.decorator_list:
        if isinstance(deco, ast.Call) and _call_name(deco).split(".")[-1] == "lab_test":
            kwargs = {k.arg: k.value for k in deco.keywords if k.arg}
            visibility = kwargs.get("visibility")
            if isinstance(visibility, ast.Constant) and visibility.value == "hidden":
                return None  # never run for learners
            points = kwargs.get("points")
            if isinstance(points, ast.Constant) and isinstance(points.value, int | float):
                return float(points.value)
    return None


def _module_sequences(tree: ast.Module) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple | ast.List):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    sizes[target.id] = len(node.value.elts)
    return sizes


def _length(node: ast.expr | None, constants: dict[str, int]) -> int | None:
    if isinstance(node, ast.Tuple | ast.List):
        return len(node.elts)
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _param_fixtures(tree: ast.Module, constants: dict[str, int]) -> dict[str, int]:
    found: dict[str, int] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and _call_name(deco).endswith("fixture"):
                for kw in deco.keywords:
                    if kw.arg == "params":
                        size = _length(kw.value, constants)
                        if size:
                            found[node.name] = size
    return found


# --- rendering -----------------------------------------------------------------------------------


def render_board(rows: list[LabRow], console: Console) -> None:
    """Print the board. Colour only on a terminal (rich drops it when output is piped)."""
    if not rows:
        console.print("No labs yet (graders/<id>/lab.toml).")
        return
    upcoming = next_lab(rows)
    cells = [
        [
            Text("▶" if row is upcoming else " ", style="bold cyan"),
            Text(row.manifest.id, style="bold" if row is upcoming else ""),
            Text(row.manifest.title),
            Text(str(row.manifest.phase)),
            _points(row),
            _bar(row),
            Text(_when(row.graded_at), style="dim")
            if row.graded_at
            else Text("not graded", style="dim"),
        ]
        for row in rows
    ]
    headers = ["", "lab", "title", "phase", "points", "progress", "graded"]
    widths = [max(1, len(headers[i]), *(c[i].cell_len for c in cells)) for i in range(len(headers))]
    # Every column keeps its width; the title gives way (ellipsis) on a narrow terminal.
    room = console.width - (sum(widths) - widths[2]) - 2 * (len(widths) - 1)
    title_width = max(8, min(widths[2], room))
    table = Table(box=None, padding=(0, 1), header_style="bold", pad_edge=False)
    for i, header in enumerate(headers):
        justify = "right" if header == "points" else "center" if header == "phase" else "left"
        width = title_width if i == 2 else widths[i]
        table.add_column(header, width=width, no_wrap=True, overflow="ellipsis", justify=justify)  # type: ignore[arg-type]
    for row_cells in cells:
        table.add_row(*row_cells)
    console.print(table)
    for row in rows:  # notes under the table, one line per lab: readable at any width
        notes = _notes(row)
        if notes:
            console.print(Text.assemble("   ", (row.manifest.id, "bold"), ": ", notes))
    console.print()
    earned = sum(r.earned or 0.0 for r in rows)
    known = [r.total for r in rows if r.total is not None]
    total = f"{_fmt(sum(known))}" + ("" if len(known) == len(rows) else "+")
    done = sum(1 for r in rows if r.complete)
    console.print(
        Text.assemble(
            ("Course ", "bold"),
            f"{_fmt(earned)}/{total} pts · {done} of {len(rows)} labs complete",
        )
    )
    if upcoming is None:
        console.print(Text("Every lab is complete. Well done!", style="bold green"))
    else:
        lab = upcoming.manifest
        console.print(Text.assemble(("Next   ", "bold"), (lab.id, "bold cyan"), f" · {lab.title}"))
        console.print(Text(f"       read labs/{lab.id}/README.md, then: make watch LAB={lab.id}"))


def _points(row: LabRow) -> Text:
    total = "?" if row.total is None else _fmt(row.total)
    if row.earned is None:
        return Text(f"–/{total}", style="dim")
    style = "green" if row.complete else "yellow" if row.earned > 0 else "red"
    return Text(f"{_fmt(row.earned)}/{total}", style=style)


def _bar(row: LabRow) -> Text:
    fraction = 0.0
    if row.earned is not None and row.total:
        fraction = max(0.0, min(1.0, row.earned / row.total))
    filled = math.floor(fraction * BAR_WIDTH + 1e-9)
    style = "green" if row.complete else "yellow"
    bar = Text("█" * filled, style=style)
    bar.append("░" * (BAR_WIDTH - filled), style="dim")
    bar.append(f" {fraction * 100:3.0f}%" if row.earned is not None else "     ")
    return bar


def _notes(row: LabRow) -> Text:
    notes = Text()
    if row.changed:
        notes.append("your files changed since its last grade", style="yellow")
    if row.hints:
        if notes:
            notes.append(" · ")
        notes.append(f"{row.hints} extra hint{'s' if row.hints != 1 else ''} used", style="dim")
    return notes


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%b %d %H:%M")


def _fmt(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}".rstrip("0")
