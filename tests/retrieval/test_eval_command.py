"""``labkit eval-retrieval``: a rag-03 folder's stages on a small BEIR export of the knowledge base.

The BEIR folder is a slice of the knowledge base (a dozen documents and the test questions whose
gold documents are all in it), so embedding stays quick. The cross-encoder is replaced by a stub
with a ``predict`` method (the trained model takes minutes to train and is tested elsewhere): the
command's plumbing is what is under test here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labkit.cli import main
from labkit.datasets import export_beir, load_beir, load_documents, load_questions, repo_root
from labkit.retrieval import metrics
from labkit.retrieval.evaluation import build_searcher, document_texts, evaluate_stages

REFERENCE = repo_root() / "solutions" / "rag-03"
STARTER = repo_root() / "labs" / "rag-03"


@pytest.fixture(scope="module")
def small_beir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = load_documents()
    questions = [q for q in load_questions(split="test") if q.answerable]
    keep = {d for q in questions[:14] for d in q.doc_ids}
    chosen = [d for d in docs if d.id in keep]
    kept_ids = {d.id for d in chosen}
    judged = [q for q in questions if set(q.doc_ids) <= kept_ids]
    qrels = {"test": {q.id: dict.fromkeys(q.doc_ids, 1) for q in judged}}
    out = tmp_path_factory.mktemp("beir") / "kb-small"
    return export_beir(chosen, {q.id: q.question for q in judged}, qrels, out)


class StubCrossEncoder:
    """Scores a pair by how many query words the passage contains (deterministic, instant)."""

    def __init__(self) -> None:
        self.pairs = 0

    def predict(self, pairs: list[tuple[str, str]], **_: Any) -> np.ndarray:
        self.pairs += len(pairs)
        return np.array(
            [sum(w in p.lower() for w in q.lower().split()) / 10 for q, p in pairs],
            dtype=np.float32,
        )


@pytest.fixture
def stub_reranker(monkeypatch: pytest.MonkeyPatch) -> StubCrossEncoder:
    from labkit.models import reranker

    stub = StubCrossEncoder()
    monkeypatch.setattr(reranker, "get_reranker", lambda: stub)
    return stub


def test_runs_every_stage_and_writes_json(
    small_beir: Path,
    tmp_path: Path,
    stub_reranker: StubCrossEncoder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "report.json"
    code = main(
        [
            "eval-retrieval",
            "--beir",
            str(small_beir),
            "--dir",
            str(REFERENCE),
            "--json",
            str(out),
            "--stages",
            "bm25,dense,hybrid,weighted,rerank",
            "--rerank-depth",
            "5",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    for stage in ("bm25", "dense", "hybrid", "weighted", "rerank (top 5)"):
        assert stage in printed
    report = json.loads(out.read_text())
    data = load_beir(small_beir, split="test")
    assert report["queries"] == len(data.queries)
    assert report["documents"] == len(data.corpus)
    assert report["rerank_depth"] == 5
    assert report["split"] == "test"
    assert list(report["stages"]) == ["bm25", "dense", "hybrid", "weighted", "rerank"]
    for stage in report["stages"].values():
        assert set(stage["metrics"]) == set(metrics.MEASURES)
        assert all(0.0 <= v <= 1.0 for v in stage["metrics"].values())
        assert stage["p50_ms"] >= 0
    # the stub saw exactly depth candidates per query: reranking never scores more
    assert stub_reranker.pairs == 5 * len(data.queries)


def test_metrics_are_the_toolkit_ones_on_the_folder_rankings(small_beir: Path) -> None:
    data = load_beir(small_beir, split="test")
    searcher = build_searcher(REFERENCE, data.corpus)
    report = evaluate_stages(searcher, data, ["bm25", "hybrid"])
    for stage in ("bm25", "hybrid"):
        run = {qid: searcher.search(text, stage, 100) for qid, text in data.queries.items()}
        assert report.stages[stage].run == run
        assert report.stages[stage].metrics == metrics.mean_metrics(run, data.qrels)


def test_titles_become_the_first_line_once() -> None:
    ids, texts = document_texts(
        {
            "a": {"title": "Alpha", "text": "body"},
            "b": {"title": "Beta", "text": "# Beta\n\nx"},
            "c": {"title": "", "text": "plain"},
        }
    )
    assert ids == ["a", "b", "c"]
    assert texts == ["# Alpha\n\nbody", "# Beta\n\nx", "plain"]


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("labkit: "), err
    return err


def test_missing_or_corrupt_beir_folder_is_one_line(
    tmp_path: Path, small_beir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _one_line_error(capsys, ["eval-retrieval", "--beir", str(tmp_path / "nope")])
    assert "is not a folder" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "corpus.jsonl").write_text('{"_id": "a", "text": "x"}\n{not json\n')
    (broken / "queries.jsonl").write_text('{"_id": "q", "text": "x"}\n')
    err = _one_line_error(capsys, ["eval-retrieval", "--beir", str(broken)])
    assert "corpus.jsonl line 2" in err
    err = _one_line_error(capsys, ["eval-retrieval", "--beir", str(small_beir), "--split", "dev"])
    assert "dev.tsv is missing" in err
    err = _one_line_error(
        capsys, ["eval-retrieval", "--beir", str(small_beir), "--stages", "bm25,magic"]
    )
    assert "unknown stage 'magic'" in err


def test_a_starter_folder_says_what_is_missing(
    small_beir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _one_line_error(
        capsys, ["eval-retrieval", "--beir", str(small_beir), "--dir", str(STARTER)]
    )
    assert "lexical.py: BM25Index.__init__() is not implemented yet" in err
