"""Does the project's own cross-encoder improve on the candidates it reranks? Held-out numbers.

The reranker is trained on weak queries from Wikipedia summaries plus the knowledge base's DEV
questions (see :mod:`labkit.models.reranker`). This benchmark measures it on data training never
saw:

- ``wiki``: the project-written Wikipedia questions, TEST split (``datasets/wiki/questions.jsonl``)
  over all 10,033 summaries; also reported for the subset whose gold summaries are in the
  held-out 20 % of documents (never used in training, not even as negatives);
- ``knowledge-base``: the golden questions, TEST split, over the knowledge base's paragraphs
  (unanswerable questions have nothing to rank and are left out).

For each, the top-``DEPTH`` candidates of BM25 and of dense retrieval (the packaged MiniLM
bi-encoder) are reranked by the cross-encoder, and nDCG@10, MRR@10 and Recall@10 (the course's
``labkit.retrieval.metrics``, ir-measures underneath) are compared before and after. The table goes to ``benchmarks/results/reranker.md``; ``run()``
returns the same numbers as a dict. If the model is not trained yet, this trains it first and
reports the time that took.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import load_average, machine_line, utc_now
from labkit.models import reranker as rr
from labkit.retrieval.metrics import mean_metrics, per_query

RESULTS = Path(__file__).resolve().parent / "results" / "reranker.md"
DEPTH = int(os.environ.get("LABKIT_BENCH_RERANK_DEPTH", "50"))
# The table's names (ir-measures') for labkit.retrieval.metrics' own: the same trec_eval measures.
TOOLKIT_MEASURES = {"nDCG@10": "ndcg@10", "RR@10": "mrr@10", "R@10": "recall@10"}
MEASURES_TEXT = tuple(TOOLKIT_MEASURES)


@dataclass
class Task:
    """One evaluation set: a corpus, questions, graded relevance, and subsets worth reporting."""

    name: str
    corpus: list[str]
    bm25_corpus: list[str]
    questions: dict[str, str]
    qrels: dict[str, dict[int, int]]
    subsets: dict[str, set[str]] = field(default_factory=dict)


def wiki_task() -> Task | None:
    """Wikipedia test questions over every summary (None if the questions file is absent)."""
    from labkit.datasets.wiki import load_wiki_questions, load_wiki_summaries, wiki_questions_path

    if not wiki_questions_path().is_file():
        return None
    docs = load_wiki_summaries()
    by_title = {d.title: i for i, d in enumerate(docs)}
    questions: dict[str, str] = {}
    qrels: dict[str, dict[int, int]] = {}
    unseen: set[str] = set()
    for q in load_wiki_questions(split="test"):
        questions[q.id] = q.question
        qrels[q.id] = {by_title[t]: 1 for t in q.gold_titles}
        if all(rr.is_held_out(t) for t in q.gold_titles):
            unseen.add(q.id)
    return Task(
        name="wiki",
        corpus=[d.text for d in docs],
        bm25_corpus=[f"{d.title}. {d.text}" for d in docs],
        questions=questions,
        qrels=qrels,
        subsets={"gold summaries held out of training": unseen},
    )


def kb_task() -> Task | None:
    """Knowledge-base test questions over its paragraphs (None without a questions file)."""
    from labkit.datasets.knowledge_base import kb_dir, load_questions

    if not (kb_dir() / "questions.jsonl").is_file():
        return None
    paragraphs = rr.kb_paragraphs()
    questions: dict[str, str] = {}
    qrels: dict[str, dict[int, int]] = {}
    for q in load_questions(split="test"):
        gold = {g for p in q.passages if (g := rr.kb_gold_paragraph(paragraphs, p)) is not None}
        if gold:
            questions[q.id] = q.question
            qrels[q.id] = dict.fromkeys(gold, 1)
    texts = [p for _, p in paragraphs]
    return Task("knowledge-base", texts, texts, questions, qrels)


def _candidates(task: Task) -> dict[str, dict[str, list[int]]]:
    """Top-DEPTH document indices per question for BM25 and for dense retrieval."""
    from labkit.models.embedder import get_embedder

    bm25 = rr.BM25(task.bm25_corpus)
    embedder = get_embedder()
    doc_vectors = embedder.embed(task.corpus)
    ids = list(task.questions)
    query_vectors = embedder.embed([task.questions[q] for q in ids])
    out: dict[str, dict[str, list[int]]] = {"BM25": {}, "dense": {}}
    for qid, vector in zip(ids, query_vectors, strict=True):
        out["BM25"][qid] = bm25.top(task.questions[qid], DEPTH)
        sims = doc_vectors @ vector
        out["dense"][qid] = [int(i) for i in np.argsort(-sims, kind="stable")[:DEPTH]]
    return out


def _measure(qrels: dict[str, dict[int, int]], ranking: dict[str, list[int]]) -> dict[str, Any]:
    """The course's metrics (:mod:`labkit.retrieval.metrics`, ir-measures underneath), averaged
    over the questions, plus the per-question reciprocal rank (for win/loss counts)."""
    judged = {qid: {str(doc): grade for doc, grade in docs.items()} for qid, docs in qrels.items()}
    run = {qid: [str(doc) for doc in docs] for qid, docs in ranking.items()}
    means = mean_metrics(run, judged, list(TOOLKIT_MEASURES.values()))
    rr = TOOLKIT_MEASURES["RR@10"]
    return {
        **{shown: means[name] for shown, name in TOOLKIT_MEASURES.items()},
        "per_query_rr": {qid: row[rr] for qid, row in per_query(run, judged, [rr]).items()},
    }


def _by_score(docs: list[int], scores: dict[int, float]) -> list[int]:
    """``docs`` reordered by reranker score; ties keep the candidate order."""
    position = {doc: rank for rank, doc in enumerate(docs)}
    return sorted(docs, key=lambda doc: (-scores[doc], position[doc]))


def evaluate(task: Task, model: Any) -> dict[str, Any]:
    """Before/after metrics for each candidate source, overall and per subset."""
    candidates = _candidates(task)
    scores: dict[str, dict[int, float]] = {}
    latencies: list[float] = []
    for qid, question in task.questions.items():
        pool = sorted({i for source in candidates.values() for i in source[qid]})
        started = time.perf_counter()
        predicted = model.predict(
            [(question, task.corpus[i]) for i in pool], batch_size=32, show_progress_bar=False
        )
        latencies.append((time.perf_counter() - started) / max(len(pool), 1) * DEPTH)
        scores[qid] = {
            i: float(s) for i, s in zip(pool, np.asarray(predicted).reshape(-1), strict=True)
        }
    results: dict[str, Any] = {"questions": len(task.questions), "rows": []}
    subsets = {"all test questions": set(task.questions), **task.subsets}
    for source, ranked in candidates.items():
        reranked = {qid: _by_score(docs, scores[qid]) for qid, docs in ranked.items()}
        for subset, ids in subsets.items():
            if not ids:
                continue
            qrels = {q: task.qrels[q] for q in ids}
            before = _measure(qrels, {q: ranked[q] for q in ids})
            after = _measure(qrels, {q: reranked[q] for q in ids})
            wins = sum(
                after["per_query_rr"].get(q, 0) > before["per_query_rr"].get(q, 0) for q in ids
            )
            losses = sum(
                after["per_query_rr"].get(q, 0) < before["per_query_rr"].get(q, 0) for q in ids
            )
            results["rows"].append(
                {
                    "candidates": f"{source} top-{DEPTH}",
                    "subset": subset,
                    "n": len(ids),
                    **{f"{m} before": round(before[m], 3) for m in MEASURES_TEXT},
                    **{f"{m} after": round(after[m], 3) for m in MEASURES_TEXT},
                    "better": wins,
                    "worse": losses,
                }
            )
    results["rerank_ms_per_query_p50"] = round(statistics.median(latencies) * 1000, 1)
    return results


def _model_and_training() -> tuple[Any, dict[str, Any]]:
    """Load the reranker (training it if needed) and describe how it was trained."""
    override = os.environ.get(rr.ENV_VAR, "").strip()
    info: dict[str, Any] = {"model": override or str(rr.reranker_path())}
    if not override and not rr.is_trained():
        started = time.perf_counter()
        rr.train_reranker(progress=True)
        info["trained_by_this_run_seconds"] = round(time.perf_counter() - started, 1)
    model = rr.get_reranker()
    if not override:
        info.update(json.loads((rr.reranker_path() / "labkit-reranker.json").read_text()))
    return model, info


def _fmt(row: dict[str, Any], metric: str) -> str:
    before, after = row[f"{metric} before"], row[f"{metric} after"]
    delta = after - before
    mark = "**" if delta > 0 else ""
    return f"{before:.3f} → {mark}{after:.3f}{mark} ({delta:+.3f})"


def write_markdown(report: dict[str, Any], path: Path = RESULTS) -> None:
    """The human-readable table (benchmarks/results/reranker.md)."""
    info = report["training"]
    lines = [
        "# Reranker: the project's cross-encoder on held-out questions (benchmarks/reranker_bench.py)",
        "",
        f"Model: `{Path(info['model']).name}` (recipe {info.get('recipe_version', '?')}, seed "
        f"{info.get('seed', '?')}), trained from the packaged all-MiniLM-L6-v2 weights. "
        f"{machine_line(report['load_average'], when=report['date'])}.",
        "",
    ]
    if "train_seconds" in info:
        lines += [
            f"Training: {info['groups']} query groups ({', '.join(f'{k} {v}' for k, v in sorted(info['groups_by_kind'].items()))}), "
            f"{info['steps']} steps, data {info['data_seconds']:.0f} s + training "
            f"{info['train_seconds']:.0f} s on {info['torch_threads']} torch threads"
            + (
                f"; this run trained it in {info['trained_by_this_run_seconds']:.0f} s"
                if "trained_by_this_run_seconds" in info
                else ""
            )
            + ".",
            "",
        ]
    for name, result in report["tasks"].items():
        lines += [
            f"## {name} (test split, {result['questions']} questions; reranking costs "
            f"{result['rerank_ms_per_query_p50']:.0f} ms per query for {DEPTH} passages, p50)",
            "",
            "| candidates | questions | n | nDCG@10 before → after | MRR@10 before → after | Recall@10 before → after | better / worse |",
            "|---|---|---:|---|---|---|---:|",
        ]
        for row in result["rows"]:
            lines.append(
                f"| {row['candidates']} | {row['subset']} | {row['n']} | {_fmt(row, 'nDCG@10')} | "
                f"{_fmt(row, 'RR@10')} | {_fmt(row, 'R@10')} | {row['better']} / {row['worse']} |"
            )
        lines.append("")
    lines += [
        '"better / worse": questions whose reciprocal rank of the first relevant passage went up / '
        "down after reranking. Relevance is binary: a gold Wikipedia summary, or the knowledge-base "
        "paragraph that holds a gold passage. Candidates: BM25 (rank-bm25, stemmed) or dense "
        "(MiniLM cosine) top-"
        f"{DEPTH}; the reranker reorders them, so Recall@{DEPTH} is the same before and after.",
        "",
        "## Recipe (labkit.models.reranker, `make models`)",
        "",
        "- Start: the packaged all-MiniLM-L6-v2 encoder + a new 1-logit head "
        "(`CrossEncoder(model_path(), num_labels=1)`).",
        "- Data: weak queries from the 80 % of the 10,033 Wikipedia summaries that are not held out "
        "(hash of the title): a later sentence (inverse cloze: it is removed from the positive "
        '75 % of the time), the first sentence turned into a "What is ...?" question without the '
        "title, the Wikidata description, or the title plus a few words of a later sentence; plus "
        "the knowledge base's DEV questions (gold paragraph vs other documents' paragraphs). "
        "Never a test question, never `datasets/wiki/questions.jsonl`.",
        "- Negatives: 3 per query, sampled from the 20 best BM25 matches that are not the positive; "
        "the same cut as the positive's is applied to them.",
        "- Training: one epoch, 8 groups of (query, positive, 3 negatives) per step, ListNet loss, "
        "AdamW lr 5e-5 with 10 % warm-up then linear decay, token embeddings frozen, 160 tokens "
        "while training and 256 when scoring, seed 13 for python/numpy/torch.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def run() -> dict[str, Any]:
    """Train the reranker if needed, evaluate it on every available held-out set, write the table."""
    report: dict[str, Any] = {
        "load_average": load_average(),
        "date": utc_now(),
    }
    model, report["training"] = _model_and_training()
    report["tasks"] = {}
    for task in (wiki_task(), kb_task()):
        if task is not None and task.questions:
            report["tasks"][task.name] = evaluate(task, model)
    write_markdown(report)
    return report


if __name__ == "__main__":
    outcome = run()
    for task_name, task_result in outcome["tasks"].items():
        for r in task_result["rows"]:
            print(
                f"{task_name:15s} {r['candidates']:14s} {r['subset'][:28]:28s} n={r['n']:3d} "
                f"nDCG@10 {r['nDCG@10 before']:.3f} -> {r['nDCG@10 after']:.3f}  "
                f"MRR@10 {r['RR@10 before']:.3f} -> {r['RR@10 after']:.3f}"
            )
    print(f"table: {RESULTS}")
