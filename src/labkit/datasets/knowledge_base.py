"""The Tessaline knowledge base (``datasets/knowledge-base``) and its golden question set.

``load_documents()`` returns the 66 markdown documents with their manifest metadata;
``load_questions(split=..., types=...)`` returns the golden questions. A missing or corrupt file
raises :class:`labkit.errors.LabkitError` with one line that names the file, the line and how to
restore it::

    from labkit.datasets import load_documents, load_questions
    docs = load_documents()
    dev = load_questions(split="dev", types=["factoid", "paraphrase"])
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

from labkit.datasets.files import data_error, read_text, read_unique_records
from labkit.datasets.paths import datasets_dir, display_path
from labkit.errors import LabkitError

Kind = Literal[
    "policy", "manual", "api", "runbook", "postmortem", "faq", "release-notes", "guide", "pricing"
]
QuestionType = Literal["factoid", "paraphrase", "identifier", "multi-document", "unanswerable"]
Split = Literal["dev", "test"]

KINDS: tuple[str, ...] = get_args(Kind)
QUESTION_TYPES: tuple[str, ...] = get_args(QuestionType)
SPLITS: tuple[str, ...] = get_args(Split)
MANIFEST_COLUMNS = ("id", "title", "kind", "version", "date")
UNANSWERABLE_ANSWER = "The knowledge base does not say."


@dataclass(frozen=True)
class Document:
    """One markdown document. ``text`` is the whole file, including its ``# Title`` line."""

    id: str
    title: str
    kind: Kind
    version: str
    date: str  # ISO date, YYYY-MM-DD
    text: str
    path: Path


@dataclass(frozen=True)
class Passage:
    """A supporting passage, quoted character for character from document ``doc_id``."""

    doc_id: str
    text: str


@dataclass(frozen=True)
class Question:
    """One golden question. Unanswerable questions have no facts, doc_ids or passages."""

    id: str
    question: str
    answer: str
    facts: tuple[str, ...]
    doc_ids: tuple[str, ...]
    passages: tuple[Passage, ...]
    type: QuestionType
    split: Split

    @property
    def answerable(self) -> bool:
        """False for questions the knowledge base cannot answer."""
        return self.type != "unanswerable"


def kb_dir() -> Path:
    """``datasets/knowledge-base`` in the course repository."""
    return datasets_dir() / "knowledge-base"


def _root(root: Path | str | None) -> Path:
    return Path(root) if root is not None else kb_dir()


def _read_manifest(root: Path) -> list[dict[str, str]]:
    path = root / "manifest.csv"
    rows = list(csv.reader(read_text(path).splitlines()))
    if not rows or tuple(rows[0]) != MANIFEST_COLUMNS:
        raise data_error(path, f"must start with the header {','.join(MANIFEST_COLUMNS)}", 1)
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(MANIFEST_COLUMNS):
            raise data_error(
                path, f"has {len(row)} columns instead of {len(MANIFEST_COLUMNS)}", number
            )
        record = dict(zip(MANIFEST_COLUMNS, row, strict=True))
        if record["kind"] not in KINDS:
            raise data_error(path, f"has unknown kind {record['kind']!r}", number)
        if record["id"] in seen:
            raise data_error(path, f"repeats the id {record['id']!r}", number)
        seen.add(record["id"])
        out.append(record)
    return out


def load_documents(root: Path | str | None = None) -> list[Document]:
    """Every knowledge-base document, in manifest (id) order.

    ``root`` is the knowledge-base folder (default ``datasets/knowledge-base``); it must hold
    ``manifest.csv`` and ``docs/<id>.md`` for every manifest row, and no other ``.md`` file.
    """
    base = _root(root)
    manifest = _read_manifest(base)
    docs_dir = base / "docs"
    listed = {record["id"] for record in manifest}
    on_disk = {p.stem for p in docs_dir.glob("*.md")}
    extra = sorted(on_disk - listed)
    if extra:
        raise LabkitError(
            f"{display_path(docs_dir)}/{extra[0]}.md is not listed in "
            f"{display_path(base / 'manifest.csv')}: add a row for it or delete it"
        )
    documents: list[Document] = []
    for record in manifest:
        path = docs_dir / f"{record['id']}.md"
        text = read_text(path)
        first = text.split("\n", 1)[0]
        if not first.startswith("# "):
            raise data_error(path, "must start with a '# Title' line", 1)
        documents.append(
            Document(
                id=record["id"],
                title=record["title"],
                kind=cast(Kind, record["kind"]),
                version=record["version"],
                date=record["date"],
                text=text,
                path=path,
            )
        )
    return documents


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _parse_question(record: Any, path: Path, number: int) -> Question:
    if not isinstance(record, dict):
        raise data_error(path, "is not a JSON object", number)
    for key in ("id", "question", "answer", "type", "split"):
        if not isinstance(record.get(key), str):
            raise data_error(path, f"needs a string field {key!r}", number)
    for key in ("facts", "doc_ids"):
        if not _str_list(record.get(key)):
            raise data_error(path, f"needs {key!r} as a list of strings", number)
    if record["type"] not in QUESTION_TYPES:
        raise data_error(path, f"has unknown type {record['type']!r}", number)
    if record["split"] not in SPLITS:
        raise data_error(path, f"has unknown split {record['split']!r}", number)
    raw_passages = record.get("passages")
    if not isinstance(raw_passages, list) or not all(
        isinstance(p, dict) and isinstance(p.get("doc_id"), str) and isinstance(p.get("text"), str)
        for p in raw_passages
    ):
        raise data_error(path, "needs 'passages' as a list of {doc_id, text} objects", number)
    return Question(
        id=record["id"],
        question=record["question"],
        answer=record["answer"],
        facts=tuple(record["facts"]),
        doc_ids=tuple(record["doc_ids"]),
        passages=tuple(Passage(p["doc_id"], p["text"]) for p in raw_passages),
        type=cast(QuestionType, record["type"]),
        split=cast(Split, record["split"]),
    )


def read_questions_file(path: Path) -> list[Question]:
    """Parse a questions JSONL file (one object per line), failing on the first bad line."""
    return read_unique_records(path, _parse_question)


def load_questions(
    split: Split | str | None = None,
    types: Iterable[QuestionType | str] | None = None,
    root: Path | str | None = None,
) -> list[Question]:
    """The golden questions, in id order, optionally only one split and only some types.

    ``split`` is ``"dev"`` or ``"test"`` (``None``: both); ``types`` is any of ``factoid``,
    ``paraphrase``, ``identifier``, ``multi-document``, ``unanswerable`` (``None``: all).
    """
    if split is not None and split not in SPLITS:
        raise LabkitError(f"split={split!r} is not known; use one of: {', '.join(SPLITS)}")
    wanted: set[str] | None = None
    if types is not None:
        wanted = {types} if isinstance(types, str) else set(types)
        unknown = sorted(wanted - set(QUESTION_TYPES))
        if unknown:
            raise LabkitError(
                f"question type {unknown[0]!r} is not known; use any of: {', '.join(QUESTION_TYPES)}"
            )
    questions = read_questions_file(_root(root) / "questions.jsonl")
    return [
        q
        for q in questions
        if (split is None or q.split == split) and (wanted is None or q.type in wanted)
    ]
