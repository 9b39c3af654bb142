"""Run a rag-03 folder's retrieval pipeline, stage by stage, on a BEIR data set, and measure it.

    from labkit.datasets import load_beir
    from labkit.retrieval.evaluation import build_searcher, evaluate_stages
    data = load_beir("kb-beir", split="test")
    searcher = build_searcher("solutions/rag-03", data.corpus, rerank_depth=10)
    report = evaluate_stages(searcher, data, ["bm25", "dense", "hybrid", "rerank"])
    report.stages["rerank"].metrics["ndcg@10"]

The folder's ``search.HybridSearcher`` is the pipeline (its ``lexical``, ``dense``, ``fusion`` and
``rerank`` modules come with it); the metrics are the course's own (:mod:`labkit.retrieval.metrics`),
not the folder's, so every folder is measured the same way. A document's text is its title line
(``# Title``) followed by its text, which is how the knowledge base's documents look too.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from labkit.datasets.beir import BeirDataset
from labkit.errors import LabkitError, raised_in
from labkit.retrieval.labfolder import load_modules
from labkit.retrieval.metrics import MEASURES, mean_metrics

STAGES: tuple[str, ...] = ("bm25", "dense", "hybrid", "weighted", "rerank")
DEFAULT_STAGES: tuple[str, ...] = ("bm25", "dense", "hybrid", "rerank")
RUN_DEPTH = 100
"""How many results each stage returns per query (Recall@100 needs 100)."""
DEFAULT_RERANK_DEPTH = 10
MODULES = ("lexical", "dense", "fusion", "rerank", "search")


class Searcher(Protocol):
    """What the evaluation needs from a pipeline: one ranking per (query, stage)."""

    def search(self, query: str, stage: str = ..., k: int = ...) -> list[str]: ...


Progress = Callable[[str, int], Callable[[int], None]]
"""progress(description, total) -> advance(n): how the caller shows progress (a rich bar)."""


def _no_progress(_description: str, _total: int) -> Callable[[int], None]:
    return lambda _n: None


@dataclass
class StageResult:
    """One stage: mean metrics, per-query latency and the run itself."""

    metrics: dict[str, float]
    p50_ms: float
    mean_ms: float
    run: dict[str, list[str]] = field(repr=False, default_factory=dict)


@dataclass
class RetrievalReport:
    """Every stage of one evaluation, plus what was evaluated."""

    dataset: str
    split: str
    documents: int
    queries: int
    lab_dir: str
    rerank_depth: int
    index_seconds: float
    stages: dict[str, StageResult]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (without the runs)."""
        data = dataclasses.asdict(self)
        for stage in data["stages"].values():
            stage.pop("run", None)
        return data


def document_texts(corpus: Mapping[str, Mapping[str, str]]) -> tuple[list[str], list[str]]:
    """(doc ids, texts) in corpus order; a title becomes the text's first line, ``# Title``.

    A text that already starts with its title (a markdown document's ``# Title`` line, as in the
    knowledge base) is kept as it is.
    """
    ids = list(corpus)
    texts = []
    for doc_id in ids:
        doc = corpus[doc_id]
        title = " ".join(doc.get("title", "").split())
        text = doc["text"]
        first = text.lstrip().split("\n", 1)[0].lstrip("#").strip()
        texts.append(f"# {title}\n\n{text}" if title and first != title else text)
    return ids, texts


def batched_embed(progress: Progress, batch: int = 256) -> Callable[[Sequence[str]], np.ndarray]:
    """The course's cached embedder, in batches, reporting progress for large inputs."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        from labkit.models.embedder import get_embedder

        embedder = get_embedder()
        items = list(texts)
        if len(items) <= batch:
            return embedder.embed(items)
        advance = progress(f"embedding {len(items)} passages", len(items))
        parts = []
        for start in range(0, len(items), batch):
            parts.append(embedder.embed(items[start : start + batch]))
            advance(len(parts[-1]))
        return np.concatenate(parts)

    return embed


def build_searcher(
    lab_dir: Path | str,
    corpus: Mapping[str, Mapping[str, str]],
    *,
    rerank_depth: int = DEFAULT_RERANK_DEPTH,
    progress: Progress = _no_progress,
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> Searcher:
    """The folder's ``HybridSearcher`` over ``corpus`` (which it indexes now)."""
    if not corpus:
        raise LabkitError("the corpus is empty: there is nothing to search")
    modules = load_modules(lab_dir, MODULES)
    search = modules["search"]
    config_cls = getattr(search, "SearchConfig", None)
    searcher_cls = getattr(search, "HybridSearcher", None)
    if config_cls is None or searcher_cls is None:
        raise LabkitError(f"{lab_dir}/search.py must define SearchConfig and HybridSearcher")
    ids, texts = document_texts(corpus)
    config = dataclasses.replace(config_cls(), rerank_depth=rerank_depth)
    try:
        return searcher_cls(ids, texts, config=config, embed=embed or batched_embed(progress))
    except NotImplementedError as exc:
        raise _not_implemented(lab_dir, exc) from exc


def _not_implemented(lab_dir: Path | str, exc: NotImplementedError) -> LabkitError:
    place = raised_in(exc, Path(lab_dir) if lab_dir else None)
    where = f"{place.file.name}: {place.function}()" if place else "a stub"
    return LabkitError(
        f"{lab_dir or 'the lab folder'}: {where} is not implemented yet (NotImplementedError)"
    )


def evaluate_stages(
    searcher: Searcher,
    data: BeirDataset,
    stages: Iterable[str] = DEFAULT_STAGES,
    *,
    lab_dir: str = "",
    rerank_depth: int = DEFAULT_RERANK_DEPTH,
    index_seconds: float = 0.0,
    progress: Progress = _no_progress,
    depth: int = RUN_DEPTH,
) -> RetrievalReport:
    """Run every stage on every judged query; measure nDCG@10, Recall@100, MRR@10 and latency."""
    chosen = list(stages)
    unknown = [s for s in chosen if s not in STAGES]
    if unknown:
        raise LabkitError(f"unknown stage {unknown[0]!r}; use any of: {', '.join(STAGES)}")
    if not data.queries:
        raise LabkitError(f"the {data.split} split has no judged queries")
    results: dict[str, StageResult] = {}
    for stage in chosen:
        if stage == "rerank":
            _load_reranker()
        advance = progress(stage, len(data.queries))
        run: dict[str, list[str]] = {}
        times: list[float] = []
        for qid, text in data.queries.items():
            started = time.perf_counter()
            try:
                ranking = searcher.search(text, stage, depth)
            except NotImplementedError as exc:
                raise _not_implemented(lab_dir, exc) from exc
            times.append(1000 * (time.perf_counter() - started))
            run[qid] = [str(doc_id) for doc_id in ranking]
            advance(1)
        results[stage] = StageResult(
            metrics=mean_metrics(run, data.qrels, MEASURES),
            p50_ms=round(statistics.median(times), 2),
            mean_ms=round(statistics.fmean(times), 2),
            run=run,
        )
    return RetrievalReport(
        dataset=str(data.path or ""),
        split=data.split,
        documents=len(data.corpus),
        queries=len(data.queries),
        lab_dir=lab_dir,
        rerank_depth=rerank_depth,
        index_seconds=round(index_seconds, 2),
        stages=results,
    )


def _load_reranker() -> None:
    """Load (or, the first time on a machine, train) the reranker before the progress bar starts."""
    from labkit.models.reranker import get_reranker

    get_reranker()
