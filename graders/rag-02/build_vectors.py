"""Rebuild ``kb_vectors.npz``: MiniLM vectors of every text the reference embeds while graded;
and ``unit_vectors.npz``: float32 vectors of every sentence of the reference's chunks, which the
fake model's extractive answerer embeds in the judge when it answers from them (float32 so its
similarity thresholds see exactly what the live model computes).

    .venv/bin/python graders/rag-02/build_vectors.py

Run it after changing the knowledge base, the golden questions, the given chunker,
``store.embedding_text``, ``rag.format_sources`` or how the extractive answerer reads a source
(``labkit.fakellm.extractive.source_units``). The grader copies the vectors into the embedder's (fresh) disk cache
before any learner code runs; texts it does not hold are embedded by the real model, so a stale
file only makes grading slower, never wrong.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> int:
    sys.path.insert(0, str(ROOT / "solutions" / "rag-02"))
    from chunking import chunk_document
    from rag import Hit, format_sources
    from store import embedding_text

    from labkit.models.embedder import save_vectors

    spec = importlib.util.spec_from_file_location("rag02_support", HERE / "support.py")
    assert spec is not None
    assert spec.loader is not None
    support = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(support)

    def source_block(doc_id: str, text: str) -> str:
        hit = Hit(chunk_id="", doc_id=doc_id, title="", text=text, score=0.0, metadata={})
        return str(format_sources([hit]))

    texts = support.texts_to_embed(embedding_text, chunk_document)
    units = set(support.source_units_to_embed(chunk_document, source_block)) - set(texts)
    for target, todo, dtype in (
        (support.VECTORS_FILE, texts, "float16"),
        (support.UNIT_VECTORS_FILE, sorted(units), "float32"),
    ):
        count = save_vectors(target, todo, dtype=dtype)
        size = target.stat().st_size
        print(f"wrote {count} vectors to {target.relative_to(ROOT)} ({size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
