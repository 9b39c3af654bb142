"""Sub-commands ``grade``, ``grade-all`` and ``list`` (registered into the ``labkit`` dispatcher).

Exit codes: 0 whenever grading ran, whatever the score; 2 for usage or infrastructure problems
(unknown lab, missing folder, a broken grader), always as one line.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from labkit.datasets.paths import relative_path
from labkit.errors import LabkitError
from labkit.grading.hints import hints_used
from labkit.grading.manifest import LabManifest, find_lab, protected_folders, repo_root
from labkit.grading.records import (
    dir_option,
    is_own_folder,
    other_path,
    own_folder,
    record_path,
    stamp_record,
)
from labkit.grading.results import to_gradescope, write_json

if TYPE_CHECKING:
    from labkit.grading.runner import GradeOptions
    from labkit.grading.spec import TestMeta


def lab_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str | None = None,
    lab_help: str = "lab id",
) -> argparse.ArgumentParser:
    """Add the sub-command ``name`` that acts on one lab, and return its parser for the options.

    Every lab command (grade, hint, autograde...) takes the lab id as its first argument and runs
    through ``func`` (``labkit.cli`` dispatches on it); declaring them all here keeps that the same
    for each, learner and instructor commands alike.
    """
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.add_argument("lab", help=lab_help)
    parser.set_defaults(func=func)
    return parser


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``grade``, ``grade-all`` and ``list`` to the ``labkit`` parser."""
    grade = lab_command(
        subparsers,
        "grade",
        cmd_grade,
        help="grade your work on a lab",
        description="Grade the learner files of a lab (default folder: labs/<id>).",
        lab_help="lab id (labkit list shows them)",
    )
    grade.add_argument("--dir", help="folder to grade instead of labs/<id>")
    grade.add_argument("--json", dest="json_out", help="also write results.json (Gradescope) here")
    grade.add_argument(
        "--test", help="grade only this test (its number, e.g. 1.3; 4.1 includes 4.1.1, 4.1.2)"
    )

    batch = lab_command(
        subparsers,
        "grade-all",
        cmd_grade_all,
        help="instructor: grade every submission of a lab into a gradebook",
        description="Grade each sub-folder of --submissions; write OUTDIR/gradebook.csv and "
        "OUTDIR/<submission>/results.json.",
    )
    batch.add_argument("--submissions", required=True, help="folder with one sub-folder each")
    batch.add_argument("--out", required=True, help="output folder")
    batch.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    batch.add_argument("--force", action="store_true", help="regrade already graded submissions")
    batch.add_argument("--hidden-tests", help="folder of extra test_*.py files (always hidden)")
    batch.add_argument(
        "--seed", help="secret seed for lab_seed (default: $LABKIT_SECRET_SEED, else the lab's)"
    )
    batch.add_argument(
        "--shard", help="i/n: grade only shard i of n (join shards with labkit gradebook merge)"
    )

    listing = subparsers.add_parser("list", help="the labs, with your current status")
    listing.set_defaults(func=cmd_list)


def cmd_grade(args: argparse.Namespace) -> int:
    """Learner mode: grade one folder, print the report, save results."""
    from labkit.grading.compiles import compile_problems
    from labkit.grading.report import render
    from labkit.grading.runner import GradeOptions, grade, kill_all

    root = repo_root()
    manifest = find_lab(root, args.lab)
    folder = Path(args.dir) if args.dir else own_folder(root, manifest.id)
    flag = dir_option()
    if not folder.is_dir():
        raise LabkitError(f"folder not found: {folder} (grade another one with {flag}<folder>)")
    own = is_own_folder(root, manifest.id, folder)
    if not own and not manifest.learner_files(folder):
        raise LabkitError(
            f"{folder} holds none of {manifest.id}'s files ({', '.join(manifest.files)}): "
            f"{flag}<folder> must name a folder like labs/{manifest.id}"
        )
    options = GradeOptions(
        mode="learner",
        repo_root=root,
        protected=protected_folders(root),
    )
    only = getattr(args, "test", None)
    if only:
        options.expected = select_tests(manifest, options, only)
    console = Console()
    try:
        with console.status(f"grading {manifest.id}…", spinner="dots"):
            result = grade(manifest, folder, options)
    except KeyboardInterrupt:
        kill_all()
        raise
    problems = compile_problems(manifest, folder)
    document = to_gradescope(result)
    if problems:
        document["extra_data"]["compile_errors"] = [p.summary() for p in problems]
    if only:  # one test is not a grade of the lab: report it, keep the record as it is
        render(
            result,
            console,
            saved_note=f"only test {only} was graded: your record is unchanged",
            problems=problems,
            hints=hints_used(root, manifest.id),
            only=only,
        )
        return 0
    # Only labs/<id> is the learner's record; any other folder is kept apart (see records.py).
    if own:
        stamp_record(document, manifest, folder)
    saved = record_path(root, manifest.id) if own else other_path(root, manifest.id, folder)
    write_json(saved, document)
    if args.json_out:
        write_json(Path(args.json_out), document)
    note = None if own else f"kept apart: your labs/{manifest.id} record is unchanged"
    render(
        result,
        console,
        saved_to=relative_path(saved, outside=True) or saved,
        saved_note=note,
        problems=problems,
        hints=hints_used(root, manifest.id) if own else 0,
    )
    return 0


def cmd_grade_all(args: argparse.Namespace) -> int:
    """Instructor mode: grade a folder of submissions in parallel into a gradebook."""
    from labkit.grading.batch import BatchOptions, grade_all, render_summary
    from labkit.grading.shard import parse_shard

    shard = parse_shard(args.shard) if args.shard else None
    root = repo_root()
    manifest = find_lab(root, args.lab)
    if args.jobs < 1:
        raise LabkitError("--jobs must be at least 1")
    raw_seed = args.seed if args.seed is not None else os.environ.get("LABKIT_SECRET_SEED")
    options = BatchOptions(
        jobs=args.jobs,
        force=args.force,
        hidden_tests=Path(args.hidden_tests) if args.hidden_tests else None,
        seed=parse_seed(raw_seed) if raw_seed else None,
        secret_seed=bool(raw_seed),
        repo_root=root,
        shard=shard,
    )
    out_dir = Path(args.out)
    console = Console(stderr=True)
    summary = grade_all(manifest, Path(args.submissions), out_dir, options, console)
    render_summary(summary, out_dir, console)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """The progress board: the labs in course order, the learner's standing, the next lab."""
    from labkit.grading.board import board_rows, render_board

    root = repo_root()
    console = Console()
    with console.status("Counting each lab's points (collected once per grader version)..."):
        rows = board_rows(root)
    render_board(rows, console)
    return 0


def select_tests(manifest: LabManifest, options: GradeOptions, number: str) -> list[TestMeta]:
    """The expected tests whose number is ``number`` or starts with it ("4.1" → 4.1.1, 4.1.2)."""
    from labkit.grading.runner import collect_expected

    every = collect_expected(manifest, options)
    chosen = [m for m in every if m.number == number or m.number.startswith(number + ".")]
    if not chosen:
        known = ", ".join(m.number for m in every if m.visibility != "hidden")
        raise LabkitError(f"{manifest.id} has no test {number}; its tests: {known}")
    return chosen


def parse_seed(raw: str) -> int:
    """An integer seed, or any phrase hashed to one (instructors may prefer a passphrase)."""
    text = raw.strip()
    try:
        return int(text)
    except ValueError:
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % 2**31
