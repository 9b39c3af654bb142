"""Rebuild ``datasets/judge-labels/rag02_runs.jsonl``: the rag-02 reference pipeline's outputs on the golden questions.

    .venv/bin/python graders/eval-01/build_runs.py

Ingests the knowledge base with ``solutions/rag-02`` into a temporary Chroma collection, answers
every golden question through the fake provider (the default chain, as ``make serve`` would) with
two configurations — ``k5`` (the reference: 5 sources) and ``k2`` (2 sources) — and writes one
line per (question, configuration): what RAGAS needs (question, contexts, answer, reference) and
the rag-02 milestone's verdict (``correct``). eval-01's grader and benchmark read this file, so
grading never runs Chroma. Run it after changing the knowledge base or the rag-02 reference.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "datasets" / "judge-labels" / "rag02_runs.jsonl"
CONFIGS = {"k5": 5, "k2": 2}


def main() -> int:
    sys.path.insert(0, str(ROOT / "solutions" / "rag-02"))
    import rag
    import store

    from labkit.datasets import load_documents, load_questions
    from labkit.fakellm import FakeLLM
    from labkit.models.embedder import load_vectors, warm_cache

    warm_cache(load_vectors(ROOT / "graders" / "rag-02" / "kb_vectors.npz"))
    collection = store.open_collection(Path(tempfile.mkdtemp(prefix="eval01-kb-")))
    store.ingest(collection, load_documents())
    lines = []
    with FakeLLM() as fake:
        import os

        os.environ.update(fake.env())
        for q in load_questions():
            for name, k in CONFIGS.items():
                result = rag.answer(collection, q.question, k=k)
                if not q.answerable:
                    correct = result.refused
                else:
                    text = result.text.lower()
                    correct = (
                        not result.refused
                        and all(f.lower() in text for f in q.facts)
                        and bool(set(result.citations) & set(q.doc_ids))
                    )
                lines.append(
                    {
                        "question_id": q.id,
                        "config": name,
                        "split": q.split,
                        "type": q.type,
                        "question": q.question,
                        "contexts": [h.text for h in result.sources],
                        "answer": result.text,
                        "reference": q.answer,
                        "refused": result.refused,
                        "correct": correct,
                    }
                )
    with OUT.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {len(lines)} runs to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
