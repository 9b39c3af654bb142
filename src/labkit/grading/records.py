"""Where a learner's grades are kept, and which grade is *their* record.

Only grading a lab's own folder (``labs/<id>``) updates the learner's record,
``.labkit/results/<id>.json``, which ``labkit list`` reads. Grading any other folder (the
reference in ``solutions/<id>``, a classmate's copy, an experiment) is saved apart, under
``.labkit/results/other/<id>/``, so trying something never overwrites the learner's progress.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labkit.datasets.paths import relative_path
from labkit.grading.manifest import LabManifest, content_hash

RESULTS_DIR = Path(".labkit") / "results"


def own_folder(root: Path, lab_id: str) -> Path:
    """The learner's own folder for a lab: ``<root>/labs/<id>``."""
    return root / "labs" / lab_id


def is_own_folder(root: Path, lab_id: str, folder: Path) -> bool:
    """True when ``folder`` is the learner's ``labs/<id>`` (however it was spelled)."""
    try:
        return folder.resolve() == own_folder(root, lab_id).resolve()
    except OSError:
        return False


def record_path(root: Path, lab_id: str) -> Path:
    """The learner's record for a lab (what ``labkit list`` shows)."""
    return root / RESULTS_DIR / f"{lab_id}.json"


def other_path(root: Path, lab_id: str, folder: Path) -> Path:
    """Where the grade of a folder other than ``labs/<id>`` is kept: one file per folder."""
    resolved = folder.resolve()
    shown = str(relative_path(resolved, root) or resolved)
    slug = re.sub(r"[^A-Za-z0-9_.]+", "-", shown).strip("-.") or "folder"
    return root / RESULTS_DIR / "other" / lab_id / f"{slug[-120:]}.json"


def dir_option() -> str:
    """How the person typed the folder option: ``DIR=`` under ``make``, ``--dir`` otherwise.

    ``make`` exports ``MAKELEVEL`` to the commands it runs, so a message can name what the
    learner actually typed.
    """
    return "DIR=" if os.environ.get("MAKELEVEL") else "--dir "


def stamp_record(document: dict[str, Any], manifest: LabManifest, folder: Path) -> None:
    """Add what the board needs to a learner record: when it was graded and what was graded."""
    extra = document.setdefault("extra_data", {})
    extra["graded_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    extra["files_digest"] = content_hash(manifest, folder)
