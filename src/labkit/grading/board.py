"""The progress board (``labkit list`` / ``make list``): every lab in course order, where the
learner stands in each, and which lab comes next.

Everything comes from what already exists for any lab — ``graders/<id>/lab.toml`` (order, phase,
title, files), the grader's collected tests (points, for a lab not graded yet) and the learner's
records in ``.labkit/results/`` — so a lab added later appears on the board by itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from labkit.grading import GRADER_VERSION
from labkit.grading.hints import hints_used
from labkit.grading.manifest import LabManifest, compute_tests_hash, content_hash, discover_labs
from labkit.grading.outcomes import format_points
from labkit.grading.records import RESULTS_DIR, own_folder, record_path
from labkit.grading.results import read_json, write_json

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
        return LabRow(lab, None, grader_points(root, lab), None, False, hints)
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
        changed = folder.is_dir() and content_hash(lab, folder) != digest
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


def points_cache_path(root: Path) -> Path:
    """Where the collected points of each lab are kept (per checkout, ignored by git)."""
    return root / RESULTS_DIR.parent / "cache" / "points.json"


def grader_points(root: Path, lab: LabManifest) -> float | None:
    """The points a learner can earn in ``lab``: its visible tests' points, as the grader collects
    them, so parametrised tests count however their values are built.

    Collecting runs the grader's own collection on an empty folder (``collect_expected``, the
    trusted test list of batch grading; no learner code runs), which takes a second or two, so the
    result is cached in ``.labkit/cache/points.json`` under the hash of the grader's files and
    re-collected only when they change. None when the grader cannot be collected: the board then
    shows "?" (grading the lab says why).
    """
    digest = compute_tests_hash(lab)
    cache_path = points_cache_path(root)
    cache = read_json(cache_path) or {}
    entry = cache.get(lab.id)
    if (
        isinstance(entry, dict)
        and entry.get("tests_hash") == digest
        and entry.get("grader_version") == GRADER_VERSION
        and isinstance(entry.get("points"), int | float)
    ):
        return float(entry["points"])
    from labkit.grading.runner import GradingError, collect_expected  # only on a cache miss

    try:
        expected = collect_expected(lab)
    except GradingError:
        return None
    # What a learner's grade counts: every test but the hidden ones (runner.grade, learner mode).
    points = round(sum(m.points for m in expected if m.visibility != "hidden"), 4)
    cache[lab.id] = {"tests_hash": digest, "grader_version": GRADER_VERSION, "points": points}
    write_json(cache_path, cache)
    return points


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
    total = f"{format_points(sum(known))}" + ("" if len(known) == len(rows) else "+")
    done = sum(1 for r in rows if r.complete)
    console.print(
        Text.assemble(
            ("Course ", "bold"),
            f"{format_points(earned)}/{total} pts · {done} of {len(rows)} labs complete",
        )
    )
    if upcoming is None:
        console.print(Text("Every lab is complete. Well done!", style="bold green"))
    else:
        lab = upcoming.manifest
        console.print(Text.assemble(("Next   ", "bold"), (lab.id, "bold cyan"), f" · {lab.title}"))
        console.print(Text(f"       read labs/{lab.id}/README.md, then: make watch LAB={lab.id}"))


def _points(row: LabRow) -> Text:
    total = "?" if row.total is None else format_points(row.total)
    if row.earned is None:
        return Text(f"–/{total}", style="dim")
    style = "green" if row.complete else "yellow" if row.earned > 0 else "red"
    return Text(f"{format_points(row.earned)}/{total}", style=style)


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
