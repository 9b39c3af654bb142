"""Watch mode (``labkit watch <lab>`` / ``make watch LAB=<id>``): save a file, see the next thing
to fix.

The lab's folder is watched with ``watchfiles`` (OS file events, not polling by hand). Only the
lab's allow-listed files count; a burst of saves (an editor writing a file twice, a formatter
rewriting several) is grouped into one re-grade: changes are collected until the folder has been
quiet for ``debounce_ms``. Each grade goes through the same runner as ``make grade`` and updates
the learner's record; the screen shows only the first failing test (its reason — what was
expected and what was seen — and its hint) and a one-line summary. Ctrl-C stops grading and
watching at once and exits cleanly.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from labkit.grading.compiles import compile_problems
from labkit.grading.hints import hints_used
from labkit.grading.manifest import LabManifest, is_reserved, protected_folders
from labkit.grading.records import own_folder, record_path, stamp_record
from labkit.grading.report import render_first_failure
from labkit.grading.results import to_gradescope, write_json
from labkit.grading.spec import TestMeta
from labkit.grading.zygote import ZygotePool

if TYPE_CHECKING:
    from labkit.grading.runner import GradeOptions


def watch(
    root: Path,
    manifest: LabManifest,
    console: Console,
    debounce_ms: int = 600,
    max_rounds: int | None = None,
) -> int:
    """Grade now, then after every burst of changes, until Ctrl-C (or ``max_rounds`` grades)."""
    from watchfiles import watch as watch_changes

    from labkit.grading.runner import kill_all

    folder = own_folder(root, manifest.id)
    if not folder.is_dir():
        from labkit.errors import LabkitError

        raise LabkitError(f"folder not found: labs/{manifest.id}")
    console.print(
        Text.assemble(
            ("Watching ", "bold"),
            f"labs/{manifest.id} ({', '.join(manifest.files)}): save a file to re-grade. ",
            ("Ctrl-C stops.", "dim"),
        )
    )

    def relevant(_change: object, path: str) -> bool:
        try:
            rel = Path(path).resolve().relative_to(folder.resolve()).as_posix()
        except ValueError:
            return False
        if is_reserved(rel) or "__pycache__" in rel:
            return False
        return any(rel == pattern or fnmatch(rel, pattern) for pattern in manifest.files)

    rounds = 0
    failing: list[TestMeta] = []
    # One zygote for all of this learner's grades: learner processes fork from it without
    # importing the SDKs (ft-01: torch) again each save. Only this learner's code runs from it.
    zygotes = ZygotePool()
    try:
        # The watcher starts with the loop below: a save made during this first grade is caught
        # by comparing the files' stamps afterwards, and graded at once.
        before = _stamps(manifest, folder)
        failing = grade_once(root, manifest, console, changed=[], zygotes=zygotes)
        rounds += 1
        after = _stamps(manifest, folder)
        if after != before and (max_rounds is None or rounds < max_rounds):
            names = sorted(
                rel for rel in after.keys() | before.keys() if after.get(rel) != before.get(rel)
            )
            failing = grade_once(
                root, manifest, console, changed=names, focus=failing, zygotes=zygotes
            )
            rounds += 1
        if max_rounds is not None and rounds >= max_rounds:
            return 0
        for changes in watch_changes(
            folder,
            watch_filter=relevant,
            step=debounce_ms,  # quiet time that ends a burst of changes
            debounce=max(1600, 4 * debounce_ms),  # the longest a burst is collected
            raise_interrupt=True,
        ):
            names = sorted({os.path.relpath(path, folder) for _, path in changes})
            failing = grade_once(
                root, manifest, console, changed=names, focus=failing, zygotes=zygotes
            )
            rounds += 1
            if max_rounds is not None and rounds >= max_rounds:
                break
    except KeyboardInterrupt:
        kill_all()
        console.print()
        console.print(Text(f"Stopped watching labs/{manifest.id}.", style="dim"))
    finally:
        zygotes.close()
    return 0


def _stamps(manifest: LabManifest, folder: Path) -> dict[str, tuple[int, int]]:
    """``{file: (size, mtime in ns)}`` of the learner files: enough to tell that one was saved."""
    stamps: dict[str, tuple[int, int]] = {}
    for path, rel in manifest.learner_files(folder):
        try:
            info = path.stat()
        except OSError:
            continue
        stamps[rel] = (info.st_size, info.st_mtime_ns)
    return stamps


def grade_once(
    root: Path,
    manifest: LabManifest,
    console: Console,
    changed: list[str],
    focus: list[TestMeta] | None = None,
    zygotes: ZygotePool | None = None,
) -> list[TestMeta]:
    """One grade of ``labs/<id>``, shown compactly; returns the tests that failed.

    With ``focus`` (the tests that failed last time, fewer than all), those run first: a learner
    fixing one test hears about it in the time of that test, not the whole lab. While any of them
    still fails, that is all that runs and the record is left alone (it is not a grade of the lab).
    Once they all pass, the full grade follows at once: only a full grade is saved, and only a full
    grade can say the lab is done (a change may have broken a test that passed before).
    """
    from labkit.grading.runner import grade

    folder = own_folder(root, manifest.id)
    if console.is_terminal:
        console.clear()
    when = datetime.now().strftime("%H:%M:%S")
    what = f"{', '.join(changed)} changed" if changed else "first grade"
    console.print(Text(f"── {when} · {manifest.id} · {what} ──", style="dim"))
    started = time.monotonic()
    if focus:
        options = _options(root, zygotes)
        options.expected = list(focus)
        with console.status(f"re-grading the {len(focus)} failing test(s)…", spinner="dots"):
            result = grade(manifest, folder, options)
        still = [t.meta for t in result.tests if not t.passed]
        if still:
            render_first_failure(
                result, console, problems=compile_problems(manifest, folder), summary=False
            )
            console.print(
                Text.assemble(
                    (f"{manifest.id} · {len(still)} of the {len(focus)} failing test(s) ", "bold"),
                    ("still fail", "bold red"),
                    f" · next: test {still[0].number} · {time.monotonic() - started:.1f} s",
                )
            )
            console.print(
                Text(
                    "Only the tests that failed last time were re-run; the whole lab is graded "
                    "(and saved) as soon as they pass.",
                    style="dim",
                )
            )
            return still
        console.print(
            Text(
                f"The {len(focus)} test(s) that failed now pass "
                f"({time.monotonic() - started:.1f} s); grading the whole lab…",
                style="dim",
            )
        )
    with console.status(f"grading {manifest.id}…", spinner="dots"):
        result = grade(manifest, folder, _options(root, zygotes))
    problems = compile_problems(manifest, folder)
    document = to_gradescope(result)
    if problems:
        document["extra_data"]["compile_errors"] = [p.summary() for p in problems]
    stamp_record(document, manifest, folder)
    write_json(record_path(root, manifest.id), document)
    render_first_failure(
        result,
        console,
        problems=problems,
        hints=hints_used(root, manifest.id),
        seconds=time.monotonic() - started,
    )
    failed = [t.meta for t in result.tests if not t.passed]
    return failed if len(failed) < len(result.tests) else []


def _options(root: Path, zygotes: ZygotePool | None = None) -> GradeOptions:
    from labkit.grading.runner import GradeOptions

    return GradeOptions(
        mode="learner",
        repo_root=root,
        protected=protected_folders(root),
        zygotes=zygotes,
    )
