"""RAG benchmark (issue 5): ingestion throughput, query latency, recall@5 and answer accuracy.

Measured with the rag-02 REFERENCE pipeline (``solutions/rag-02``) — the code a learner is
aiming for — on the course knowledge base and on the 10,033 Wikipedia summaries:

- ingestion throughput in chunks/s, cold (empty embedding cache: every chunk is embedded) and
  cached (a fresh Chroma database, but the embedding cache already holds every vector), so the
  table shows what the on-disk cache buys when a corpus is re-indexed;
- retrieval latency p50/p95 per question, and the end-to-end answer latency through the fake
  provider over real HTTP;
- recall@5 (a gold document among the top-5 chunks' documents) and answer accuracy on the
  held-out test split (the grader's rule: every required fact and a gold citation, or a refusal
  for unanswerable questions).

The embedding model is loaded before any timing, so "cold" measures embedding, not torch import.
Writes ``benchmarks/results/rag.md``. The full run takes a few minutes on two cores (the 10k cold
ingest dominates); for a quick check, limit the Wikipedia corpus::

    RAG_BENCH_WIKI_DOCS=1000 python -m benchmarks rag     # a smoke run, labelled as such
"""

from __future__ import annotations

import importlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.machine import load_average, machine_line, percentile

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "rag.md"
REFERENCE = ROOT / "solutions" / "rag-02"
WIKI_LIMIT_VAR = "RAG_BENCH_WIKI_DOCS"  # ingest only the first N summaries (smoke runs)


@dataclass(frozen=True)
class IngestRow:
    """One corpus ingested twice into fresh databases: cold, then with a warm embedding cache."""

    corpus: str
    documents: int
    chunks: int
    cold_s: float
    cached_s: float


def _reference() -> tuple[Any, Any]:
    """The rag-02 reference modules (they import each other by bare name, as in the lab)."""
    if str(REFERENCE) not in sys.path:
        sys.path.insert(0, str(REFERENCE))
    return importlib.import_module("store"), importlib.import_module("rag")


@contextmanager
def _embedding_cache(folder: Path) -> Iterator[None]:
    """Point the process-wide embedder at an embedding cache in ``folder``."""
    from labkit.models import embedder

    previous = os.environ.get("LABKIT_CACHE_DIR")
    os.environ["LABKIT_CACHE_DIR"] = str(folder)
    embedder.get_embedder.cache_clear()
    embedder.get_embedder().embed(["warm-up: load the model before timing"])
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("LABKIT_CACHE_DIR", None)
        else:
            os.environ["LABKIT_CACHE_DIR"] = previous
        embedder.get_embedder.cache_clear()


def _time_ingest(store: Any, documents: list[Any], db: Path) -> tuple[int, float]:
    """Ingest ``documents`` into a new database at ``db``: (chunks added, seconds)."""
    collection = store.open_collection(db)
    started = time.perf_counter()
    report = store.ingest(collection, documents)
    return int(report.added), time.perf_counter() - started


def _wiki_limit() -> int | None:
    value = os.environ.get(WIKI_LIMIT_VAR, "").strip()
    return int(value) if value else None


def _wiki_documents(limit: int | None) -> list[Any]:
    from labkit.datasets.knowledge_base import Document
    from labkit.datasets.wiki import load_wiki_summaries

    summaries = load_wiki_summaries()[:limit]
    return [
        Document(
            id=d.id,
            title=d.title,
            kind="wiki",  # type: ignore[arg-type]  # not a KB kind: tells wiki pages apart
            version="",
            date="2024-01-01",
            text=d.text,
            path=Path(d.id),
        )
        for d in summaries
    ]


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def run() -> dict[str, Any]:
    """Run the benchmark and write the table; returns the numbers."""
    from labkit.datasets.knowledge_base import load_documents, load_questions
    from labkit.fakellm import FakeLLM

    store, rag = _reference()
    limit = _wiki_limit()
    wiki = _wiki_documents(limit)
    wiki_name = f"Wikipedia summaries{' (SMOKE: first ' + str(len(wiki)) + ')' if limit else ''}"
    corpora = {"knowledge base": load_documents(), wiki_name: wiki}
    load = load_average()
    started_at = datetime.now(UTC)
    ingest_rows: list[IngestRow] = []
    with tempfile.TemporaryDirectory(prefix="labkit-rag-bench-") as tmp:
        base = Path(tmp)
        for name, documents in corpora.items():
            slug = "kb" if name.startswith("knowledge") else "wiki"
            with _embedding_cache(base / f"cache-{slug}"):
                chunks, cold = _time_ingest(store, documents, base / f"{slug}-cold")
                _, cached = _time_ingest(store, documents, base / f"{slug}-cached")
            row = IngestRow(name, len(documents), chunks, cold, cached)
            ingest_rows.append(row)
            print(
                f"   {name}: {len(documents):,} documents, {chunks:,} chunks; "
                f"cold {cold:.1f} s ({chunks / cold:,.0f}/s), "
                f"cached {cached:.1f} s ({chunks / cached:,.0f}/s)",
                flush=True,
            )

        with _embedding_cache(base / "cache-kb"):
            collection = store.open_collection(base / "kb-cold")
            questions = load_questions(split="test")
            fake = FakeLLM().start()
            saved = {k: os.environ.get(k) for k in ("LABKIT_PROVIDER", "LABKIT_BASE_URL")}
            os.environ.update(fake.env())
            try:
                retrieval_ms: list[float] = []
                answer_ms: list[float] = []
                found = answerable = correct = 0
                for q in questions:
                    hits, seconds = _timed(partial(rag.retrieve, collection, q.question, k=5))
                    retrieval_ms.append(seconds * 1000)
                    if q.answerable:
                        answerable += 1
                        docs = {h.metadata.get("doc_id") for h in hits}
                        found += bool(docs & set(q.doc_ids))
                    result, seconds = _timed(partial(rag.answer, collection, q.question))
                    answer_ms.append(seconds * 1000)
                    correct += _correct(q, result)
            finally:
                fake.stop()
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
    quality = {
        "questions": len(questions),
        "answerable": answerable,
        "recall_at_5": found / max(1, answerable),
        "accuracy": correct / max(1, len(questions)),
        "retrieve_p50_ms": statistics.median(retrieval_ms),
        "retrieve_p95_ms": percentile(retrieval_ms, 0.95),
        "answer_p50_ms": statistics.median(answer_ms),
        "answer_p95_ms": percentile(answer_ms, 0.95),
    }
    _write(ingest_rows, quality, limit, load, started_at)
    return {"ingest": ingest_rows, **quality}


def _correct(question: Any, result: Any) -> bool:
    """The rag-02 grader's rule (facts + a gold citation, or a refusal when unanswerable)."""
    if not question.answerable:
        return bool(result.refused)
    text = result.text.lower()
    facts = all(f.lower() in text for f in question.facts)
    return not result.refused and facts and bool(set(result.citations) & set(question.doc_ids))


def _machine(load_average: float, started_at: datetime) -> str:
    """One line about where the numbers come from, with the libraries that make them."""
    import chromadb
    import torch

    return machine_line(
        load_average,
        extra=(
            f"torch {torch.__version__} on {torch.get_num_threads()} threads",
            f"chromadb {chromadb.__version__}",
        ),
        when=f"{started_at:%Y-%m-%d %H:%M} UTC",
    )


def _write(
    rows: list[IngestRow],
    q: dict[str, float],
    limit: int | None,
    load_average: float,
    started_at: datetime,
) -> None:
    smoke = "" if limit is None else f"{WIKI_LIMIT_VAR}={limit} "
    command = f"{smoke}.venv/bin/python -m benchmarks rag"
    lines = ["# RAG benchmark (rag-02 reference pipeline, benchmarks/rag_bench.py)", ""]
    if limit is not None:
        lines += [
            f"**Smoke run: only the first {limit:,} Wikipedia summaries were ingested** "
            f"({WIKI_LIMIT_VAR} was set). Not the benchmark: run it without the variable.",
            "",
        ]
    lines += [
        f"Reproduce: `{command}` from the repository root (`make bench` runs every "
        f"benchmark). {_machine(load_average, started_at)}.",
        "",
        "## Ingestion: `store.ingest` into a new persistent Chroma database",
        "",
        "Chunking (`chunking.chunk_document`, at most 400 characters, at paragraph boundaries),",
        "embedding `title + newline + chunk` with the packaged all-MiniLM-L6-v2 on CPU, and",
        "writing ids, texts, metadata and vectors. **Cold**: the embedding cache is empty, every",
        "chunk is embedded. **Cached**: a second ingest into another new database, the vectors",
        "come from the on-disk embedding cache (what re-indexing a corpus costs). The model is",
        "loaded before timing.",
        "",
        "| corpus | documents | chunks | cold s | cold chunks/s | cached s | cached chunks/s "
        "| speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.corpus} | {r.documents:,} | {r.chunks:,} | {r.cold_s:.1f} "
            f"| {r.chunks / r.cold_s:,.0f} | {r.cached_s:.1f} | {r.chunks / r.cached_s:,.0f} "
            f"| {r.cold_s / r.cached_s:.1f}× |"
        )
    lines += [
        "",
        f"## Quality and latency on the knowledge base's held-out test split "
        f"({int(q['questions'])} questions, {int(q['answerable'])} answerable)",
        "",
        "| metric | value |",
        "|---|---:|",
        f"| recall@5: a gold document among the top-5 chunks (answerable questions) "
        f"| {q['recall_at_5']:.1%} |",
        f"| answer accuracy: every fact + a gold citation, or a refusal (grader's rule; "
        f"fake extractive answerer) | {q['accuracy']:.1%} |",
        f"| retrieval latency p50 / p95 (embed the question + Chroma queries) "
        f"| {q['retrieve_p50_ms']:.1f} / {q['retrieve_p95_ms']:.1f} ms |",
        f"| answer latency p50 / p95 (retrieval with the question's vector cached + "
        f"fake provider over HTTP) | {q['answer_p50_ms']:.1f} / {q['answer_p95_ms']:.1f} ms |",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    print(run())
