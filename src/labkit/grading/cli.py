"""Sub-commands ``grade``, ``grade-all`` and ``list`` (registered into the ``labkit`` dispatcher).

Exit codes: 0 whenever grading ran, whatever the score; 2 for usage or infrastructure problems
(unknown lab, missing folder, a broken grader), always as one line.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from labkit.errors import LabkitError
from labkit.grading.manifest import discover_labs, find_lab, repo_root
from labkit.grading.results import read_json, score_text, to_gradescope, write_json

RESULTS_DIR = Path(".labkit") / "results"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``grade``, ``grade-all`` and ``list`` to the ``labkit`` parser."""
    grade = subparsers.add_parser(
        "grade",
        help="grade your work on a lab",
        description="Grade the learner files of a lab (default folder: labs/<id>).",
    )
    grade.add_argument("lab", help="lab id (labkit list shows them)")
    grade.add_argument("--dir", help="folder to grade instead of labs/<id>")
    grade.add_argument("--json", dest="json_out", help="also write results.json (Gradescope) here")
    grade.set_defaults(func=cmd_grade)

    batch = subparsers.add_parser(
        "grade-all",
        help="instructor: grade every submission of a lab into a gradebook",
        description="Grade each sub-folder of --submissions; write OUTDIR/gradebook.csv and "
        "OUTDIR/<submission>/results.json.",
    )
    batch.add_argument("lab", help="lab id")
    batch.add_argument("--submissions", required=True, help="folder with one sub-folder each")
    batch.add_argument("--out", required=True, help="output folder")
    batch.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    batch.add_argument("--force", action="store_true", help="regrade already graded submissions")
    batch.add_argument("--hidden-tests", help="folder of extra test_*.py files (always hidden)")
    batch.add_argument(
        "--seed", help="secret seed for lab_seed (default: $LABKIT_SECRET_SEED, else the lab's)"
    )
    batch.set_defaults(func=cmd_grade_all)

    listing = subparsers.add_parser("list", help="the labs, with your current status")
    listing.set_defaults(func=cmd_list)


def cmd_grade(args: argparse.Namespace) -> int:
    """Learner mode: grade one folder, print the report, save results."""
    from labkit.grading.report import render
    from labkit.grading.runner import GradeOptions, grade, kill_all

    root = repo_root()
    manifest = find_lab(root, args.lab)
    folder = Path(args.dir) if args.dir else root / "labs" / manifest.id
    if not folder.is_dir():
        raise LabkitError(f"folder not found: {folder} (grade another one with --dir PATH)")
    options = GradeOptions(
        mode="learner",
        repo_root=root,
        protected=[root / "graders", root / "solutions", root / ".labkit"],
    )
    console = Console()
    try:
        with console.status(f"grading {manifest.id}…", spinner="dots"):
            result = grade(manifest, folder, options)
    except KeyboardInterrupt:
        kill_all()
        raise
    document = to_gradescope(result)
    saved = root / RESULTS_DIR / f"{manifest.id}.json"
    write_json(saved, document)
    if args.json_out:
        write_json(Path(args.json_out), document)
    render(result, console, saved_to=_relative(saved))
    return 0


def cmd_grade_all(args: argparse.Namespace) -> int:
    """Instructor mode: grade a folder of submissions in parallel into a gradebook."""
    from labkit.grading.batch import BatchOptions, grade_all, render_summary

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
    )
    out_dir = Path(args.out)
    console = Console(stderr=True)
    summary = grade_all(manifest, Path(args.submissions), out_dir, options, console)
    render_summary(summary, out_dir, console)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """The labs in course order, with the learner's latest result for each."""
    root = repo_root()
    labs = discover_labs(root)
    console = Console()
    if not labs:
        console.print("No labs yet (graders/<id>/lab.toml).")
        return 0
    table = Table(box=None, padding=(0, 2), header_style="bold")
    table.add_column("lab")
    table.add_column("title")
    table.add_column("status", justify="right")
    for lab in labs:
        data = read_json(root / RESULTS_DIR / f"{lab.id}.json")
        if data is None:
            status = "[dim]not graded yet[/dim]"
        else:
            text = score_text(data)
            earned, total = text.split()[0].split("/")
            style = "green" if earned == total else "yellow"
            status = f"[{style}]{text}[/{style}]"
        table.add_row(lab.id, lab.title, status)
    console.print(table)
    console.print("[dim]Grade one with: make grade LAB=<lab>[/dim]")
    return 0


def parse_seed(raw: str) -> int:
    """An integer seed, or any phrase hashed to one (instructors may prefer a passphrase)."""
    text = raw.strip()
    try:
        return int(text)
    except ValueError:
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % 2**31


def _relative(path: Path) -> Path:
    try:
        return Path(os.path.relpath(path))
    except ValueError:
        return path
