"""Rebuild ``minilm_vectors.npz``: MiniLM vectors of the reference chunks and the dev questions.

    .venv/bin/python graders/rag-01/build_vectors.py

Run it after changing the knowledge base, the golden questions, the reference chunkers or their
documented defaults. The grader reads the file at collection time and embeds anything missing from
it with the real model, so a stale file only makes grading slower, never wrong.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> int:
    sys.path.insert(0, str(ROOT / "solutions" / "rag-01"))
    from chunkers import MAX_TOKENS, OVERLAP_TOKENS, fixed_size_chunks, markdown_chunks

    from labkit.datasets import load_documents, load_questions
    from labkit.models.embedder import save_vectors

    documents = load_documents()
    texts: list[str] = []
    for doc in documents:
        texts += [c.text for c in fixed_size_chunks(doc.id, doc.text, MAX_TOKENS, OVERLAP_TOKENS)]
        texts += [c.text for c in markdown_chunks(doc.id, doc.text, MAX_TOKENS)]
    texts += [q.question for q in load_questions(split="dev") if q.answerable]
    target = HERE / "minilm_vectors.npz"
    count = save_vectors(target, texts)
    print(f"wrote {count} vectors to {target.relative_to(ROOT)} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
