"""The project's own reranker: training data, a tiny training run, loading, and (if trained) quality.

The full model takes minutes to train, so it is never trained here: CI runs `make models` before
the suite, and the one quality test skips, saying why, when the cached model is absent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from labkit import lexical
from labkit.models import reranker as rr

TINY = rr.Recipe(wiki_queries=24, groups_per_step=4, negatives_per_query=2)


# --- data construction ----------------------------------------------------------------------


def test_held_out_partition_is_stable_and_about_a_fifth() -> None:
    docs = rr.load_wiki_summaries()
    assert len(docs) == 10_033
    held = [d.title for d in docs if rr.is_held_out(d.title)]
    assert 0.17 < len(held) / len(docs) < 0.23
    # a hash of the title: the same answer every time, whatever the seed
    assert [rr.is_held_out(t) for t in held[:50]] == [True] * 50


def test_wiki_groups_never_touch_held_out_documents() -> None:
    docs = rr.load_wiki_summaries()
    owner: dict[str, set[str]] = {}
    for doc in docs:
        for sentence in lexical.summary_sentences(doc.text):
            owner.setdefault(sentence, set()).add(doc.title)
    groups = rr.build_wiki_groups(TINY, seed=13)
    assert len(groups) == TINY.wiki_queries
    for group in groups:
        assert group.source.startswith("wiki:")
        assert not rr.is_held_out(group.source.removeprefix("wiki:")), group.source
        for passage in (group.positive, *group.negatives):
            # every passage is (part of) a training document: all its sentences belong to one
            titles = set.intersection(
                *(owner.get(s, set()) for s in lexical.summary_sentences(passage))
            )
            assert titles, f"passage not from a summary: {passage[:80]}"
            assert not all(rr.is_held_out(t) for t in titles), f"held-out passage: {titles}"
        assert group.positive not in group.negatives


def test_wiki_sampling_is_deterministic_in_the_seed() -> None:
    first = rr.build_wiki_groups(TINY, seed=13)
    assert rr.build_wiki_groups(TINY, seed=13) == first
    assert rr.build_wiki_groups(TINY, seed=14) != first


def test_definition_questions_hide_the_title() -> None:
    doc = rr.WikiDoc(
        "tomato", "Tomato", "", description="Edible berry", topic="Biology and health sciences"
    )
    question = rr._definition_question(
        "The tomato is a plant whose fruit is an edible berry that is eaten as a vegetable.", doc
    )
    assert (
        question == "What is a plant whose fruit is an edible berry that is eaten as a vegetable?"
    )
    person = rr.WikiDoc("du-fu", "Du Fu", "", topic="People")
    assert rr._definition_question("Du Fu was a Chinese poet and politician.", person) == (
        "Who was a Chinese poet and politician?"
    )
    # no copula, or a subject that is not the title: no question rather than a wrong one
    assert rr._definition_question("Nazi Germany built camps between 1933 and 1945.", doc) is None


def _row(qid: str, split: str, question: str, passages: list[tuple[str, str]]) -> dict[str, object]:
    return {
        "id": qid,
        "question": question,
        "answer": "-",
        "facts": [],
        "doc_ids": sorted({d for d, _ in passages}),
        "passages": [{"doc_id": d, "text": t} for d, t in passages],
        "type": "factoid" if passages else "unanswerable",
        "split": split,
    }


def _fake_kb(root: Path) -> Path:
    """A three-document knowledge base with dev, test and unanswerable questions."""
    kb = root / "knowledge-base"
    (kb / "docs").mkdir(parents=True)
    (kb / "docs" / "travel.md").write_text(
        "# Travel\n\nBook flights at least 14 days before departure. Economy class for short "
        "flights, premium economy for flights longer than six hours, never business class.\n\n"
        "Hotels: the lodging cap is 190 dollars per night in most cities and 300 in big ones.\n"
    )
    (kb / "docs" / "leave.md").write_text(
        "# Leave\n\nEmployees get 25 days of paid leave per year, booked in the HR portal at "
        "least two weeks before the first day off, and approved by their manager.\n\n"
        "Sick leave needs no approval but must be reported before 10 a.m. on the first day.\n"
    )
    (kb / "docs" / "security.md").write_text(
        "# Security\n\nLaptops must use full-disk encryption and lock after five minutes. "
        "Report a lost device to the security team within one hour, by phone or in the portal.\n"
    )
    rows = [
        _row(
            "d1",
            "dev",
            "How early must flights be booked?",
            [("travel", "Book flights at least 14 days before departure.")],
        ),
        _row(
            "t1",
            "test",
            "SENTINEL-TEST how many days of paid leave?",
            [("leave", "Employees get 25 days of paid leave per year")],
        ),
        _row("d2", "dev", "SENTINEL-UNANSWERABLE dev question", []),
    ]
    (kb / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    # a decoy: the builder must never read the wiki questions, held out for evaluation
    (root / "wiki").mkdir()
    (root / "wiki" / "questions.jsonl").write_text('{"question": "SENTINEL-WIKI"}\n')
    return kb


def test_knowledge_base_contributes_its_dev_split_only(tmp_path: Path) -> None:
    kb = _fake_kb(tmp_path)
    recipe = rr.Recipe(negatives_per_query=1, negative_pool=2, kb_repeats=1)
    groups = rr.build_kb_groups(recipe, seed=13, kb_root=kb)
    assert [g.source for g in groups] == ["kb-dev:d1"]
    # the positive is the gold sentence's whole paragraph, like the negatives (no length shortcut)
    assert groups[0].positive.startswith("# Travel\n\nBook flights at least 14 days")
    assert all(not n.startswith("# Travel") for n in groups[0].negatives)
    assert "SENTINEL" not in json.dumps([g.__dict__ for g in groups])


def test_fingerprint_ignores_test_rows_and_tracks_dev_rows(tmp_path: Path) -> None:
    kb = _fake_kb(tmp_path)
    path = kb / "questions.jsonl"
    before = rr.training_fingerprint(kb_root=kb)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1]["question"] = "SENTINEL-TEST changed"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert rr.training_fingerprint(kb_root=kb) == before
    rows[0]["question"] = "How many days ahead must I book a flight?"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert rr.training_fingerprint(kb_root=kb) != before
    assert rr.training_fingerprint(kb_root=kb, seed=14) != rr.training_fingerprint(kb_root=kb)


def test_length_bucketing_is_seeded_and_complete() -> None:
    import random

    groups = rr.build_wiki_groups(TINY, seed=13)
    one = rr.length_bucketed_batches(groups, 4, random.Random(1))
    two = rr.length_bucketed_batches(groups, 4, random.Random(1))
    assert one == two
    assert sorted(g.query for b in one for g in b) == sorted(g.query for g in groups)
    assert all(len(b) == 4 for b in one)


# --- training, loading, the override ---------------------------------------------------------


def _train_tiny(out: Path) -> Path:
    groups = rr.build_wiki_groups(TINY, seed=13)[:8]  # 8 groups x 3 passages = 24 pairs
    return rr.train_reranker(out, progress=False, recipe=TINY, groups=groups, max_steps=1)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CrossEncoder trained for one step on a few dozen pairs (seconds, not minutes)."""
    return _train_tiny(tmp_path_factory.mktemp("reranker") / "tiny")


def test_tiny_training_run_saves_a_loadable_cross_encoder(tiny_model: Path) -> None:
    from sentence_transformers import CrossEncoder

    info = json.loads((tiny_model / "labkit-reranker.json").read_text())
    assert info["steps"] == 1
    assert info["recipe_version"] == rr.RECIPE_VERSION
    assert rr.is_trained(tiny_model)
    model = CrossEncoder(str(tiny_model), device="cpu")
    scores = model.predict([("a query", "a passage"), ("another", "text")])
    assert len(scores) == 2
    assert all(0.0 <= float(s) <= 1.0 for s in scores)
    assert not list(tiny_model.parent.glob(".tiny-*")), "temporary folder left behind"


def test_same_seed_same_machine_gives_identical_weights(tiny_model: Path, tmp_path: Path) -> None:
    again = _train_tiny(tmp_path / "again")
    weights = "model.safetensors"
    assert (again / weights).read_bytes() == (tiny_model / weights).read_bytes()


def test_env_var_overrides_the_model_and_never_trains(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_train(*args: object, **kwargs: object) -> Path:
        raise AssertionError("LABKIT_RERANKER is set: nothing should be trained")

    monkeypatch.setenv(rr.ENV_VAR, str(tiny_model))
    monkeypatch.setattr(rr.loading, "train_reranker", must_not_train)
    rr.get_reranker.cache_clear()
    try:
        ranked = rr.rerank("capital of France", ["Paris is in France.", "Bananas", "x"], top_k=2)
    finally:
        rr.get_reranker.cache_clear()
    assert len(ranked) == 2
    assert ranked[0][1] >= ranked[1][1]
    assert {i for i, _ in ranked} <= {0, 1, 2}
    assert rr.rerank("anything", []) == []


def test_bad_override_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(rr.ENV_VAR, str(tmp_path / "no-such-model"))
    rr.get_reranker.cache_clear()
    try:
        with pytest.raises(rr.LabkitError, match=rr.ENV_VAR):
            rr.get_reranker()
    finally:
        rr.get_reranker.cache_clear()


def test_missing_model_is_trained_on_first_use_and_says_so(
    tiny_model: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shutil

    calls: list[Path] = []

    def fake_train(out_dir: Path, **kwargs: object) -> Path:
        calls.append(out_dir)
        shutil.copytree(tiny_model, out_dir)
        return out_dir

    monkeypatch.delenv(rr.ENV_VAR, raising=False)
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(rr.loading, "train_reranker", fake_train)
    rr.get_reranker.cache_clear()
    try:
        first = rr.get_reranker()
        assert rr.get_reranker() is first  # process-wide
    finally:
        rr.get_reranker.cache_clear()
    assert calls == [rr.reranker_path()]
    assert calls[0].parent == tmp_path
    assert calls[0].name.startswith(f"reranker-{rr.RECIPE_VERSION}-")
    err = capsys.readouterr().err
    assert "training it now" in err
    assert "minutes" in err


# The trained model's quality is not asserted on toy cases here: it is small and trained for
# minutes, and hand-picked examples are exactly where it is unreliable. What the course relies on
# is measured: rag-03's test 7.2 runs the reference's blended rerank stage with this model's
# scores (tests/labs checks it passes; tests/retrieval/test_rag03_fixtures.py checks the shipped
# scores come from the current model), and benchmarks/results/reranker.md reports its gains and
# losses on held-out questions.


# --- scores shipped with a grader ------------------------------------------------------------


def test_pair_key_is_the_shipped_files_rule() -> None:
    import hashlib

    expected = hashlib.sha256("q\x00p é".encode()).hexdigest()
    assert rr.pair_key("q", "p é") == expected
    assert rr.ShippedScorer.key("q", "p é") == expected


def test_saved_scores_load_back_sorted_with_what_made_them(tmp_path: Path) -> None:
    import numpy as np

    file = tmp_path / "scores.npz"
    scores = {rr.pair_key("q", "b"): 0.25, rr.pair_key("q", "a"): -1.5}
    assert rr.save_scores(file, scores, model="reranker-x") == 2
    assert rr.load_scores(file) == scores
    with np.load(file) as data:
        assert [k.decode() for k in data["keys"]] == sorted(scores)
        assert str(data["model"]) == "reranker-x"
    assert rr.load_scores(tmp_path / "absent.npz") == {}
    with pytest.raises(ValueError, match="keys"):
        rr.save_scores(file, scores, keys="x")


def test_shipped_scorer_sends_missing_pairs_once_in_key_order(tmp_path: Path) -> None:
    """Only the pairs the file lacks reach the fallback, each once and in the order of their
    keys, so the same missing pairs always make the same cross-encoder batches."""
    file = tmp_path / "scores.npz"
    rr.save_scores(file, {rr.pair_key("q", "known"): 3.0})
    asked: list[list[str]] = []

    def fallback(query: str, passages: Sequence[str]) -> list[float]:
        asked.append(list(passages))
        return [float(len(p)) for p in passages]

    scorer = rr.ShippedScorer(file, fallback)
    passages = ["zz", "known", "y", "zz", "xxxx"]
    assert scorer("q", passages) == [2.0, 3.0, 1.0, 2.0, 4.0]
    assert asked == [sorted({"zz", "y", "xxxx"}, key=lambda p: rr.pair_key("q", p))]
    assert scorer.live == 3
    assert scorer("q", ["y", "known"]) == [1.0, 3.0]
    assert len(asked) == 1
