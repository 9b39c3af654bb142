"""The BEIR folder format: export the course data sets to it, and read any BEIR folder.

A BEIR folder holds::

    corpus.jsonl        {"_id": ..., "title": ..., "text": ...}   one document per line
    queries.jsonl       {"_id": ..., "text": ...}                 one query per line
    qrels/<split>.tsv   query-id <TAB> corpus-id <TAB> score      with that header line

``load_beir(folder, split="test")`` follows BEIR's own loader: ``queries`` holds only the queries
that have relevance judgements in that split. Every problem with a file is reported in one line
naming the file and the line::

    from labkit.datasets.beir import export_knowledge_base_beir, load_beir
    folder = export_knowledge_base_beir("/tmp/kb-beir")
    data = load_beir(folder, split="dev")
    data.qrels["q001"]        # {"policy-travel-2023": 1}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from labkit.datasets.files import read_jsonl
from labkit.datasets.knowledge_base import SPLITS, load_documents, load_questions
from labkit.datasets.wiki import load_wiki_questions, load_wiki_summaries, wiki_docs_by_title
from labkit.errors import LabkitError

QRELS_HEADER = ("query-id", "corpus-id", "score")

Qrels = dict[str, dict[str, int]]


class HasIdTitleText(Protocol):
    """Anything with ``id``, ``title`` and ``text`` (Document, WikiDoc, your own chunks)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...


@dataclass
class BeirDataset:
    """One split of a BEIR folder: ``corpus[doc_id] = {"title", "text"}``,
    ``queries[query_id] = text`` and ``qrels[query_id][doc_id] = score``."""

    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: Qrels
    split: str = "test"
    path: Path | None = field(default=None, compare=False)


# --- export ----------------------------------------------------------------------------------


def _corpus_rows(
    docs: Iterable[HasIdTitleText] | Mapping[str, Mapping[str, str]],
) -> list[dict[str, str]]:
    if isinstance(docs, Mapping):
        return [
            {"_id": str(doc_id), "title": str(d.get("title", "")), "text": str(d["text"])}
            for doc_id, d in docs.items()
        ]
    return [{"_id": d.id, "title": d.title, "text": d.text} for d in docs]


def _write_jsonl(path: Path, rows: Iterable[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def export_beir(
    docs: Iterable[HasIdTitleText] | Mapping[str, Mapping[str, str]],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, Mapping[str, int]]],
    out_dir: Path | str,
) -> Path:
    """Write a BEIR folder and return its path.

    ``docs`` is an iterable of objects with ``id``/``title``/``text`` or a mapping
    ``{doc_id: {"title", "text"}}``; ``queries`` maps query id to text; ``qrels`` maps a split
    name to ``{query_id: {doc_id: score}}`` and becomes ``qrels/<split>.tsv``. Queries without
    judgements (e.g. unanswerable ones) are written to queries.jsonl but appear in no qrels file.
    """
    rows = _corpus_rows(docs)
    doc_ids = {row["_id"] for row in rows}
    if len(doc_ids) != len(rows):
        raise LabkitError("export_beir: document ids are not unique")
    for split, judged in qrels.items():
        if not split or "/" in split or "\\" in split:
            raise LabkitError(f"export_beir: {split!r} is not a usable split name")
        for qid, rels in judged.items():
            if qid not in queries:
                raise LabkitError(
                    f"export_beir: qrels[{split!r}] names query {qid!r}, which is not in queries"
                )
            missing = [d for d in rels if d not in doc_ids]
            if missing:
                raise LabkitError(
                    f"export_beir: query {qid!r} is judged against unknown document {missing[0]!r}"
                )
    out = Path(out_dir)
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    _write_jsonl(out / "corpus.jsonl", rows)
    _write_jsonl(out / "queries.jsonl", ({"_id": q, "text": t} for q, t in queries.items()))
    for split, judged in qrels.items():
        with (out / "qrels" / f"{split}.tsv").open("w", encoding="utf-8", newline="\n") as tsv:
            tsv.write("\t".join(QRELS_HEADER) + "\n")
            for qid, rels in judged.items():
                for doc_id, score in rels.items():
                    tsv.write(f"{qid}\t{doc_id}\t{int(score)}\n")
    return out


def export_knowledge_base_beir(out_dir: Path | str) -> Path:
    """The Tessaline knowledge base as a BEIR folder: 66 documents, every question (unanswerable
    ones included) in queries.jsonl, and ``qrels/dev.tsv`` / ``qrels/test.tsv`` with score 1 for
    each gold document (unanswerable questions have no judgements)."""
    questions = load_questions()
    qrels: dict[str, dict[str, dict[str, int]]] = {split: {} for split in SPLITS}
    for q in questions:
        if q.doc_ids:
            qrels[q.split][q.id] = dict.fromkeys(q.doc_ids, 1)
    return export_beir(load_documents(), {q.id: q.question for q in questions}, qrels, out_dir)


def export_wiki_beir(out_dir: Path | str) -> Path:
    """The 10,033 Wikipedia summaries as a BEIR folder, with the project's questions and
    ``qrels/dev.tsv`` / ``qrels/test.tsv`` (score 1 for each gold title's summary)."""
    by_title = wiki_docs_by_title()
    questions = load_wiki_questions()
    qrels: dict[str, dict[str, dict[str, int]]] = {split: {} for split in SPLITS}
    for q in questions:
        missing = [t for t in q.gold_titles if t not in by_title]
        if missing:
            raise LabkitError(
                f"wiki question {q.id} names {missing[0]!r}, which is not in the summaries"
            )
        qrels[q.split][q.id] = {by_title[t].id: 1 for t in q.gold_titles}
    return export_beir(load_wiki_summaries(), {q.id: q.question for q in questions}, qrels, out_dir)


# --- load ------------------------------------------------------------------------------------


_FIX_HINT = "fix the file or export the folder again"


def _bad(path: Path, line: int, problem: str) -> LabkitError:
    return LabkitError(f"{path} line {line} {problem} — {_FIX_HINT}")


def _read_lines(path: Path, what: str) -> list[str]:
    if not path.is_file():
        raise LabkitError(f"{path} is missing: a BEIR folder needs {what}")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise LabkitError(f"{path} is not valid UTF-8 ({exc.reason})") from None


def _read_jsonl(
    path: Path, what: str, fields: tuple[str, ...]
) -> Iterable[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise LabkitError(f"{path} is missing: a BEIR folder needs {what}")
    for number, record in read_jsonl(path, hint=_FIX_HINT):
        if not isinstance(record, dict):
            raise _bad(path, number, "is not a JSON object")
        for name in fields:
            if name not in record:
                raise _bad(path, number, f"has no {name!r} field")
        yield number, record


def _read_qrels(path: Path, available: list[str]) -> tuple[Qrels, list[tuple[int, str]]]:
    if not path.is_file():
        have = ", ".join(available) or "none"
        raise LabkitError(f"{path} is missing (qrels splits in this folder: {have})")
    qrels: Qrels = {}
    first_lines: list[tuple[int, str]] = []
    lines = _read_lines(path, "qrels")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.rstrip("\r\n").split("\t")
        if number == 1 and tuple(p.strip().lower() for p in parts) == QRELS_HEADER:
            continue
        if len(parts) == 4:  # TREC style: query-id, iteration, corpus-id, score
            parts = [parts[0], parts[2], parts[3]]
        if len(parts) != 3:
            raise _bad(
                path,
                number,
                f"has {len(parts)} tab-separated columns instead of 3 (query-id, corpus-id, score)",
            )
        qid, doc_id, raw_score = (p.strip() for p in parts)
        try:
            score = int(float(raw_score))
        except ValueError:
            raise _bad(path, number, f"has a score {raw_score!r} that is not a number") from None
        if qid not in qrels:
            first_lines.append((number, qid))
        qrels.setdefault(qid, {})[doc_id] = score
    return qrels, first_lines


def load_beir(folder: Path | str, split: str = "test") -> BeirDataset:
    """Read one split of any BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``).

    Raises :class:`LabkitError` naming the file and line for a missing folder or file, a line that
    is not JSON or lacks ``_id``/``text``, a malformed qrels row, or a judged query that is not in
    queries.jsonl.
    """
    base = Path(folder)
    if not base.is_dir():
        raise LabkitError(
            f"{base} is not a folder: a BEIR data set is a folder with corpus.jsonl, queries.jsonl and qrels/"
        )
    corpus: dict[str, dict[str, str]] = {}
    for _, rec in _read_jsonl(base / "corpus.jsonl", "corpus.jsonl", ("_id", "text")):
        corpus[str(rec["_id"])] = {"title": str(rec.get("title") or ""), "text": str(rec["text"])}
    all_queries: dict[str, str] = {}
    for _, rec in _read_jsonl(base / "queries.jsonl", "queries.jsonl", ("_id", "text")):
        all_queries[str(rec["_id"])] = str(rec["text"])
    qrels_dir = base / "qrels"
    available = sorted(p.stem for p in qrels_dir.glob("*.tsv")) if qrels_dir.is_dir() else []
    qrels_path = qrels_dir / f"{split}.tsv"
    qrels, first_lines = _read_qrels(qrels_path, available)
    for number, qid in first_lines:
        if qid not in all_queries:
            raise _bad(qrels_path, number, f"judges query {qid!r}, which is not in queries.jsonl")
    queries = {qid: all_queries[qid] for qid in qrels}
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels, split=split, path=base)
