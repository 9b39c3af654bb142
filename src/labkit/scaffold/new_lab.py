"""``labkit new-lab <id>``: scaffold a lab's three folders from the templates in ``template/``.

The new lab is complete and consistent from the first minute: ``labs/<id>`` (a README in the
course's skeleton and a starter whose stub raises ``NotImplementedError("not implemented yet —
see task 1")``), ``solutions/<id>`` (the reference: the same function, signature and docstring,
implemented) and ``graders/<id>`` (``lab.toml`` listed after every existing lab, one ``@lab_test``
that reaches the learner's module through ``learner.import_module``, and ``hints.toml``). Its
grader fails on the starter and passes on the reference, and the course check
(:mod:`labkit.scaffold.course_check`) passes on it; the author then replaces the example task
with real ones.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from labkit.errors import LabkitError
from labkit.grading.manifest import discover_labs

LAB_ID = re.compile(r"^[a-z][a-z0-9]*-[0-9]{2}$")
"""A lab id: a lowercase topic, a dash, two digits (``chat-01``, ``rag-04``)."""

DEFAULT_TITLE = "A new lab"


class NewLabError(LabkitError):
    """The lab cannot be scaffolded (bad id, the lab exists, not a course checkout)."""


@dataclass(frozen=True)
class NewLab:
    """What :func:`new_lab` wrote."""

    lab_id: str
    module: str
    phase: int | str
    order: int
    files: tuple[Path, ...]


def module_name(lab_id: str) -> str:
    """The starter module's name: the id's topic (``rag-04`` → ``rag``), unless that would shadow
    a standard-library module (``code-01`` → ``code_lab``)."""
    topic = lab_id.split("-")[0]
    return f"{topic}_lab" if topic in sys.stdlib_module_names else topic


def next_place(root: Path, lab_id: str) -> tuple[int | str, int]:
    """``(phase, order)`` for a new lab: after every existing lab; in the phase of the labs that
    share its topic (``rag-04`` joins the rag labs), else in a new phase after the last one."""
    labs = discover_labs(root)
    order = max((lab.order for lab in labs), default=0) + 1
    topic = lab_id.split("-")[0]
    same_topic = [lab for lab in labs if lab.id.split("-")[0] == topic]
    if same_topic:
        return max(same_topic, key=lambda lab: lab.sort_key()).phase, order
    numeric = [lab.phase for lab in labs if isinstance(lab.phase, int)]
    return max(numeric, default=0) + 1, order


def _template(name: str) -> Template:
    text = resources.files("labkit.scaffold").joinpath("template", name).read_text("utf-8")
    return Template(text)


def new_lab(root: Path, lab_id: str, title: str = DEFAULT_TITLE) -> NewLab:
    """Write ``labs/<id>``, ``solutions/<id>`` and ``graders/<id>`` under ``root``.

    Raises :class:`NewLabError` (one line) for a bad id, a bad title, a lab that already exists
    (any of its three folders), or a ``root`` that is not a course checkout.
    """
    if not LAB_ID.match(lab_id):
        raise NewLabError(
            f"{lab_id!r} is not a lab id: use a lowercase topic, a dash and two digits "
            "(like chat-01 or rag-04)"
        )
    if not title.strip() or any(ch in title for ch in "\n\r"):
        raise NewLabError("the title must be one non-empty line")
    if not (root / "graders").is_dir():
        raise NewLabError(f"{root} has no graders/ folder: run this at the course's root")
    existing = [
        part for part in ("labs", "solutions", "graders") if (root / part / lab_id).exists()
    ]
    if existing:
        raise NewLabError(
            f"lab {lab_id} already exists ({', '.join(f'{p}/{lab_id}' for p in existing)})"
        )

    module = module_name(lab_id)
    phase, order = next_place(root, lab_id)
    values = {
        "lab_id": lab_id,
        "title": title.strip(),
        "title_toml": json.dumps(title.strip(), ensure_ascii=False),
        "module": module,
        "phase": json.dumps(phase),
        "order": str(order),
    }
    plan = {
        Path("labs", lab_id, "README.md"): "README.md.txt",
        Path("labs", lab_id, f"{module}.py"): "starter.py.txt",
        Path("solutions", lab_id, f"{module}.py"): "reference.py.txt",
        Path("graders", lab_id, "lab.toml"): "lab.toml.txt",
        Path("graders", lab_id, f"test_{module}.py"): "test_lab.py.txt",
        Path("graders", lab_id, "hints.toml"): "hints.toml.txt",
    }
    written = []
    for rel, template in plan.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_template(template).substitute(values), encoding="utf-8")
        written.append(rel)
    return NewLab(lab_id, module, phase, order, tuple(written))
