"""What each retrieval stage of the rag-03 reference buys, on two data sets, and what it costs.

Runs ``solutions/rag-03`` through the same code as ``labkit eval-retrieval`` (BEIR export, the
folder's ``HybridSearcher``, the course's metrics) on:

- ``knowledge-base``: the Tessaline golden questions, TEST split (unanswerable ones have no gold
  document and are not judged), over the 66 documents;
- ``wiki``: all 125 project-written Wikipedia questions over the 10,033 pinned summaries (the
  reranker never trains on these questions, so both splits are held out for it).

Per stage: nDCG@10, Recall@100, MRR@10 and the median latency per query (each stage runs from
scratch, so ``rerank`` includes the retrieval and fusion it builds on; embeddings of queries are
cached by the embedder, so dense latency is mostly the similarity search). Also reported: the
reranker's training time, from its cache metadata. Results go to
``benchmarks/results/retrieval.md``; ``run()`` returns them as a dict.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import load_average, machine_line
from labkit.datasets import export_knowledge_base_beir, export_wiki_beir, load_beir
from labkit.datasets.beir import BeirDataset
from labkit.retrieval.evaluation import STAGES, build_searcher, evaluate_stages
from labkit.retrieval.metrics import MEASURES

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "retrieval.md"
REFERENCE = ROOT / "solutions" / "rag-03"
RERANK_DEPTH = int(os.environ.get("LABKIT_BENCH_RERANK_DEPTH", "10"))


def _progress(description: str, total: int) -> Any:
    print(f"   {description} ({total})", file=sys.stderr, flush=True)
    return lambda _n: None


def _both_splits(folder: Path) -> BeirDataset:
    """dev + test qrels of a BEIR folder as one data set (for question sets nobody trained on)."""
    dev, test = load_beir(folder, split="dev"), load_beir(folder, split="test")
    return BeirDataset(
        corpus=test.corpus,
        queries={**dev.queries, **test.queries},
        qrels={**dev.qrels, **test.qrels},
        split="dev+test",
        path=folder,
    )


def _evaluate(name: str, data: BeirDataset) -> dict[str, Any]:
    print(f"   {name}: {len(data.corpus)} documents, {len(data.queries)} queries", file=sys.stderr)
    started = time.perf_counter()
    searcher = build_searcher(REFERENCE, data.corpus, rerank_depth=RERANK_DEPTH, progress=_progress)
    index_seconds = time.perf_counter() - started
    report = evaluate_stages(
        searcher,
        data,
        STAGES,
        lab_dir="solutions/rag-03",
        rerank_depth=RERANK_DEPTH,
        index_seconds=index_seconds,
        progress=_progress,
    )
    out = report.to_json()
    out["name"] = name
    return out


def _reranker_training() -> dict[str, Any]:
    from labkit.models.reranker import is_trained, reranker_path

    path = reranker_path()
    if os.environ.get("LABKIT_RERANKER"):
        return {"model": os.environ["LABKIT_RERANKER"], "train_seconds": None}
    if not is_trained(path):
        return {"model": path.name, "train_seconds": None}
    info = json.loads((path / "labkit-reranker.json").read_text(encoding="utf-8"))
    return {
        "model": path.name,
        "train_seconds": info.get("train_seconds"),
        "data_seconds": info.get("data_seconds"),
        "steps": info.get("steps"),
        "torch_threads": info.get("torch_threads"),
    }


def _table(result: dict[str, Any]) -> list[str]:
    head = "| stage | " + " | ".join(MEASURES) + " | p50 ms/query |"
    lines = [head, "|---|" + "---:|" * (len(MEASURES) + 1)]
    for stage, row in result["stages"].items():
        label = f"{stage} (top {result['rerank_depth']})" if stage == "rerank" else stage
        cells = " | ".join(f"{row['metrics'][m]:.3f}" for m in MEASURES)
        lines.append(f"| {label} | {cells} | {row['p50_ms']:.1f} |")
    return lines


def _write(results: dict[str, Any]) -> None:
    load = load_average()
    training = results["reranker"]
    trained = (
        f"{training['train_seconds']:.0f} s of training ({training.get('steps')} steps, "
        f"{training.get('torch_threads')} torch threads) plus {training.get('data_seconds')} s "
        f"building its data, read from the model's `labkit-reranker.json`"
        if training.get("train_seconds") is not None
        else "unknown (no cache metadata)"
    )
    lines = [
        "# Retrieval stages (benchmarks/retrieval_bench.py)",
        "",
        f"Pipeline: `solutions/rag-03` through `labkit.retrieval` (what `labkit eval-retrieval` "
        f"runs); reranker `{training['model']}` over the fused top {RERANK_DEPTH}. "
        f"{machine_line(load, measured='at the end')}.",
        "",
    ]
    for result in results["datasets"]:
        lines += [
            f"## {result['name']}: {result['queries']} queries, {result['documents']} documents "
            f"({result['split']})",
            "",
            *_table(result),
            "",
            f"Indexing (tokenising, embedding passages, cached vectors reused): "
            f"{result['index_seconds']:.1f} s.",
            "",
        ]
    lines += [
        f"Reranker training time: {trained}.",
        "",
        "Latency is per query, median, each stage run from scratch: `hybrid` includes BM25 and "
        "dense search, `rerank` includes the hybrid stage and the cross-encoder's "
        f"{RERANK_DEPTH} (query, passage) pairs. Query vectors are cached by the embedder after "
        "the first stage, so `dense` is mostly the similarity search.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")


def run() -> dict[str, Any]:
    """Evaluate every stage on both data sets; write the markdown table; return the numbers."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="labkit-retrieval-bench-") as tmp:
        kb = load_beir(export_knowledge_base_beir(Path(tmp) / "kb"), split="test")
        datasets = [_evaluate("knowledge-base (test split)", kb)]
        wiki = _both_splits(export_wiki_beir(Path(tmp) / "wiki"))
        datasets.append(_evaluate("wiki (all questions)", wiki))
    results = {
        "datasets": datasets,
        "reranker": _reranker_training(),
        "rerank_depth": RERANK_DEPTH,
        "seconds": round(time.perf_counter() - started, 1),
    }
    _write(results)
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
