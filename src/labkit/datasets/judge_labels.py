"""Human-labelled judge items (``datasets/judge-labels/items.jsonl``) for calibrating an LLM judge.

Each item is a (question, contexts, answer) over the Tessaline knowledge base with a known
answer ``kind`` and a ``label`` (``pass`` / ``fail``) that follows from how the item was made
(``why``); see ``datasets/judge-labels/DATASHEET.md``::

    from labkit.datasets import load_judge_items
    dev = load_judge_items(split="dev")
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labkit.datasets.files import read_jsonl
from labkit.datasets.paths import datasets_dir, display_path
from labkit.errors import LabkitError

ANSWER_KINDS: tuple[str, ...] = (
    "correct",
    "partially_correct",
    "unsupported_claim",
    "wrong_number",
    "refusal_when_answer_exists",
    "correct_refusal",
)
LABELS: tuple[str, ...] = ("pass", "fail")
_SPLITS = ("dev", "test")


@dataclass(frozen=True)
class JudgeItem:
    """One labelled item: what a judge sees (question, contexts, answer) and the human label."""

    id: str
    question_id: str
    question: str
    contexts: tuple[str, ...]
    answer: str
    kind: str
    label: str  # "pass" or "fail"
    why: str
    split: str

    def as_dict(self) -> dict[str, Any]:
        """The item as plain JSON-ready data: every field, in declaration order, with
        ``contexts`` as a list (JSON has no tuples)."""
        return {**asdict(self), "contexts": list(self.contexts)}


def judge_labels_dir() -> Path:
    """``datasets/judge-labels`` in the course repository."""
    return datasets_dir() / "judge-labels"


def _parse(record: Any, path: Path, number: int) -> JudgeItem:
    def fail(problem: str) -> LabkitError:
        return LabkitError(
            f"{display_path(path)} line {number} {problem} — rebuild it with "
            "python datasets/judge-labels/make_labels.py"
        )

    if not isinstance(record, dict):
        raise fail("is not a JSON object")
    for key in ("id", "question_id", "question", "answer", "kind", "label", "why", "split"):
        if not isinstance(record.get(key), str):
            raise fail(f"needs a string field {key!r}")
    contexts = record.get("contexts")
    if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
        raise fail("needs 'contexts' as a list of strings")
    if record["kind"] not in ANSWER_KINDS:
        raise fail(f"has unknown kind {record['kind']!r}")
    if record["label"] not in LABELS:
        raise fail(f"has unknown label {record['label']!r}")
    if record["split"] not in _SPLITS:
        raise fail(f"has unknown split {record['split']!r}")
    return JudgeItem(
        id=record["id"],
        question_id=record["question_id"],
        question=record["question"],
        contexts=tuple(contexts),
        answer=record["answer"],
        kind=record["kind"],
        label=record["label"],
        why=record["why"],
        split=record["split"],
    )


def load_judge_items(
    split: str | None = None,
    kinds: Iterable[str] | None = None,
    path: Path | str | None = None,
) -> list[JudgeItem]:
    """The labelled items in id order, optionally one split (``dev``/``test``) and some kinds."""
    if split is not None and split not in _SPLITS:
        raise LabkitError(f"split={split!r} is not known; use one of: {', '.join(_SPLITS)}")
    wanted = set(kinds) if kinds is not None else None
    if wanted is not None and wanted - set(ANSWER_KINDS):
        unknown = sorted(wanted - set(ANSWER_KINDS))[0]
        raise LabkitError(f"kind {unknown!r} is not known; use any of: {', '.join(ANSWER_KINDS)}")
    file = Path(path) if path is not None else judge_labels_dir() / "items.jsonl"
    items: list[JudgeItem] = []
    for number, record in read_jsonl(file):
        item = _parse(record, file, number)
        if (split is None or item.split == split) and (wanted is None or item.kind in wanted):
            items.append(item)
    return items
