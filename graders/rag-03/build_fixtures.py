"""Rebuild the grader's shipped model outputs (grading runs in a fresh home folder, cold caches).

    .venv/bin/python graders/rag-03/build_fixtures.py            # both files
    .venv/bin/python graders/rag-03/build_fixtures.py vectors    # only minilm_vectors.npz

- ``minilm_vectors.npz``: MiniLM vectors (float16) of every passage of the knowledge base, as the
  given ``labkit.lexical.split_passages`` cuts it, and of every golden question.
- ``rerank_scores.npz``: the trained reranker's score for each (test question, passage) pair the
  reference pipeline can send it: the best passage (by the shipped vectors) of every document in
  the top ``DEPTH`` of the reference's hybrid and weighted rankings. Also records which trained
  model produced them.

Run it after changing the knowledge base, the golden questions, ``split_passages``, or the
reranker's recipe. The grader reads both files at collection time and computes anything missing
with the real models, so a stale file makes grading slower, never wrong.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REFERENCE = ROOT / "solutions" / "rag-03"
DEPTH = 30


def build_vectors() -> Path:
    from labkit.datasets import load_documents, load_questions
    from labkit.lexical import split_passages
    from labkit.models.embedder import save_vectors

    texts = [p for doc in load_documents() for p in split_passages(doc.text)]
    texts += [q.question for q in load_questions()]
    target = HERE / "minilm_vectors.npz"
    count = save_vectors(target, texts)
    print(f"wrote {count} vectors to {target.relative_to(ROOT)} ({target.stat().st_size} bytes)")
    return target


def shipped_embed() -> object:
    """The shipped vectors alone, never the model: the scored pairs must be the ones a grader
    serving ``minilm_vectors.npz`` sees, so a text it lacks is an error (rebuild the vectors)."""
    from labkit.models.embedder import EmbeddingCache, load_vectors

    table = load_vectors(HERE / "minilm_vectors.npz")

    def embed(texts: list[str]) -> np.ndarray:
        return np.stack([table[EmbeddingCache.key(t)] for t in texts])

    return embed


def build_scores() -> Path:
    from search import HybridSearcher, SearchConfig

    from labkit.datasets import load_documents, load_questions
    from labkit.models import reranker

    path = reranker.reranker_path()
    if not reranker.is_trained(path):
        raise SystemExit(f"no trained reranker in {path}: run `make models` first")
    info = json.loads((path / "labkit-reranker.json").read_text())
    docs = load_documents()
    searcher = HybridSearcher(
        [d.id for d in docs], [d.text for d in docs], config=SearchConfig(), embed=shipped_embed()
    )
    pairs: dict[str, tuple[str, str]] = {}
    for q in load_questions(split="test"):
        if not q.answerable:
            continue
        ids = dict.fromkeys(
            searcher.hybrid(q.question, DEPTH) + searcher.weighted(q.question, DEPTH)
        )
        for passage in searcher.vectors.best_passages(q.question, list(ids)).values():
            pairs[reranker.pair_key(q.question, passage)] = (q.question, passage)
    items = sorted(pairs.items())
    model = reranker.get_reranker()
    print(f"scoring {len(items)} pairs with {path.name} ...", flush=True)
    scores = model.predict([pair for _, pair in items], batch_size=32, show_progress_bar=True)
    target = HERE / "rerank_scores.npz"
    reranker.save_scores(
        target,
        {key: float(score) for (key, _), score in zip(items, scores, strict=True)},
        model=path.name,
        recipe_version=str(info.get("recipe_version", "")),
    )
    print(
        f"wrote {len(items)} scores to {target.relative_to(ROOT)} ({target.stat().st_size} bytes)"
    )
    return target


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(REFERENCE))
    wanted = set(argv) or {"vectors", "scores"}
    if "vectors" in wanted:
        build_vectors()
    if "scores" in wanted:
        build_scores()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
