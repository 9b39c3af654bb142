"""Rebuild ``kb_vectors.npz``: MiniLM vectors of every text the reference embeds while graded.

    .venv/bin/python graders/rag-02/build_vectors.py

Run it after changing the knowledge base, the golden questions, the given chunker or
``store.embedding_text``. The grader copies the vectors into the embedder's (fresh) disk cache
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
    from store import embedding_text

    from labkit.models.embedder import save_vectors

    spec = importlib.util.spec_from_file_location("rag02_support", HERE / "support.py")
    assert spec is not None
    assert spec.loader is not None
    support = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(support)

    texts = support.texts_to_embed(embedding_text, chunk_document)
    count = save_vectors(support.VECTORS_FILE, texts)
    size = support.VECTORS_FILE.stat().st_size
    print(f"wrote {count} vectors to {support.VECTORS_FILE.relative_to(ROOT)} ({size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
