"""The model outputs shipped with graders/rag-03 are current, so grading stays a matter of seconds.

Grading runs in a fresh home folder (cold caches). The rag-03 grader therefore ships MiniLM
vectors and the trained reranker's scores (``graders/rag-03/build_fixtures.py``) and computes only
what is missing. Nothing would fail if they went stale — grading would silently take minutes —
so these tests say when to rebuild them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from labkit import lexical
from labkit.datasets import load_documents, load_questions, repo_root
from labkit.models import reranker
from labkit.models.embedder import EmbeddingCache, load_vectors

GRADER = repo_root() / "graders" / "rag-03"
REBUILD = "rebuild with: .venv/bin/python graders/rag-03/build_fixtures.py"


@pytest.mark.parametrize("folder", ["solutions", "labs"])
def test_the_lab_cuts_passages_with_the_reranker_s_own_cut(folder: str) -> None:
    """The reranker is trained on the passages rag-03 searches: the lab is given
    ``labkit.lexical.split_passages`` itself, not a copy that could drift."""
    from labkit.retrieval.labfolder import load_modules

    lab = load_modules(repo_root() / folder / "rag-03", ["dense"])["dense"].split_passages
    assert lab is lexical.split_passages


def test_split_passages_merges_short_blocks_and_repeats_the_title() -> None:
    assert lexical.split_passages("") == []
    assert lexical.split_passages("one line") == ["one line"]
    long = "x " * 150
    doc = f"# Travel\n\nshort\n\n{long}\n\ntail"
    assert lexical.split_passages(doc) == [
        f"# Travel\n\nshort\n\n{long.strip()}",
        "# Travel\n\ntail",
    ]


def test_shipped_vectors_cover_every_passage_and_question() -> None:
    texts = {p for d in load_documents() for p in lexical.split_passages(d.text)}
    texts |= {q.question for q in load_questions()}
    shipped = load_vectors(GRADER / "minilm_vectors.npz")
    missing = [t for t in texts if EmbeddingCache.key(t) not in shipped]
    assert not missing, (
        f"{len(missing)} texts have no shipped vector, e.g. {missing[0][:60]!r}; {REBUILD}"
    )


def test_shipped_scores_come_from_the_current_reranker() -> None:
    path = reranker.reranker_path()
    if not reranker.is_trained(path):
        pytest.skip(f"no trained reranker in {path} (`make models`)")
    assert (GRADER / "rerank_scores.npz").is_file(), (
        f"rerank_scores.npz is missing; {REBUILD} scores"
    )
    with np.load(GRADER / "rerank_scores.npz") as data:
        model = str(data["model"])
    info = json.loads((path / "labkit-reranker.json").read_text())
    assert model == path.name, (
        f"the shipped scores come from {model}, the trained reranker is {path.name} "
        f"(recipe {info.get('recipe_version')}); {REBUILD} scores"
    )


def test_shipped_scores_cover_the_reference_pipeline() -> None:
    """Every (question, passage) pair the reference sends the reranker on the test split."""
    if not (GRADER / "rerank_scores.npz").is_file():
        pytest.skip("no rerank_scores.npz yet")
    from labkit.retrieval.labfolder import load_modules

    build_fixtures = load_modules(GRADER, ["build_fixtures"])["build_fixtures"]
    shipped = reranker.load_scores(GRADER / "rerank_scores.npz")
    search = load_modules(repo_root() / "solutions" / "rag-03", ["search"])["search"]
    docs = load_documents()
    sent: list[tuple[str, str]] = []

    def scorer(query: str, passages: list[str]) -> list[float]:
        sent.extend((query, p) for p in passages)
        return [0.0] * len(passages)

    searcher = search.HybridSearcher(
        [d.id for d in docs],
        [d.text for d in docs],
        embed=build_fixtures.shipped_embed(),
        scorer=scorer,
    )
    for q in load_questions(split="test"):
        if q.answerable:
            searcher.search(q.question, "rerank", 10)
    missing = [pair for pair in sent if reranker.pair_key(*pair) not in shipped]
    assert not missing, f"{len(missing)} of {len(sent)} pairs are not shipped; {REBUILD} scores"
