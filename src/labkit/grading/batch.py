"""Instructor mode: grade every submission of a lab, in parallel, into a gradebook.

``labkit grade-all <id> --submissions DIR --out OUTDIR`` grades each sub-folder of DIR in its own
guarded child (``--jobs`` at a time) and writes:

- ``OUTDIR/<submission>/results.json`` (Gradescope schema), atomically, as each one finishes;
- ``OUTDIR/gradebook.csv``: one row for EVERY submission, whatever it did
  (status ``graded`` / ``timeout`` / ``crashed`` / ``invalid``), rewritten after each one;
- ``OUTDIR/summary.json``: mean, median, score distribution, pass rate per test;
- ``OUTDIR/report.html``: the class at a glance (see :mod:`labkit.grading.classreport`).

``--shard i/n`` grades only the submissions of shard i (see :mod:`labkit.grading.shard`); the
shards' folders are joined by ``labkit gradebook merge``.

Resumable: a submission is skipped (unless ``--force``) only if its results.json was produced from
the same submission *content* (the sha256 of its allow-listed files, see :func:`content_hash`), by
the same grader version, tests (hash) and seed. A resubmission (changed files in the same folder)
is regraded; the gradebook records the content hash each grade was computed from. The expected tests are collected once, up front, from the grader alone,
so a broken grader stops the batch before it grades anyone.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labkit.errors import LabkitError
from labkit.grading import GRADER_VERSION, identity
from labkit.grading.classreport import build_report
from labkit.grading.gradebook import compute_stats, row_from_results, write_gradebook
from labkit.grading.manifest import (
    LabManifest,
    compute_tests_hash,
    content_hash,
    protected_folders,
)
from labkit.grading.results import read_json, to_gradescope, write_json, write_text
from labkit.grading.runner import (
    GradeOptions,
    GradeResult,
    GradingError,
    Kind,
    Status,
    TestOutcome,
    collect_expected,
    grade,
    grading_root,
    kill_all,
    seed_label,
)
from labkit.grading.shard import Shard, listing_hash
from labkit.grading.spec import TestMeta


@dataclass
class BatchOptions:
    """How to run a batch."""

    jobs: int = 1
    force: bool = False
    hidden_tests: Path | None = None
    seed: int | None = None
    secret_seed: bool = False
    repo_root: Path | None = None
    shard: Shard | None = None
    report: bool = True


@dataclass
class BatchSummary:
    """What a batch did (also written to OUTDIR/summary.json)."""

    graded_now: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    elapsed: float = 0.0
    report_seconds: float = 0.0
    shard: Shard | None = None
    listed: int = 0


def list_submissions(folder: Path) -> list[Path]:
    """The entries of ``folder`` (one per learner), sorted; names starting with "." or "_" ignored.

    Files and symlinks are listed too: they are not gradable, but silently skipping them would
    lose a learner (``alice.zip`` uploaded instead of unzipped), so each gets an ``invalid`` row
    saying what to do.
    """
    if not folder.is_dir():
        if folder.is_file():
            raise LabkitError(
                f"--submissions must be a folder with one sub-folder per submission; {folder} is "
                "a file (unzip it first)"
            )
        raise LabkitError(f"submissions folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if not p.name.startswith((".", "_")))


def not_a_folder_reason(path: Path) -> str:
    """Why an entry of the submissions folder cannot be graded, or "" if it is a real folder."""
    if path.is_symlink():
        return f"invalid: {path.name} is a symlink; copy the submission in as a real folder"
    if path.is_dir():
        return ""
    if path.suffix.lower() in (".zip", ".tar", ".gz", ".tgz", ".7z"):
        return (
            f"invalid: {path.name} is an archive, not a folder; unpack it into "
            f"{path.name.split('.')[0]}/ and run grade-all again"
        )
    return f"invalid: {path.name} is a file, not a folder; put each submission in its own folder"


def _reuse(
    manifest: LabManifest,
    sub: Path,
    out_dir: Path,
    digest: str,
    shown_seed: str | int,
    summary: BatchSummary,
) -> bool:
    """Take a submission's earlier result into ``summary`` when it graded the same files, tests,
    seed and grader version; False when it must be graded (again)."""
    previous = read_json(out_dir / sub.name / "results.json")
    if previous is None or not _reusable(previous, content_hash(manifest, sub), digest, shown_seed):
        return False
    summary.skipped.append(sub.name)
    summary.rows[sub.name] = row_from_results(sub.name, previous)
    summary.docs[sub.name] = previous
    return True


def _write_summary(
    out_dir: Path,
    manifest: LabManifest,
    summary: BatchSummary,
    expected: list[TestMeta],
    digest: str,
    shown_seed: str | int,
    options: BatchOptions,
    listing: str,
) -> None:
    """summary.json: the class's statistics and what was graded how (and, for a shard, which
    share of which listing, so ``gradebook merge`` can check the shards fit together)."""
    record: dict[str, Any] = {
        **summary.stats,
        "lab": manifest.id,
        "tests_hash": digest,
        "seed": shown_seed,
        "grader_version": GRADER_VERSION,
        "expected": [m.to_dict() for m in expected],
    }
    if options.shard is not None:
        record["shard"] = {
            "index": options.shard.index,
            "count": options.shard.count,
            "listing": listing,
            "submissions": sorted(summary.rows),
        }
    write_json(out_dir / "summary.json", record)


def grade_all(
    manifest: LabManifest,
    submissions_dir: Path,
    out_dir: Path,
    options: BatchOptions,
    console: Console | None = None,
) -> BatchSummary:
    """Grade every submission; see the module docstring for what is written where."""
    console = console or Console(stderr=True)
    started = time.monotonic()
    submissions = list_submissions(submissions_dir)
    listing = listing_hash([p.name for p in submissions])
    summary = BatchSummary(shard=options.shard, listed=len(submissions))
    if options.shard is not None:
        submissions = [p for p in submissions if options.shard.owns(p.name)]
    out_dir.mkdir(parents=True, exist_ok=True)
    hidden = options.hidden_tests.resolve() if options.hidden_tests else None
    if hidden is not None and not hidden.is_dir():
        raise LabkitError(f"hidden tests folder not found: {hidden}")
    _, problem = identity.choose(sys.executable)
    if problem:  # docs/THREAT-MODEL.md, "Root": say once, up front, what isolation is missing
        console.print(
            f"note: grading as root, but {problem}; learner code runs as uid 0 with no "
            "capabilities instead",
            soft_wrap=True,
        )
    digest = compute_tests_hash(manifest, [hidden] if hidden else [])
    seed = manifest.seed if options.seed is None else options.seed
    shown_seed: str | int = seed_label(seed) if options.secret_seed else seed
    root = options.repo_root
    protected = [submissions_dir.resolve(), out_dir.resolve()]
    if root is not None:
        protected += protected_folders(root)
    base = Path(tempfile.mkdtemp(prefix="batch-", dir=grading_root()))
    try:
        common = GradeOptions(
            mode="instructor",
            seed=seed,
            secret_seed=options.secret_seed,
            hidden_tests=hidden,
            protected=protected,
            repo_root=root,
            work_base=base,
            digest=digest,
        )
        expected = collect_expected(manifest, common)
        common.expected = expected
        todo = [
            sub
            for sub in submissions
            if options.force or not _reuse(manifest, sub, out_dir, digest, shown_seed, summary)
        ]
        write_gradebook(out_dir, summary.rows, expected)
        if summary.skipped:
            console.print(
                f"[dim]{len(summary.skipped)} already graded from the same files, tests and seed (use --force to "
                "regrade)[/dim]"
            )
        _run_pool(manifest, todo, out_dir, common, options.jobs, summary, expected, console)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    summary.stats = compute_stats(summary.rows, expected)
    _write_summary(out_dir, manifest, summary, expected, digest, shown_seed, options, listing)
    if options.report:
        report_started = time.monotonic()
        html = build_report(manifest.id, summary.rows, summary.docs, summary.stats, expected)
        write_text(out_dir / "report.html", html)
        summary.report_seconds = time.monotonic() - report_started
    summary.elapsed = time.monotonic() - started
    return summary


def _run_pool(
    manifest: LabManifest,
    todo: list[Path],
    out_dir: Path,
    common: GradeOptions,
    jobs: int,
    summary: BatchSummary,
    expected: list[TestMeta],
    console: Console,
) -> None:
    """Grade ``todo`` with ``jobs`` grading children at a time (each child is its own process;
    these threads only supervise them, so a hang or crash costs one submission, never the batch)."""
    if not todo:
        return
    progress = Progress(
        TextColumn("[bold]grading[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=False,
    )
    task = progress.add_task("", total=len(todo))

    def work(sub: Path) -> tuple[GradeResult, str]:
        # Hashed just before grading: if the learner's files change while the batch runs, the
        # recorded hash is the one of the files this grade was computed from (or older), so the
        # next run regrades rather than trusting a stale grade.
        graded_hash = content_hash(manifest, sub)
        return _grade_one(manifest, sub, common, expected), graded_hash

    with progress, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures: dict[Future[tuple[GradeResult, str]], Path] = {
            pool.submit(work, sub): sub for sub in todo
        }
        try:
            for future in as_completed(futures):
                sub = futures[future]
                result, graded_hash = future.result()
                document = to_gradescope(result)
                document.setdefault("extra_data", {})["content_hash"] = graded_hash
                write_json(out_dir / sub.name / "results.json", document)
                summary.rows[sub.name] = row_from_results(sub.name, document)
                summary.docs[sub.name] = document
                summary.graded_now.append(sub.name)
                write_gradebook(out_dir, summary.rows, expected)
                progress.update(
                    task,
                    advance=1,
                    description=escape(
                        f"{sub.name}: {result.score:g}/{result.max_score:g} {result.status}"
                    ),
                )
        except KeyboardInterrupt:
            for pending in futures:
                pending.cancel()
            kill_all()
            raise


def _grade_one(
    manifest: LabManifest, sub: Path, common: GradeOptions, expected: list[TestMeta]
) -> GradeResult:
    """Grade one submission; an error of the grader itself becomes a ``crashed`` result, so the
    submission still gets its gradebook row."""
    started = time.monotonic()
    status: Status = "crashed"
    kind: Kind = "crash"
    reason = not_a_folder_reason(sub)
    if reason:
        status, kind = "invalid", "invalid"
    else:
        try:
            return grade(manifest, sub, common, display=sub.name)
        except (GradingError, OSError) as exc:
            reason = f"crash: grading could not run: {exc}"
    tests = [TestOutcome(m, kind, 0.0, reason) for m in expected]
    return GradeResult(
        manifest.id,
        manifest.title,
        sub.name,
        "instructor",
        status,
        tests,
        [],
        time.monotonic() - started,
        seed_label(common.seed or 0) if common.secret_seed else common.seed or 0,
        common.digest or "",
        notes=[reason],
    )


def _reusable(
    previous: dict[str, Any] | None, content: str, digest: str, seed_label: str | int
) -> bool:
    """A previous grade stands only for the same content, grader version, tests and seed."""
    if previous is None:
        return False
    extra = previous.get("extra_data") or {}
    return (
        extra.get("content_hash") == content
        and extra.get("grader_version") == GRADER_VERSION
        and extra.get("tests_hash") == digest
        and extra.get("seed") == seed_label
    )


def render_summary(summary: BatchSummary, out_dir: Path, console: Console) -> None:
    """Print the batch summary: statuses, mean/median, a distribution, pass rate per test."""
    stats = summary.stats
    console.print()
    where = escape(f"{out_dir}/gradebook.csv")
    shard = f"shard {summary.shard} ({summary.listed} listed in all), " if summary.shard else ""
    console.print(
        f"[bold]{stats['submissions']} submissions[/bold] in {where}  "
        f"({shard}graded now: {len(summary.graded_now)}, reused: {len(summary.skipped)}, "
        f"{summary.elapsed:.1f} s)"
    )
    statuses = ", ".join(f"{k} {v}" for k, v in stats["statuses"].items())
    console.print(f"mean {stats['mean_percent']}% · median {stats['median_percent']}% · {statuses}")
    dist = Table(box=None, show_header=False, padding=(0, 1))
    top = max((d["count"] for d in stats["distribution"]), default=0) or 1
    for d in stats["distribution"]:
        bar = "█" * round(20 * d["count"] / top)
        dist.add_row(d["range"], f"[cyan]{bar}[/cyan]", str(d["count"]))
    console.print(dist)
    tests = Table(title="pass rate per test", box=None, padding=(0, 1), title_justify="left")
    tests.add_column("test", style="dim")
    tests.add_column("name")
    tests.add_column("passed", justify="right")
    for t in stats["tests"]:
        tests.add_row(
            t["number"],
            # escape: a parametrized test's name ends in "[openai]", which rich would otherwise
            # swallow as a style tag, leaving two different tests with the same name
            escape(t["name"]) + (" (hidden)" if t["visibility"] == "hidden" else ""),
            f"{t['passed']}/{t['graded']} ({100 * t['pass_rate']:.0f}%)",
        )
    console.print(tests)
    if (out_dir / "report.html").is_file():
        console.print(
            f"class report: {escape(str(out_dir / 'report.html'))}  (open it in a browser)"
        )
