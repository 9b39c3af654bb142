"""Instructor sub-commands: ``export``, ``autograde``, ``classroom-result``, ``gradebook`` and
``similarity`` (registered into the ``labkit`` dispatcher).

Like ``grade``: exit 0 when the work was done, 2 with one line for anything a person must fix.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from labkit.errors import LabkitError
from labkit.grading.cli import lab_command
from labkit.grading.manifest import find_lab, protected_folders, repo_root


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the instructor commands to the ``labkit`` parser."""
    export = subparsers.add_parser(
        "export", help="instructor: hand the course out (student repository, Gradescope zip)"
    )
    kinds = export.add_subparsers(dest="kind", metavar="KIND", required=True)
    student = kinds.add_parser(
        "student",
        help="a clean, git-ready copy for students: starters and visible graders, no solutions",
    )
    student.add_argument("out", help="a new folder")
    student.add_argument(
        "--labs", help="comma-separated labs for the Classroom workflow (default: all)"
    )
    student.add_argument(
        "--strict", action="store_true", help="refuse to export if any reference code is found"
    )
    student.set_defaults(func=cmd_export_student)
    gradescope = lab_command(
        kinds, "gradescope", cmd_export_gradescope, help="a Gradescope autograder zip for one lab"
    )
    gradescope.add_argument("out", help="the .zip to write")
    gradescope.add_argument("--hidden-tests", help="folder of extra test_*.py files (hidden)")
    gradescope.add_argument(
        "--seed", help="secret seed for lab_seed (default: $LABKIT_SECRET_SEED, else the lab's)"
    )

    autograde = lab_command(
        subparsers,
        "autograde",
        cmd_autograde,
        help="grade one submission in instructor mode into results.json (Gradescope's run_autograder)",
    )
    autograde.add_argument("--submission", required=True, help="the uploaded files' folder")
    autograde.add_argument("--results", required=True, help="results.json to write")
    autograde.add_argument("--hidden-tests", help="folder of hidden test_*.py files")
    autograde.add_argument("--seed-file", help="file holding the secret seed (if it exists)")

    lab_command(
        subparsers,
        "classroom-result",
        cmd_classroom_result,
        help="print a lab's last grade as GitHub Classroom's reporter reads it (result=<base64>)",
    )

    gradebook = subparsers.add_parser("gradebook", help="instructor: gradebook tools")
    actions = gradebook.add_subparsers(dest="action", metavar="ACTION", required=True)
    merge = actions.add_parser(
        "merge", help="join the output folders of grade-all --shard i/n into one gradebook"
    )
    merge.add_argument("out", help="output folder for the merged gradebook")
    merge.add_argument("shards", nargs="+", help="each shard's grade-all output folder")
    merge.set_defaults(func=cmd_gradebook_merge)

    similarity = lab_command(
        subparsers,
        "similarity",
        cmd_similarity,
        help="instructor: rank pairs of submissions by code similarity (copydetect)",
    )
    similarity.add_argument("--submissions", required=True, help="folder with one sub-folder each")
    similarity.add_argument("--out", help="HTML report to write (default: similarity.html)")
    similarity.add_argument(
        "--top", type=int, default=20, help="pairs shown with their highlighted code (default 20)"
    )


def cmd_export_student(args: argparse.Namespace) -> int:
    from labkit.grading.export import export_student

    root = repo_root()
    labs = [x.strip() for x in args.labs.split(",") if x.strip()] if args.labs else None
    report = export_student(root, Path(args.out), labs, strict=args.strict)
    console = Console()
    for leak in report.leaks:
        console.print(
            f"[yellow]warning[/yellow]: reference code in the export: {escape(leak)}",
            soft_wrap=True,
        )
    console.print(
        f"wrote {report.files} files to {escape(str(report.out))} "
        f"(labs: {', '.join(report.labs)}); no solutions, hidden tests or instructor material."
    )
    console.print(
        "[dim]Next: cd there, git init && git add -A && git commit -m 'Course', push it, and mark "
        "the repository as a template (its .github/workflows/classroom.yml grades each push).[/dim]"
    )
    return 0


def cmd_export_gradescope(args: argparse.Namespace) -> int:
    from labkit.grading.export import export_gradescope

    root = repo_root()
    seed = args.seed if args.seed is not None else os.environ.get("LABKIT_SECRET_SEED")
    bundle = export_gradescope(
        root,
        args.lab,
        Path(args.out),
        hidden_tests=Path(args.hidden_tests) if args.hidden_tests else None,
        seed=seed,
    )
    Console().print(
        f"wrote {escape(str(bundle.path))}: {bundle.files} files, "
        f"{bundle.hidden_tests} hidden test file(s), "
        f"{'a secret seed' if bundle.secret_seed else 'the lab default seed'}. "
        "Upload it as the assignment's autograder (Ubuntu base image)."
    )
    return 0


def cmd_autograde(args: argparse.Namespace) -> int:
    """Grade one upload; always leave a results.json Gradescope can show, even on failure."""
    from labkit.grading.cli import parse_seed
    from labkit.grading.export import find_submission
    from labkit.grading.manifest import content_hash
    from labkit.grading.results import to_gradescope, write_json
    from labkit.grading.runner import GradeOptions, GradingError, grade

    root = repo_root()
    results = Path(args.results)
    try:
        manifest = find_lab(root, args.lab)
        upload = Path(args.submission)
        if not upload.is_dir():
            raise LabkitError(f"submission folder not found: {upload}")
        folder = find_submission(manifest, upload)
        seed_file = Path(args.seed_file) if args.seed_file else None
        raw = seed_file.read_text("utf-8").strip() if seed_file and seed_file.is_file() else ""
        hidden = Path(args.hidden_tests) if args.hidden_tests else None
        protected = protected_folders(root)
        protected += [p for p in (hidden, seed_file) if p is not None]
        options = GradeOptions(
            mode="instructor",
            seed=parse_seed(raw) if raw else None,
            secret_seed=bool(raw),
            hidden_tests=hidden if hidden and hidden.is_dir() else None,
            protected=protected,
            repo_root=root,
        )
        result = grade(manifest, folder, options, display="submission")
    except (LabkitError, GradingError, OSError) as exc:
        write_json(
            results,
            {
                "score": 0,
                "output": f"The autograder could not grade this submission: {exc}",
                "visibility": "visible",
                "tests": [],
                "extra_data": {"lab": args.lab, "status": "error"},
            },
        )
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    document = to_gradescope(result)
    document["extra_data"]["content_hash"] = content_hash(manifest, folder)
    write_json(results, document)
    print(f"{manifest.id}: {result.score:g}/{result.max_score:g} ({result.status}) -> {results}")
    return 0


def cmd_classroom_result(args: argparse.Namespace) -> int:
    from labkit.grading.classroom import classroom_result, output_line
    from labkit.grading.records import record_path
    from labkit.grading.results import read_json

    root = repo_root()
    manifest = find_lab(root, args.lab)
    document = read_json(record_path(root, manifest.id))
    print(output_line(classroom_result(document, manifest.id)))
    return 0


def cmd_gradebook_merge(args: argparse.Namespace) -> int:
    from labkit.grading.shard import merge

    result = merge(Path(args.out), [Path(s) for s in args.shards])
    Console().print(
        f"merged {result.shards} shards: {result.submissions} submissions in "
        f"{escape(str(result.out / 'gradebook.csv'))} (report: "
        f"{escape(str(result.out / 'report.html'))})"
    )
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
    from labkit.grading.similarity import find_similar, render_console

    root = repo_root()
    manifest = find_lab(root, args.lab)
    out = Path(args.out) if args.out else Path("similarity.html")
    report = find_similar(
        manifest, root / "labs" / manifest.id, Path(args.submissions), out, args.top
    )
    render_console(report, Console())
    return 0
