"""Shared by the rag-02 tests and build_vectors.py: shipped vectors, the small knowledge base the
store tests ingest, and the held-out questions. Loaded by file path (pytest's importlib mode puts
no test folder on sys.path), at collection time: the grader's files are deleted before tests run.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from labkit.datasets.knowledge_base import (
    MANIFEST_COLUMNS,
    Document,
    Question,
    load_documents,
    load_questions,
    read_questions_file,
)

HERE = Path(__file__).resolve().parent
VECTORS_FILE = HERE / "kb_vectors.npz"
# Float32 vectors of every sentence the fake model's extractive answerer can quote from a chunk of
# the reference (it embeds them in the judge to compare with the question against thresholds).
UNIT_VECTORS_FILE = HERE / "unit_vectors.npz"
HELDOUT_NAME = "heldout_questions.jsonl"

# Small documents of the knowledge base the store tests ingest (a seeded three of them).
SMALL_DOCS = (
    "faq-billing",
    "policy-leave",
    "policy-remote-work",
    "api-webhooks",
    "runbook-rate-limit-override",
    "guide-code-review",
)
OFF_TOPIC = (
    "What is the boiling point of mercury in Kelvin?",
    "Who painted the ceiling of the Sistine Chapel?",
    "How many moons does Neptune have?",
)
_SECTION = re.compile(r"^## ", re.MULTILINE)


def documents() -> list[Document]:
    """The knowledge base, in manifest order."""
    return load_documents()


def drop_section(text: str, rng: random.Random) -> str:
    """``text`` without one of its ``##`` sections (not the first): a changed document whose
    remaining chunks keep their text but move to other positions."""
    starts = [m.start() for m in _SECTION.finditer(text)]
    if len(starts) < 3:
        raise ValueError("the document needs at least three sections")
    i = rng.randrange(1, len(starts) - 1)
    return text[: starts[i]] + text[starts[i + 1] :]


def write_kb(folder: Path, docs: Iterable[Document]) -> Path:
    """A knowledge-base folder (manifest.csv + docs/<id>.md) holding ``docs``."""
    (folder / "docs").mkdir(parents=True, exist_ok=True)
    rows = []
    for doc in docs:
        (folder / "docs" / f"{doc.id}.md").write_text(doc.text, encoding="utf-8")
        rows.append([doc.id, doc.title, doc.kind, doc.version, doc.date])
    with (folder / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows(sorted(rows))
    return folder


def heldout_questions(test_file: str) -> tuple[list[Question], str]:
    """The held-out questions and where they come from.

    In instructor mode, ``labkit grade-all --hidden-tests DIR`` copies DIR next to the grader's
    tests as ``hidden/``; a ``heldout_questions.jsonl`` there (same format as the knowledge
    base's questions.jsonl) replaces the public test split.
    """
    hidden = Path(test_file).resolve().parent.parent / "hidden" / HELDOUT_NAME
    if hidden.is_file():
        return read_questions_file(hidden), "the instructor's held-out questions"
    return load_questions(split="test"), "the test split of the golden questions"


def texts_to_embed(embedding_text: object, chunk_document: object) -> list[str]:
    """Every text the reference (or a submission embedding bare chunks) embeds while graded."""
    texts: list[str] = []
    for doc in documents():
        for chunk in chunk_document(doc.text):  # type: ignore[operator]
            texts.append(embedding_text(doc, chunk))  # type: ignore[operator]
            texts.append(chunk.text)  # what a submission that embeds the bare chunk asks for
    texts += [q.question for q in load_questions()]
    texts += list(OFF_TOPIC)
    return sorted(set(texts))


def source_units_to_embed(chunk_document: object, source_block: object) -> list[str]:
    """Every unit (sentence, list item, table row) of every chunk the reference cuts, as the fake
    model's extractive answerer reads it when the chunk is a source: ``source_block(doc_id,
    text)`` is the chunk numbered as in the reference's prompt. All units of all chunks, not only
    those that the held-out questions reach, so the file says nothing about what is asked."""
    from labkit.fakellm.extractive import source_units
    from labkit.fakellm.sources import find_sources

    texts: list[str] = []
    for doc in documents():
        for chunk in chunk_document(doc.text):  # type: ignore[operator]
            for source in find_sources(source_block(doc.id, chunk.text)):  # type: ignore[operator]
                texts += [unit.text for unit in source_units(source)]
    return sorted(set(texts))


def summary(rows: Sequence[tuple[str, str, bool, str]]) -> str:
    """Per-type counts of (id, type, correct, why) rows, for the milestone's message."""
    by_type: dict[str, list[int]] = {}
    for _, kind, ok, _ in rows:
        tally = by_type.setdefault(kind, [0, 0])
        tally[0] += ok
        tally[1] += 1
    return ", ".join(f"{kind} {good}/{count}" for kind, (good, count) in sorted(by_type.items()))


def dumps(value: object) -> str:
    """Compact JSON for assertion messages."""
    return json.dumps(value, ensure_ascii=False, default=str)[:300]
