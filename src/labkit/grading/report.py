"""The learner-facing terminal report: points per test, the reason and hint for each failure, the
total, and one concrete thing to try next. Never a traceback first."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from labkit.grading.compiles import CompileProblem
from labkit.grading.outcomes import format_points
from labkit.grading.runner import GradeResult, TestOutcome

_MAX_REASON_LINES = 6
_MAX_OUTPUT_LINES = 8
_MAX_OUTPUT_CHARS = 1200

_MARKS = {
    "passed": ("✓", "green"),
    "partial": ("◐", "yellow"),
    "failed": ("✗", "red"),
    "timeout": ("⏱", "red"),
    "deadline": ("⏱", "red"),
    "crash": ("✗", "red"),
    "tamper": ("✗", "red"),
    "invalid": ("✗", "red"),
}


def render(
    result: GradeResult,
    console: Console,
    saved_to: Path | None = None,
    saved_note: str | None = None,
    problems: Sequence[CompileProblem] = (),
    hints: int = 0,
    only: str | None = None,
) -> None:
    """Print the report for one graded folder (``hints``: extra hint tiers the learner revealed).

    ``saved_note`` is said after where the result was saved; ``problems`` (files that do not
    compile) are said once, at the top, and the tests they break point back to them. ``only``
    names the one test graded (``--test``): its passing is not the lab's.
    """
    console.print()
    header = Text.assemble(
        (result.lab_id, "bold"),
        " · ",
        result.lab_title,
        ("   graded ", "dim"),
        (result.submission, "dim"),
    )
    console.print(header)
    console.print()
    for problem in problems:
        console.print(Padding(Text(f"✗ {problem.summary()}", style="bold red"), (0, 2)))
    if problems:
        console.print()
    table = Table.grid(padding=(0, 1))
    table.add_column(width=1)
    table.add_column(no_wrap=True, style="dim")
    table.add_column(ratio=1)
    table.add_column(justify="right", no_wrap=True)
    for outcome in result.tests:
        mark, style = _mark(outcome)
        points = Text(
            f"{format_points(outcome.score)}/{format_points(outcome.meta.points)}", style=style
        )
        tag = "" if outcome.meta.visibility != "after_due_date" else " (after due date)"
        # Text(), not str: rich would read "[2]" in a test name as markup and drop it.
        table.add_row(
            Text(mark, style=style),
            Text(outcome.meta.number),
            Text(outcome.meta.name + tag),
            points,
        )
        if not outcome.passed:
            cause = next((p for p in problems if p.explains(outcome.reason)), None)
            if cause is not None:  # the same syntax error again: said once, at the top
                why = Text.assemble(
                    ("why   ", "bold red"), f"{cause.file} does not compile (above)"
                )
                table.add_row("", "", why, "")
            else:
                table.add_row("", "", _details(outcome), "")
    console.print(Padding(table, (0, 2)))
    if result.not_run_hidden:
        hidden_points = sum(m.points for m in result.not_run_hidden)
        console.print(
            Padding(
                Text(
                    f"🔒 {hidden_phrase(len(result.not_run_hidden), hidden_points)}",
                    style="dim",
                ),
                (0, 2),
            )
        )
    for note in result.notes:
        console.print(Padding(Text(f"⚠ {note}", style="yellow"), (0, 2)))
    console.print()
    console.print(Padding(_summary(result, saved_to, saved_note, problems, hints, only), (0, 2)))
    console.print()


def hidden_phrase(count: int, points: float) -> str:
    """ "1 hidden test worth 2 pts is run only when your instructor grades." (and the plural)."""
    tests, verb = ("test", "is") if count == 1 else ("tests", "are")
    return f"{count} hidden {tests} worth {format_points(points)} pts {verb} run only when your instructor grades."


def _mark(outcome: TestOutcome) -> tuple[str, str]:
    if outcome.passed:
        return _MARKS["passed"]
    if outcome.score > 0:
        return _MARKS["partial"]
    return _MARKS.get(outcome.kind, _MARKS["failed"])


def _details(outcome: TestOutcome) -> Group:
    lines: list[Text] = []
    reason = outcome.reason.strip().splitlines() or ["failed"]
    if len(reason) > _MAX_REASON_LINES:
        reason = [*reason[:_MAX_REASON_LINES], "…"]
    lines.append(Text.assemble(("why   ", "bold red"), "\n      ".join(reason)))
    lines.append(Text.assemble(("hint  ", "bold cyan"), outcome.meta.hint))
    if outcome.blocked:
        lines.append(Text.assemble(("note  ", "bold yellow"), "; ".join(outcome.blocked[:3])))
    output = outcome.output.strip()
    if output:
        shown = output[:_MAX_OUTPUT_CHARS].splitlines()[:_MAX_OUTPUT_LINES]
        more = "\n      …" if len(shown) < len(output.splitlines()) else ""
        lines.append(
            Text.assemble(("output", "bold dim"), " ", ("\n      ".join(shown) + more, "dim"))
        )
    return Group(*lines)


def _summary(
    result: GradeResult,
    saved_to: Path | None,
    saved_note: str | None = None,
    problems: Sequence[CompileProblem] = (),
    hints: int = 0,
    only: str | None = None,
) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    total = result.max_score
    pct = 100 * result.score / total if total else 0.0
    style = "green" if pct >= 99.99 else "yellow" if pct >= 50 else "red"
    grid.add_row(
        "Score",
        Text.assemble(
            (f"{format_points(result.score)}/{format_points(total)} pts", f"bold {style}"),
            f"  ({pct:.0f}%, {result.passed_count} of {len(result.tests)} tests pass)",
        ),
    )
    first = next((t for t in result.tests if not t.passed), None)
    if problems:
        where = f" line {problems[0].line}" if problems[0].line else ""
        grid.add_row(
            "Next",
            f"Fix {problems[0].file}{where} first: it does not compile, so nothing in it runs.",
        )
    elif first is None and only:
        grid.add_row(
            "Next", f"Test {only} passes. `make grade LAB={result.lab_id}` grades the whole lab."
        )
    elif first is None:
        grid.add_row("Next", "Everything passes. Well done! `make list` shows the next lab.")
    else:
        grid.add_row(
            "Next", Text.assemble(first.meta.hint, (f"  (test {first.meta.number})", "dim"))
        )
    if first is not None:
        used = f"{hints} extra hint{'s' if hints != 1 else ''} used so far; " if hints else ""
        grid.add_row(
            "Hints",
            Text(f"{used}{_hint_command(result.lab_id)} reveals the next one", style="dim"),
        )
    if saved_to is not None:
        saved = Text(str(saved_to), style="dim")
        if saved_note:
            saved.append(f"\n{saved_note}", style="yellow")
        grid.add_row("Saved", saved)
    elif saved_note:
        grid.add_row("Saved", Text(saved_note, style="yellow"))
    return grid


def render_first_failure(
    result: GradeResult,
    console: Console,
    problems: Sequence[CompileProblem] = (),
    hints: int = 0,
    seconds: float | None = None,
    summary: bool = True,
) -> None:
    """Watch mode's view: only the first thing to fix, then a one-line summary (not for a run of
    a few tests only, whose points are not the lab's)."""
    first = next((t for t in result.tests if not t.passed), None)
    console.print()
    if problems:
        console.print(Padding(Text(f"✗ {problems[0].summary()}", style="bold red"), (0, 2)))
    elif first is not None:
        mark, style = _mark(first)
        console.print(
            Padding(
                Text.assemble(
                    (f"{mark} ", style),
                    (first.meta.number, "bold"),
                    f"  {first.meta.name}  ",
                    (f"{format_points(first.score)}/{format_points(first.meta.points)} pts", style),
                ),
                (0, 2),
            )
        )
        console.print(Padding(_details(first), (0, 6)))
    else:
        console.print(Padding(Text("✓ every test passes", style="bold green"), (0, 2)))
    console.print()
    if not summary:
        return
    total = result.max_score
    pct = 100 * result.score / total if total else 0.0
    style = "green" if first is None else "yellow" if pct >= 50 else "red"
    line = Text.assemble(
        (
            f"{result.lab_id} {format_points(result.score)}/{format_points(total)} pts",
            f"bold {style}",
        ),
        f" · {result.passed_count} of {len(result.tests)} tests pass",
    )
    if first is not None:
        line.append(f" · next: test {first.meta.number}")
        line.append(f" · {_hint_command(result.lab_id)}", style="dim")
        if hints:
            line.append(f" ({hints} used)", style="dim")
    else:
        line.append(" · make list shows the next lab")
    if seconds is not None:
        line.append(f" · {seconds:.0f} s", style="dim")
    console.print(Padding(line, (0, 2)))


def _hint_command(lab_id: str) -> str:
    """How to ask for a hint, as the learner types commands (make exports MAKELEVEL)."""
    return f"make hint LAB={lab_id}" if os.environ.get("MAKELEVEL") else f"labkit hint {lab_id}"
