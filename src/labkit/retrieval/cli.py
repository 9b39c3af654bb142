"""``labkit eval-retrieval``: a rag-03 pipeline, stage by stage, on any BEIR folder.

    labkit eval-retrieval --beir kb-beir                        # solutions/rag-03, test split
    labkit eval-retrieval --beir kb-beir --dir labs/rag-03 --split dev --json out.json
    labkit eval-retrieval --beir scifact --stages bm25,dense,hybrid --rerank-depth 10

Prints a table of nDCG@10, Recall@100, MRR@10 and the median latency per query for each stage,
and optionally writes the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError

DEFAULT_DIR = "solutions/rag-03"


def register(subparsers: Any) -> None:
    """Add the ``eval-retrieval`` sub-command to the ``labkit`` parser."""
    from labkit.retrieval.evaluation import DEFAULT_RERANK_DEPTH, DEFAULT_STAGES, STAGES

    parser = subparsers.add_parser(
        "eval-retrieval",
        help="measure a rag-03 retrieval pipeline stage by stage on a BEIR folder",
        description="Run a rag-03 folder's BM25, dense, hybrid and reranking stages on a BEIR "
        "data set (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) and report nDCG@10, "
        "Recall@100 and MRR@10 per stage.",
    )
    parser.add_argument("--beir", required=True, metavar="DIR", help="the BEIR folder")
    parser.add_argument(
        "--dir",
        default=None,
        metavar="LAB_DIR",
        help=f"the rag-03 folder whose retrievers to run (default: {DEFAULT_DIR})",
    )
    parser.add_argument("--split", default="test", help="qrels split (default: test)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="write JSON here")
    parser.add_argument(
        "--stages",
        default=",".join(DEFAULT_STAGES),
        help=f"comma-separated, any of {','.join(STAGES)} (default: {','.join(DEFAULT_STAGES)})",
    )
    parser.add_argument(
        "--rerank-depth",
        type=int,
        default=DEFAULT_RERANK_DEPTH,
        metavar="N",
        help=f"fused candidates the cross-encoder reorders (default {DEFAULT_RERANK_DEPTH})",
    )
    parser.set_defaults(func=run)


def _lab_dir(value: str | None) -> Path:
    if value:
        return Path(value)
    from labkit.datasets.paths import repo_root

    return repo_root() / DEFAULT_DIR


@contextmanager
def _bars(console: Any) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A rich progress display; yields progress(description, total) -> advance(n)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bars:

        def start(description: str, total: int) -> Callable[[int], None]:
            task = bars.add_task(description, total=total)
            return lambda n: bars.advance(task, n)

        yield start


def run(args: argparse.Namespace) -> int:
    """Load the data and the folder, run the stages, print the table, write the JSON."""
    from rich.console import Console
    from rich.table import Table

    from labkit.datasets.beir import load_beir
    from labkit.retrieval.evaluation import build_searcher, evaluate_stages
    from labkit.retrieval.metrics import MEASURES

    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    if not stages:
        raise LabkitError("--stages is empty; name at least one stage")
    if args.rerank_depth < 1:
        raise LabkitError(f"--rerank-depth must be at least 1, not {args.rerank_depth}")
    lab_dir = _lab_dir(args.dir)
    data = load_beir(args.beir, split=args.split)
    if not data.queries:
        raise LabkitError(f"{args.beir}: the {args.split} split judges no query")
    console = Console(stderr=True)
    console.print(
        f"{len(data.corpus)} documents, {len(data.queries)} judged queries ({args.split}); "
        f"retrievers from {lab_dir}"
    )
    started = time.perf_counter()
    with _bars(console) as progress:
        searcher = build_searcher(
            lab_dir, data.corpus, rerank_depth=args.rerank_depth, progress=progress
        )
        index_seconds = time.perf_counter() - started
        report = evaluate_stages(
            searcher,
            data,
            stages,
            lab_dir=str(lab_dir),
            rerank_depth=args.rerank_depth,
            index_seconds=index_seconds,
            progress=progress,
        )
    table = Table(title=f"{Path(args.beir).name} · {args.split} · {len(data.queries)} queries")
    table.add_column("stage")
    for name in MEASURES:
        table.add_column(name, justify="right")
    table.add_column("p50 ms/query", justify="right")
    for stage, result in report.stages.items():
        label = f"{stage} (top {args.rerank_depth})" if stage == "rerank" else stage
        table.add_row(
            label, *(f"{result.metrics[m]:.3f}" for m in MEASURES), f"{result.p50_ms:.1f}"
        )
    Console().print(table)
    if args.json is not None:
        payload = report.to_json()
        payload["seconds"] = round(time.perf_counter() - started, 2)
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise LabkitError(f"cannot write {args.json}: {exc.strerror or exc}") from exc
        console.print(f"wrote {args.json}")
    return 0
