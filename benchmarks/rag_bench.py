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
Writes ``benchmarks/results/rag.md``.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "rag.md"
REFERENCE = ROOT / "solutions" / "rag-02"


def _reference() -> tuple[Any, Any, Any]:
    """The rag-02 reference modules (they import each other by bare name, as in the lab)."""
    if str(REFERENCE) not in sys.path:
        sys.path.insert(0, str(REFERENCE))
    return (
        importlib.import_module("store"),
        importlib.import_module("rag"),
        importlib.import_module("chunking"),
    )


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
    collection = store.open_collection(db)
    started = time.perf_counter()
    report = store.ingest(collection, documents)
    return int(report.added), time.perf_counter() - started


def _wiki_documents() -> list[Any]:
    from labkit.datasets.knowledge_base import Document
    from labkit.datasets.wiki import load_wiki_summaries

    return [
        Document(id=d.id, title=d.title, kind="wiki", version="", date="2024-01-01",
                 text=d.text, path=Path(d.id))
        for d in load_wiki_summaries()
    ]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def run() -> dict[str, Any]:
    """Run the benchmark and write the table; returns the numbers."""
    from labkit.datasets.knowledge_base import load_documents, load_questions
    from labkit.fakellm import FakeLLM

    store, rag, _ = _reference()
    corpora = {"knowledge base": load_documents(), "Wikipedia (10k summaries)": _wiki_documents()}
    ingest_rows: list[tuple[str, int, int, float, float]] = []
    quality: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="labkit-rag-bench-") as tmp:
        base = Path(tmp)
        for name, documents in corpora.items():
            slug = "kb" if name.startswith("knowledge") else "wiki"
            with _embedding_cache(base / f"cache-{slug}"):
                chunks, cold = _time_ingest(store, documents, base / f"{slug}-cold")
                _, cached = _time_ingest(store, documents, base / f"{slug}-cached")
            ingest_rows.append((name, len(documents), chunks, chunks / cold, chunks / cached))
            print(f"   {name}: {chunks} chunks, cold {chunks / cold:.0f}/s, cached {chunks / cached:.0f}/s")

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
                    hits, seconds = _timed(lambda q=q: rag.retrieve(collection, q.question, k=5))
                    retrieval_ms.append(seconds * 1000)
                    if q.answerable:
                        answerable += 1
                        docs = {h.metadata.get("doc_id") for h in hits}
                        found += bool(docs & set(q.doc_ids))
                    result, seconds = _timed(lambda q=q: rag.answer(collection, q.question))
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
        "recall_at_5": found / max(1, answerable),
        "accuracy": correct / max(1, len(questions)),
        "retrieve_p50_ms": statistics.median(retrieval_ms),
        "retrieve_p95_ms": _percentile(retrieval_ms, 0.95),
        "answer_p50_ms": statistics.median(answer_ms),
        "answer_p95_ms": _percentile(answer_ms, 0.95),
    }
    _write(ingest_rows, quality)
    return {"ingest": ingest_rows, **quality}


def _correct(question: Any, result: Any) -> bool:
    """The rag-02 grader's rule (facts + a gold citation, or a refusal when unanswerable)."""
    if not question.answerable:
        return bool(result.refused)
    text = result.text.lower()
    facts = all(f.lower() in text for f in question.facts)
    return not result.refused and facts and bool(set(result.citations) & set(question.doc_ids))


def _write(ingest_rows: list[tuple[str, int, int, float, float]], q: dict[str, float]) -> None:
    lines = [
        "# RAG benchmark (rag-02 reference pipeline)",
        "",
        f"Machine: {os.cpu_count()} cores; `make bench` (benchmarks/rag_bench.py). Embeddings: packaged",
        "all-MiniLM-L6-v2 on CPU; Chroma 1.5.9 embedded PersistentClient. \"Cold\" = empty",
        "embedding cache (every chunk embedded); \"cached\" = fresh Chroma database, vectors from",
        "the on-disk cache. The model is loaded before timing.",
        "",
        "## Ingestion",
        "",
        "| corpus | documents | chunks | cold chunks/s | cached chunks/s | speed-up |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, docs, chunks, cold, cached in ingest_rows:
        lines.append(f"| {name} | {docs:,} | {chunks:,} | {cold:,.0f} | {cached:,.0f} | {cached / cold:.1f}× |")
    lines += [
        "",
        f"## Quality and latency on the held-out test split ({int(q['questions'])} questions)",
        "",
        "| metric | value |",
        "|---|---:|",
        f"| recall@5 (a gold document among the top-5 chunks, answerable questions) | {q['recall_at_5']:.1%} |",
        f"| answer accuracy (facts + gold citation, or refusal) — fake extractive answerer | {q['accuracy']:.1%} |",
        f"| retrieval latency p50 / p95 | {q['retrieve_p50_ms']:.1f} / {q['retrieve_p95_ms']:.1f} ms |",
        f"| answer latency p50 / p95 (retrieval + fake provider over HTTP) | {q['answer_p50_ms']:.1f} / {q['answer_p95_ms']:.1f} ms |",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    print(run())
