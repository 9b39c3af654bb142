"""Learner sub-commands around grading: ``hint``, ``watch`` and ``reset``.

``labkit hint <lab> [<test>]`` reveals hint tiers one at a time (see hints.py); ``labkit watch
<lab>`` re-grades whenever a file of the lab changes (see watch.py); ``labkit reset <lab>`` puts a
lab back to its starter after saving the learner's files aside.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.text import Text

from labkit.errors import LabkitError
from labkit.grading.cli import lab_command
from labkit.grading.hints import TIER_NAMES, reveal
from labkit.grading.manifest import LabManifest, find_lab, repo_root
from labkit.grading.records import RESULTS_DIR, own_folder


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``hint``, ``watch`` and ``reset`` to the ``labkit`` parser."""
    hint = lab_command(
        subparsers,
        "hint",
        cmd_hint,
        help="reveal the next hint for your first failing test",
        description="Reveal the next hint tier (nudge, concept, near-solution) for the first "
        "failing test of your last grade, or for the test you name. Revealed hints are remembered.",
    )
    hint.add_argument("test", nargs="?", help="test number (default: the first failing one)")

    watch = lab_command(
        subparsers,
        "watch",
        cmd_watch,
        help="re-grade a lab whenever you save one of its files",
        description="Grade labs/<id> now and again after every save; show the first failing test.",
    )
    watch.add_argument(
        "--debounce", type=int, default=600, help="ms of quiet before re-grading (default 600)"
    )

    lab_command(
        subparsers,
        "reset",
        cmd_reset,
        help="put a lab back to its starter (your files are saved aside first)",
        description="Copy your files of labs/<id> to .labkit/saved/<id>-<time>/, then restore the "
        "starter version of each from git.",
    )


def cmd_hint(args: argparse.Namespace) -> int:
    """Show the tiers revealed so far for a test, one more than last time."""
    root = repo_root()
    manifest = find_lab(root, args.lab)
    view = reveal(root, manifest, args.test)
    console = Console()
    console.print(Text.assemble(("test ", "bold"), (view.number, "bold"), f"  {view.name}"))
    if view.reason:
        first = view.reason.splitlines()[0]
        first = first if len(first) <= 240 else first[:239] + "…"
        console.print(Text.assemble(("why   ", "bold red"), first))
    for i, tier in enumerate(view.tiers):
        label = f"hint {i + 1}/{view.available} ({TIER_NAMES[i]})"
        fresh = view.new and i == len(view.tiers) - 1
        console.print(Text.assemble((label, "bold cyan" if fresh else "cyan"), "  ", tier))
    if len(view.tiers) >= view.available:
        console.print(Text("That is every hint for this test.", style="dim"))
    else:
        again = (
            f"make hint LAB={manifest.id} TEST={view.number}"
            if os.environ.get("MAKELEVEL")
            else f"labkit hint {manifest.id} {view.number}"
        )
        console.print(Text(f"{again} shows the next one.", style="dim"))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Grade, then re-grade on every save, until Ctrl-C."""
    from labkit.grading.watch import watch

    root = repo_root()
    manifest = find_lab(root, args.lab)
    return watch(root, manifest, Console(), debounce_ms=max(50, args.debounce))


def cmd_reset(args: argparse.Namespace) -> int:
    """Save the learner's files of a lab aside, then restore the starter from git."""
    root = repo_root()
    manifest = find_lab(root, args.lab)
    saved, restored = reset_lab(root, manifest)
    console = Console()
    console.print(f"Saved your files to {saved.relative_to(root)}/")
    console.print(f"Restored the starter of {manifest.id}: {', '.join(restored)}")
    return 0


def reset_lab(root: Path, manifest: LabManifest, ref: str | None = None) -> tuple[Path, list[str]]:
    """Copy the lab's files aside, then put back the course's version of each.

    The starter is what git holds for ``labs/<id>`` at the course's own commit: ``origin/HEAD``
    when the checkout has it (a learner's commits of their work are then not mistaken for the
    starter), else ``HEAD``. Nothing is changed if git cannot provide every file.
    """
    folder = own_folder(root, manifest.id)
    files = manifest.learner_files(folder) if folder.is_dir() else []
    base = ref or _starter_ref(root)
    starter: dict[str, bytes] = {}
    for rel in _tracked_starter_files(root, manifest, base):
        shown = subprocess.run(
            ["git", "show", f"{base}:labs/{manifest.id}/{rel}"],
            cwd=root,
            capture_output=True,
            check=False,
        )
        if shown.returncode != 0:
            raise LabkitError(f"git has no starter for labs/{manifest.id}/{rel} at {base}")
        starter[rel] = shown.stdout
    if not starter:
        raise LabkitError(f"git has no starter files for labs/{manifest.id} at {base}")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    saved = root / RESULTS_DIR.parent / "saved" / f"{manifest.id}-{stamp}"
    for path, rel in files:
        target = saved / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    saved.mkdir(parents=True, exist_ok=True)
    for rel, content in starter.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return saved, sorted(starter)


def _starter_ref(root: Path) -> str:
    for ref in ("origin/HEAD", "HEAD"):
        probe = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", ref],
            cwd=root,
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return ref
    raise LabkitError("make reset needs the course's git history (this folder is not a git clone)")


def _tracked_starter_files(root: Path, manifest: LabManifest, ref: str) -> list[str]:
    """The lab's allow-listed files as git holds them at ``ref`` (globs matched like the grader)."""
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", ref, "--", f"labs/{manifest.id}/"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    prefix = f"labs/{manifest.id}/"
    names = [n[len(prefix) :] for n in listed.stdout.splitlines() if n.startswith(prefix)]
    from fnmatch import fnmatch

    return [n for n in names if any(n == pat or fnmatch(n, pat) for pat in manifest.files)]
