"""GIVEN. Each stage's nDCG@10 / Recall@k / MRR@10 on the knowledge base's golden questions.

    python compare.py                        # dev split, every stage (the first run embeds: ~1 min)
    python compare.py --no-stem              # the same with an unstemmed BM25
    python compare.py --stages bm25,hybrid   # only some stages
    python compare.py --split test           # the held-out questions (look once, at the end)
    python compare.py --by-type              # one table per question type
    python compare.py --embedder provider    # vectors from LABKIT_PROVIDER's /v1/embeddings

The retrieval unit is the document: a question's gold documents are its ``doc_ids``, each with
relevance 1. Unanswerable questions have no gold document and are left out of the metrics.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from ranking_metrics import evaluate_run
from search import STAGES, HybridSearcher, SearchConfig

from labkit.datasets import Question, load_documents, load_questions

DEPTH = 100


def qrels_of(questions: Sequence[Question]) -> dict[str, dict[str, int]]:
    """Gold documents of the answerable questions: ``{question id: {doc id: 1}}``."""
    return {q.id: dict.fromkeys(q.doc_ids, 1) for q in questions if q.answerable}


def table(rows: list[tuple[str, dict[str, float], float]], title: str) -> str:
    """A plain-text table, one row per stage."""
    names = list(rows[0][1]) if rows else []
    head = f"{'stage':<10}" + "".join(f"{n:>12}" for n in names) + f"{'ms/query':>10}"
    lines = [title, head, "-" * len(head)]
    for stage, metrics, ms in rows:
        lines.append(
            f"{stage:<10}" + "".join(f"{metrics[n]:>12.3f}" for n in names) + f"{ms:>10.1f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated stage names")
    parser.add_argument("--no-stem", action="store_true", help="BM25 without stemming")
    parser.add_argument("--alpha", type=float, default=SearchConfig.alpha)
    parser.add_argument("--rrf-k", type=int, default=SearchConfig.rrf_k)
    parser.add_argument("--rerank-depth", type=int, default=SearchConfig.rerank_depth)
    parser.add_argument(
        "--rerank-weight",
        type=float,
        default=SearchConfig.rerank_weight,
        help="the cross-encoder's share of the reranked score (1.0: the cross-encoder alone)",
    )
    parser.add_argument("--recall-k", type=int, default=5, help="cut-off of Recall (default 5)")
    parser.add_argument("--by-type", action="store_true", help="one table per question type")
    parser.add_argument(
        "--embedder",
        choices=("local", "provider"),
        default="local",
        help="local: MiniLM in-process (default); provider: the configured provider's embeddings",
    )
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage {unknown[0]!r}; use any of {', '.join(STAGES)}")

    docs = load_documents()
    questions = [q for q in load_questions(split=args.split) if q.answerable]
    config = SearchConfig(
        alpha=args.alpha,
        rrf_k=args.rrf_k,
        rerank_depth=args.rerank_depth,
        rerank_weight=args.rerank_weight,
        stem=not args.no_stem,
    )
    print(f"indexing {len(docs)} documents ...", file=sys.stderr, flush=True)
    embed = None
    if args.embedder == "provider":
        from labkit.models.embedder import ProviderEmbedder

        embed = ProviderEmbedder().embed
    searcher = HybridSearcher(
        [d.id for d in docs], [d.text for d in docs], config=config, embed=embed
    )

    groups: dict[str, list[Question]] = {"all": questions}
    if args.by_type:
        for q in questions:
            groups.setdefault(q.type, []).append(q)
    runs: dict[str, dict[str, list[str]]] = {}
    timing: dict[str, float] = {}
    for stage in stages:
        print(f"running {stage} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        runs[stage] = {q.id: searcher.search(q.question, stage, DEPTH) for q in questions}
        timing[stage] = 1000 * (time.perf_counter() - started) / max(1, len(questions))
    for name, group in groups.items():
        qrels = qrels_of(group)
        rows = [
            (s, evaluate_run(runs[s], qrels, k=10, recall_k=args.recall_k), timing[s])
            for s in stages
        ]
        title = f"{args.split} split, {name} ({len(qrels)} questions), stem={not args.no_stem}"
        print(table(rows, title) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
