"""Hand the course out: a clean student repository, and Gradescope autograder bundles.

``labkit export student OUT`` copies the course into a new folder learners can push as a template
repository: every lab's starter (``labs/``), its visible grader (``graders/``), the toolkit and the
data sets, plus a GitHub Classroom workflow (``.github/workflows/classroom.yml``, see
:mod:`labkit.grading.classroom`). It leaves out ``solutions/``, hidden tests, the project's own
tests and benchmarks, CI and the instructor's docs, and it refuses to finish if any reference
function body is still in the copy (:func:`reference_leaks`).

``labkit export gradescope <lab> OUT.zip`` builds a Gradescope autograder (Gradescope unpacks the
zip into ``/autograder/source``): the student export of the course, the instructor's hidden tests and secret seed, ``setup.sh`` (installs the pinned
environment with ``make setup``) and ``run_autograder`` (grades ``/autograder/submission`` in
instructor mode and writes ``/autograder/results/results.json``).
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import json
import os
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from labkit.errors import LabkitError
from labkit.grading.manifest import LabManifest, discover_labs, find_lab

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


# --- proving no reference code is left ----------------------------------------------------------


def function_bodies(source: str) -> dict[str, str]:
    """``{qualified name: normalised body}`` for every function in ``source``, nested functions
    and methods included (``Class.method``, ``outer.inner``).

    A body is normalised (:func:`normalised_body`) so that what does not change the code does not
    hide it: formatting, comments, docstrings and other bare strings, type annotations, and the
    names of the function's own parameters and local variables. A starter that only shares the
    docstring is not a leak; a copy with renamed variables is."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                found[name] = normalised_body(child)
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return found


def normalised_body(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The body of ``function`` as a string that is the same for two copies of the code which
    differ only in layout, comments, docstrings (and other statements that are a bare string),
    annotations, or the names the function binds itself: its parameters, local variables, loop
    and comprehension targets, nested functions and classes, ``except ... as`` names, and its own
    name in a recursive call. Names it reads from outside (globals, imports, builtins) and
    attribute names are kept, so ``math.sqrt(x)`` and ``np.sqrt(x)`` still differ."""
    node = copy.deepcopy(function)
    _strip_strings_and_annotations(node)
    local = _bound_names(node)
    rename: dict[str, str] = {}
    if function.name not in local:
        rename[function.name] = "_self_"

    def placeholder(name: str | None) -> str | None:
        if name is None:
            return None
        if name in local and name not in rename:
            rename[name] = f"_v{sum(n in local for n in rename)}_"
        return rename.get(name, name)

    def rename_name(name: str) -> str:
        return placeholder(name) or name

    for sub in _preorder(node.body):  # numbered as the body meets them: unused ones never count
        if isinstance(sub, ast.Name):
            sub.id = rename_name(sub.id)
        elif isinstance(sub, ast.arg):
            sub.arg = rename_name(sub.arg)
        elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            sub.name = rename_name(sub.name)
        elif isinstance(sub, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
            sub.name = placeholder(sub.name)
        elif isinstance(sub, ast.MatchMapping):
            sub.rest = placeholder(sub.rest)
        elif isinstance(sub, ast.alias) and sub.asname:
            sub.asname = placeholder(sub.asname)
        elif isinstance(sub, ast.Global | ast.Nonlocal):
            sub.names = [rename.get(n, n) for n in sub.names]
    return "\n".join(ast.dump(stmt) for stmt in node.body)


def _preorder(nodes: Sequence[ast.AST]) -> Iterator[ast.AST]:
    """Every node under ``nodes``, parents before children, fields in order (deterministic, so
    two copies of a function meet their local names in the same order)."""
    for node in nodes:
        yield node
        yield from _preorder(list(ast.iter_child_nodes(node)))


def _bound_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names ``function`` binds itself (anywhere inside it, nested scopes included), minus
    those it declares ``global`` / ``nonlocal``."""
    bound: set[str] = set()
    declared: set[str] = set()
    for sub in _preorder([function.args, *function.body]):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
            bound.add(sub.id)
        elif isinstance(sub, ast.arg):
            bound.add(sub.arg)
        elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(sub.name)
        elif isinstance(sub, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and sub.name:
            bound.add(sub.name)
        elif isinstance(sub, ast.MatchMapping) and sub.rest:
            bound.add(sub.rest)
        elif isinstance(sub, ast.alias) and sub.asname:
            bound.add(sub.asname)
        elif isinstance(sub, ast.Global | ast.Nonlocal):
            declared.update(sub.names)
    return bound - declared


def _strip_strings_and_annotations(function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """Drop, in place, what does not change what the code does: statements that are a bare string
    (docstrings, string "comments"), annotations of parameters and return values, and
    annotations of assignments (``x: int = 0`` becomes ``x = 0``; a bare ``x: int`` goes)."""
    for sub in _preorder([function]):
        if isinstance(sub, ast.arg):
            sub.annotation = None
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
            sub.returns = None
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(sub, field, None)
            if not isinstance(stmts, list) or not all(isinstance(s, ast.stmt) for s in stmts):
                continue
            kept: list[ast.stmt] = []
            for stmt in stmts:
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                    if isinstance(stmt.value.value, str):
                        continue
                if isinstance(stmt, ast.AnnAssign):
                    if stmt.value is None:
                        continue
                    stmt = ast.Assign(targets=[stmt.target], value=stmt.value)
                kept.append(stmt)
            if not kept and field == "body" and sub is not function:
                kept = [ast.Pass()]
            setattr(sub, field, kept)


def reference_leaks(export: Path, course: Path) -> list[str]:
    """Reference code found in ``export``: a file identical to a file of ``course/solutions``
    that the starter does not also ship, or a function whose body equals a reference function's
    body the learner has to write (one that differs from the starter's). Empty means clean."""
    solutions = course / "solutions"
    if not solutions.is_dir():
        return []
    secret_files: dict[bytes, str] = {}
    secret_bodies: dict[str, str] = {}
    for ref in sorted(
        p for p in solutions.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        rel = ref.relative_to(solutions)
        starter = course / "labs" / rel
        data = ref.read_bytes()
        starter_data = starter.read_bytes() if starter.is_file() else b""
        if data != starter_data and data.strip():
            secret_files[data] = f"solutions/{rel.as_posix()}"
        if ref.suffix != ".py":
            continue
        given = set(function_bodies(starter_data.decode("utf-8", "replace")).values())
        for name, body in function_bodies(data.decode("utf-8", "replace")).items():
            if body and body not in given and _substantial(body):
                secret_bodies[body] = f"solutions/{rel.as_posix()}:{name}"
    leaks: list[str] = []
    for path in sorted(p for p in export.rglob("*") if p.is_file()):
        where = path.relative_to(export).as_posix()
        if where.startswith("solutions/"):
            leaks.append(f"{where} (the solutions folder)")
            continue
        data = path.read_bytes()
        if data in secret_files:
            leaks.append(f"{where} (same as {secret_files[data]})")
            continue
        for source in _python_sources(path.suffix, data):
            for name, body in function_bodies(source).items():
                if body in secret_bodies:
                    leaks.append(f"{where}:{name} (same body as {secret_bodies[body]})")
    return leaks


def _python_sources(suffix: str, data: bytes) -> list[str]:
    """The Python code the leak check reads in a file: a ``.py`` file, or each code cell of a
    notebook (IPython ``%magic`` and ``!shell`` lines left out so the rest parses)."""
    text = data.decode("utf-8", "replace")
    if suffix == ".py":
        return [text]
    if suffix != ".ipynb":
        return []
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return []
    chunks: list[str] = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        code = "".join(source) if isinstance(source, list) else str(source)
        lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        chunks.append("\n".join(lines))
    return chunks


def _substantial(body: str) -> bool:
    """A body worth protecting: not ``pass`` / ``...`` / a bare ``raise`` shared by many files."""
    trivial = {ast.dump(ast.Pass()), ast.dump(ast.Expr(ast.Constant(Ellipsis)))}
    return body not in trivial


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
