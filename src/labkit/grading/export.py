"""Hand the course out: a clean student repository, and Gradescope autograder bundles.

``labkit export student OUT`` copies the course into a new folder learners can push as a template
repository: every lab's starter (``labs/``), its visible grader (``graders/``), the toolkit and the
data sets, plus a GitHub Classroom workflow (``.github/workflows/classroom.yml``, see
:mod:`labkit.grading.classroom`). It leaves out ``solutions/``, hidden tests, the project's own
tests and benchmarks, CI and the instructor's docs, and it refuses to finish if any reference
function body is still in the copy (:func:`labkit.grading.leaks.reference_leaks`).

``labkit export gradescope <lab> OUT.zip`` builds a Gradescope autograder (Gradescope unpacks the
zip into ``/autograder/source``): the student export of the course, the instructor's hidden tests and secret seed, ``setup.sh`` (installs the pinned
environment with ``make setup``) and ``run_autograder`` (grades ``/autograder/submission`` in
instructor mode and writes ``/autograder/results/results.json``).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import stat
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from labkit.errors import LabkitError
from labkit.grading.leaks import function_bodies, reference_leaks
from labkit.grading.manifest import LabManifest, discover_labs, find_lab

__all__ = [
    "EXCLUDED",
    "ExportReport",
    "GradescopeBundle",
    "course_files",
    "excluded",
    "export_gradescope",
    "export_student",
    "find_submission",
    "function_bodies",
    "reference_leaks",
]

# Never in a student's copy: reference code, the project's own tests (their fixtures include
# reference solutions), benchmarks, CI, instructor docs, and anything a grader keeps hidden.
EXCLUDED = (
    "solutions/*",
    "tests/*",
    "benchmarks/*",
    ".ci/*",
    ".github/*",
    "docs/GRADING.md",
    "docs/THREAT-MODEL.md",
    "graders/*/hidden/*",
    "graders/*/build_*.py",  # fixture builders: they import solutions/
    ".labkit/*",
    ".venv/*",
)
_JUNK_PARTS = {
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".labkit",
    ".ipynb_checkpoints",
}
_INSTRUCTOR_SECTION = "## For instructors"
_HIDDEN_MARKERS = ('visibility="hidden"', "visibility='hidden'")


def course_files(root: Path) -> list[str]:
    """The course's files as relative posix paths: what git tracks plus new files it does not
    ignore (so ignored build output, caches and results never leak), or, outside a git checkout,
    every file but caches and the venv."""
    if (root / ".git").exists():
        try:
            out = subprocess.run(
                [
                    "git",
                    "-C",
                    str(root),
                    "ls-files",
                    "-z",
                    "--cached",
                    "--others",
                    "--exclude-standard",
                ],
                check=True,
                capture_output=True,
            ).stdout
            tracked = [p for p in out.decode().split("\0") if p]
            return sorted(p for p in tracked if (root / p).is_file())
        except (OSError, subprocess.CalledProcessError):
            pass
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not _JUNK_PARTS & set(p.relative_to(root).parts)
    )


def excluded(rel: str) -> bool:
    """True if ``rel`` must never reach a student's copy."""
    parts = PurePosixPath(rel).parts
    if _JUNK_PARTS & set(parts) or rel.endswith(".pyc"):
        return True
    return any(fnmatch.fnmatch(rel, pattern) for pattern in EXCLUDED)


@dataclass
class ExportReport:
    """What an export wrote."""

    out: Path
    files: int
    labs: list[str]
    leaks: list[str]


def export_student(
    root: Path,
    out: Path,
    labs: list[str] | None = None,
    strict: bool = False,
    allow_hidden: bool = False,
) -> ExportReport:
    """Write the student copy of the course at ``root`` into the new folder ``out``.

    Every file is checked against the reference solutions (:func:`reference_leaks`). A leak is
    reported, and with ``strict`` the export is refused and removed: a grader's oracle that
    re-implements the answer, or a toolkit helper equal to a reference function, would hand the
    answer to every student.
    """
    from labkit.grading.classroom import write_workflow

    _check_out(root, out)
    manifests = discover_labs(root)
    chosen = manifests if not labs else [find_lab(root, lab) for lab in labs]
    if not allow_hidden:  # a Gradescope bundle is never seen by students
        _refuse_hidden_tests(manifests)
    files = [rel for rel in course_files(root) if not excluded(rel)]
    out.mkdir(parents=True)
    try:
        for rel in files:
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, target)
        readme = out / "README.md"
        if readme.is_file():
            readme.write_text(_without_instructor_section(readme.read_text("utf-8")), "utf-8")
        write_workflow(out, chosen)
        leaks = reference_leaks(out, root)
        if leaks and strict:
            raise LabkitError(
                f"refusing to export (--strict): {leaks[0]} is reference code "
                f"({len(leaks)} leak(s)); remove it from the course's student files"
            )
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # never leave half an export that looks complete
        raise
    count = sum(1 for p in out.rglob("*") if p.is_file())
    return ExportReport(out, count, [m.id for m in chosen], leaks)


def _check_out(root: Path, out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LabkitError(f"{out} already exists and is not empty; export into a new folder")
    resolved = out.resolve()
    if resolved == root or root in resolved.parents:
        raise LabkitError(f"{out} is inside the course; export to a folder outside {root}")


def _refuse_hidden_tests(manifests: list[LabManifest]) -> None:
    """Hidden tests belong in a separate folder (``--hidden-tests``); inside a grader they would
    ship to every student, so the export stops and says where they are."""
    for manifest in manifests:
        for path in manifest.test_files():
            if path.suffix != ".py":
                continue
            text = path.read_text("utf-8", errors="replace")
            if any(marker in text for marker in _HIDDEN_MARKERS):
                raise LabkitError(
                    f"graders/{manifest.id}/{path.relative_to(manifest.grader_dir).as_posix()} "
                    "declares hidden tests; move them to a folder you pass with --hidden-tests, "
                    "so students never receive them"
                )


def _without_instructor_section(text: str) -> str:
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith("## "):
            skipping = line.strip() == _INSTRUCTOR_SECTION
        if not skipping:
            out.append(line)
    return "".join(out)


# --- Gradescope ----------------------------------------------------------------------------------

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image; the bundle is unpacked
# in /autograder/source. It installs the course's pinned environment (pyproject.toml +
# constraints.txt) with the same `make setup` learners use.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v python3.11 >/dev/null 2>&1 && ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  apt-get update -q
  apt-get install -y -q python3.11 python3.11-venv make
fi
PY=$(command -v python3.11 || command -v python3)
make setup PYTHON="$PY"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this once per submission. It grades /autograder/submission in instructor mode
# (hidden tests, secret seed) and writes /autograder/results/results.json.
# LABKIT_AUTOGRADER_ROOT stands in for /autograder (tests use a temporary folder);
# LABKIT_AUTOGRADER_VENV points at an existing environment instead of source/.venv.
set -uo pipefail
ROOT="${{LABKIT_AUTOGRADER_ROOT:-/autograder}}"
SRC="$ROOT/source"
VENV="${{LABKIT_AUTOGRADER_VENV:-$SRC/.venv}}"
mkdir -p "$ROOT/results"
cd "$SRC"
export LABKIT_ROOT="$SRC"
exec "$VENV/bin/labkit" autograde {lab} \\
  --submission "$ROOT/submission" \\
  --results "$ROOT/results/results.json" \\
  {hidden}--seed-file "$SRC/secret_seed"
"""


@dataclass
class GradescopeBundle:
    """What ``export gradescope`` wrote."""

    path: Path
    files: int
    hidden_tests: int
    secret_seed: bool


def export_gradescope(
    root: Path,
    lab: str,
    out_zip: Path,
    hidden_tests: Path | None = None,
    seed: str | None = None,
) -> GradescopeBundle:
    """Build the Gradescope autograder zip for ``lab`` (see the module docstring)."""
    import tempfile

    manifest = find_lab(root, lab)
    if out_zip.suffix.lower() != ".zip":
        raise LabkitError(f"{out_zip}: the Gradescope bundle must be a .zip file")
    if hidden_tests is not None and not hidden_tests.is_dir():
        raise LabkitError(f"hidden tests folder not found: {hidden_tests}")
    with tempfile.TemporaryDirectory(prefix="labkit-gradescope-") as tmp:
        stage = Path(tmp) / "source"
        # students never see this bundle: hidden tests may stay; leaks are the student export's
        export_student(root, stage, [manifest.id], allow_hidden=True)
        shutil.rmtree(stage / ".github", ignore_errors=True)
        count = 0
        if hidden_tests is not None:
            for path in sorted(hidden_tests.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    target = stage / "hidden" / path.relative_to(hidden_tests)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
                    count += path.name.startswith("test_") and path.suffix == ".py"
        if seed:
            (stage / "secret_seed").write_text(seed.strip() + "\n", "utf-8")
        hidden_arg = '--hidden-tests "$SRC/hidden" \\\n  ' if hidden_tests is not None else ""
        scripts = {
            "setup.sh": SETUP_SH,
            "run_autograder": RUN_AUTOGRADER.format(lab=manifest.id, hidden=hidden_arg),
        }
        out_zip.parent.mkdir(parents=True, exist_ok=True)
        partial = out_zip.with_name(out_zip.name + ".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, text in scripts.items():
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | 0o755) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(info, text)
            files = sorted(p for p in stage.rglob("*") if p.is_file())
            for path in files:
                rel = path.relative_to(stage).as_posix()
                mode = 0o755 if os.access(path, os.X_OK) else 0o644
                info = zipfile.ZipInfo(rel, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(info, path.read_bytes())
        os.replace(partial, out_zip)
    return GradescopeBundle(out_zip, len(files) + 2, count, bool(seed))


def find_submission(manifest: LabManifest, upload: Path) -> Path:
    """The folder holding the learner's files in a Gradescope upload: the upload itself, or the
    one folder inside it that holds the lab's files (learners often upload ``labs/<id>/`` or a
    zip of their whole repository)."""
    if manifest.learner_files(upload):
        return upload
    nested = upload / "labs" / manifest.id
    if nested.is_dir() and manifest.learner_files(nested):
        return nested
    candidates = sorted(
        {p for p in upload.rglob("*") if p.is_dir() and manifest.learner_files(p)},
        key=lambda p: (len(p.parts), str(p)),
    )
    return candidates[0] if candidates else upload
