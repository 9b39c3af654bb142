"""Lab manifests (``graders/<id>/lab.toml``): what a lab is, which learner files count, its limits.

The manifest is the grader's single source of truth about a lab. It is read by the parent process
only (never by learner code) and validated strictly: a typo in a key is an error, not a silent
default, because a wrong limit or a missing file in the allow-list changes grades.

Example::

    id = "chat-01"
    title = "Your first chat completion"
    phase = 1
    order = 1
    files = ["chatbot.py", "prompts/*.txt"]   # the allow-list, relative to the lab folder
    seed = 1234                               # optional: the default lab_seed

    [limits]
    test_timeout = 10      # seconds per test (setup + call + teardown)
    run_timeout = 120      # seconds for the whole run
    memory_mb = 2048       # address-space limit of the grading process
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from labkit.datasets.paths import find_root, relative_path
from labkit.errors import LabkitError


class ManifestError(LabkitError):
    """A lab manifest is missing, unreadable or invalid (one line: which file, what is wrong)."""


_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# Names that must never be copied from a submission, whatever the allow-list says: each one can
# change how Python or pytest starts (config files, conftest hooks, startup modules, shadowed pytest).
RESERVED_NAMES = frozenset(
    {
        "conftest.py",
        "pytest.ini",
        "pyproject.toml",
        "setup.cfg",
        "tox.ini",
        "sitecustomize.py",
        "usercustomize.py",
        "pytest.py",
        "_pytest",
        "pytest",
        "labkit",
        "__pycache__",
    }
)
_RESERVED_SUFFIXES = (".pth", ".pyc", ".so", ".pyd")


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to one grading run (both learner and instructor mode)."""

    test_timeout: float = 10.0
    run_timeout: float = 300.0
    memory_mb: int = 2048
    file_size_mb: int = 32
    output_kb: int = 4  # captured output kept per test in the report and results.json
    max_submission_kb: int = 2048  # total size of the allow-listed files copied from a submission


_LIMIT_TYPES: dict[str, type] = {
    "test_timeout": float,
    "run_timeout": float,
    "memory_mb": int,
    "file_size_mb": int,
    "output_kb": int,
    "max_submission_kb": int,
}


@dataclass(frozen=True)
class LabManifest:
    """One lab, as described by its ``lab.toml``."""

    id: str
    title: str
    phase: int | str
    order: int
    files: tuple[str, ...]
    limits: Limits
    grader_dir: Path
    seed: int
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        return self.grader_dir / "lab.toml"

    def sort_key(self) -> tuple[tuple[int, int | str], int, str]:
        """Labs are listed by phase, then order (numeric phases before named ones)."""
        phase_key: tuple[int, int | str] = (
            (0, self.phase) if isinstance(self.phase, int) else (1, str(self.phase))
        )
        return (phase_key, self.order, self.id)

    def test_files(self) -> list[Path]:
        """The grader's own files (tests, helpers, data), excluding caches; sorted for hashing."""
        return sorted(
            p
            for p in self.grader_dir.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )

    def learner_files(self, folder: Path) -> list[tuple[Path, str]]:
        """The allow-listed files present in ``folder``: ``(absolute path, relative posix path)``.

        Symlinks and reserved names are skipped: a symlink could pull in a file from anywhere on
        the grading machine, and reserved names change how pytest or Python start.
        """
        found: dict[str, Path] = {}
        for pattern in self.files:
            if any(ch in pattern for ch in "*?["):
                candidates = sorted(folder.glob(pattern))
            else:
                candidates = [folder / pattern]
            for path in candidates:
                try:
                    rel = path.relative_to(folder).as_posix()
                except ValueError:
                    continue
                if not _copyable(path, folder) or is_reserved(rel):
                    continue
                found.setdefault(rel, path)
        return [(found[rel], rel) for rel in sorted(found)]


def is_reserved(rel: str) -> bool:
    """True if a relative path must never be copied from a submission (see RESERVED_NAMES)."""
    parts = PurePosixPath(rel).parts
    return any(p in RESERVED_NAMES for p in parts) or rel.endswith(_RESERVED_SUFFIXES)


def _copyable(path: Path, folder: Path) -> bool:
    """A regular file, not a symlink, and no symlinked directory on the way from ``folder``."""
    if path.is_symlink() or not path.is_file():
        return False
    current = path.parent
    while current != folder and folder in current.parents:
        if current.is_symlink():
            return False
        current = current.parent
    return True


def default_seed(lab_id: str) -> int:
    """A stable per-lab seed, so two labs without an explicit seed do not share random cases."""
    return int.from_bytes(hashlib.sha256(lab_id.encode()).digest()[:4], "big") % 2**31


def _fail(path: Path, message: str) -> ManifestError:
    """The error naming ``path`` from the working directory (``../graders/x/lab.toml`` too)."""
    shown = relative_path(path, outside=True)
    return ManifestError(f"{path if shown is None else shown}: {message}")


_TOP_KEYS = {"id", "title", "phase", "order", "files", "seed", "description", "limits", "extra"}


def load_manifest(path: Path) -> LabManifest:
    """Read and validate one ``lab.toml``; raise :class:`ManifestError` with a one-line reason."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(path, "not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, f"not valid TOML ({exc})") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise _fail(path, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("id", "title", "files"):
        if key not in data:
            raise _fail(path, f"missing required key {key!r}")
    lab_id = data["id"]
    if not isinstance(lab_id, str) or not _ID_RE.match(lab_id):
        raise _fail(path, f"id {lab_id!r} must be lowercase letters, digits, '-' or '_'")
    if lab_id != path.parent.name:
        raise _fail(path, f"id {lab_id!r} must match its folder name {path.parent.name!r}")
    title = data["title"]
    if not isinstance(title, str) or not title.strip():
        raise _fail(path, "title must be a non-empty string")
    phase = data.get("phase", 0)
    if not isinstance(phase, int | str) or isinstance(phase, bool):
        raise _fail(path, "phase must be an integer or a string")
    order = data.get("order", 0)
    if not isinstance(order, int) or isinstance(order, bool):
        raise _fail(path, "order must be an integer")
    files = data["files"]
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise _fail(path, "files must be a non-empty list of paths relative to the lab folder")
    for entry in files:
        pure = PurePosixPath(entry)
        if pure.is_absolute() or ".." in pure.parts or "\\" in entry or not entry.strip():
            raise _fail(
                path, f"files entry {entry!r} must be a relative path inside the lab folder"
            )
        if is_reserved(entry):
            raise _fail(path, f"files entry {entry!r} is a reserved name and is never copied")
    seed = data.get("seed", default_seed(lab_id))
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise _fail(path, "seed must be an integer")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _fail(path, "description must be a string")
    extra = data.get("extra", {})
    if not isinstance(extra, dict):
        raise _fail(path, "[extra] must be a table")
    return LabManifest(
        id=lab_id,
        title=title.strip(),
        phase=phase,
        order=order,
        files=tuple(files),
        limits=_load_limits(path, data.get("limits", {})),
        grader_dir=path.parent.resolve(),
        seed=seed,
        description=description,
        extra=dict(extra),
    )


def _load_limits(path: Path, raw: object) -> Limits:
    if not isinstance(raw, dict):
        raise _fail(path, "[limits] must be a table")
    unknown = sorted(set(raw) - set(_LIMIT_TYPES))
    if unknown:
        known = ", ".join(sorted(_LIMIT_TYPES))
        raise _fail(path, f"unknown key {unknown[0]!r} in [limits] (known: {known})")
    values: dict[str, float | int] = {}
    for key, value in raw.items():
        kind = _LIMIT_TYPES[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(path, f"limits.{key} must be a number")
        if kind is int and not isinstance(value, int):
            raise _fail(path, f"limits.{key} must be a whole number")
        if value <= 0:
            raise _fail(path, f"limits.{key} must be positive")
        values[key] = kind(value)
    limits = Limits(**values)  # type: ignore[arg-type]
    if limits.test_timeout > limits.run_timeout:
        raise _fail(path, "limits.test_timeout must not exceed limits.run_timeout")
    return limits


# --- discovery -----------------------------------------------------------------------------------


# What learner code may never read in a course checkout: the tests, the reference solutions,
# every learner's records, and git's object store, which holds every committed version of the
# first two (a zlib blob is one read away).
COURSE_PROTECTED = ("graders", "solutions", ".labkit", ".git")


def protected_folders(root: Path) -> list[Path]:
    """The folders of the course at ``root`` that the grading guard refuses to learner code."""
    return [root / name for name in COURSE_PROTECTED]


def repo_root(start: Path | None = None) -> Path:
    """The course repository being graded: ``LABKIT_ROOT``, or the nearest folder above ``start``
    (default: the working directory) holding both ``graders/`` and ``pyproject.toml``.

    Unlike :func:`labkit.datasets.paths.repo_root` it never looks where labkit is installed: the
    labs a command grades are the ones of the checkout you are in."""
    return find_root("graders", (start or Path.cwd(),))


def discover_labs(root: Path) -> list[LabManifest]:
    """Every valid lab under ``root/graders/*/lab.toml``, in course order.

    An invalid manifest raises: a course with a broken lab should be fixed, not silently shrunk.
    """
    labs = [load_manifest(p) for p in sorted((root / "graders").glob("*/lab.toml"))]
    return sorted(labs, key=LabManifest.sort_key)


def find_lab(root: Path, lab_id: str) -> LabManifest:
    """The lab ``lab_id``; an unknown id raises one line listing the known ids."""
    path = root / "graders" / lab_id / "lab.toml"
    if _ID_RE.match(lab_id) and path.is_file():
        return load_manifest(path)
    known = [m.id for m in discover_labs(root)]
    listing = ", ".join(known) if known else "none yet"
    raise LabkitError(f"unknown lab {lab_id!r}; known labs: {listing}")


def compute_tests_hash(manifest: LabManifest, extra_dirs: Iterable[Path] = ()) -> str:
    """sha256 over the grader's files (lab.toml included) and any hidden-test folders.

    Stored in every results.json so an instructor can tell which version of the tests graded it.
    """
    digest = hashlib.sha256()
    groups: list[tuple[str, Path]] = [
        ("grader", manifest.grader_dir),
        *((f"extra{i}", d) for i, d in enumerate(extra_dirs)),
    ]
    for label, base in groups:
        files = sorted(
            p
            for p in base.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
        for p in files:
            digest.update(f"{label}/{p.relative_to(base).as_posix()}\0".encode())
            digest.update(p.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def content_hash(manifest: LabManifest, folder: Path) -> str:
    """sha256 over what the grader would copy from ``folder``: each allow-listed file's relative
    path and bytes. Files outside the allow-list (notes, caches) do not change it, because they
    cannot change the grade; a resubmission that edits a graded file always does.

    The one fingerprint of "what was graded": ``grade-all`` reuses a grade only for the same hash
    (its gradebook's ``content_hash``), and a learner's record keeps it so ``labkit list`` can say
    "changed since last grade" (``files_digest``). Earlier batch outputs are matched by it, so its
    bytes must not change.
    """
    digest = hashlib.sha256(b"labkit-submission-v1\0")
    try:
        for path, rel in manifest.learner_files(folder):
            digest.update(rel.encode() + b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    except OSError as exc:  # unreadable: never reusable
        digest.update(f"unreadable: {exc}".encode())
    return digest.hexdigest()
