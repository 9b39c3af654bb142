"""The knowledge base, its golden questions, the Wikipedia questions and the BEIR round trip.

These tests are the data sets' contract: every supporting passage is quoted verbatim from its
gold document, every fact is inside a passage, ids are unique and resolvable, both splits carry
every question type, and broken files fail with one line that names the file and the line.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from labkit.datasets import (
    export_beir,
    export_knowledge_base_beir,
    export_wiki_beir,
    kb_dir,
    load_beir,
    load_documents,
    load_questions,
    load_wiki_questions,
    load_wiki_summaries,
    repo_root,
    wiki_docs_by_title,
)
from labkit.datasets.knowledge_base import KINDS, QUESTION_TYPES, SPLITS, UNANSWERABLE_ANSWER
from labkit.errors import LabkitError

DOCS = load_documents()
DOC_BY_ID = {d.id: d for d in DOCS}
QUESTIONS = load_questions()


# --- documents --------------------------------------------------------------------------------


def test_at_least_60_documents_of_every_kind() -> None:
    assert len(DOCS) >= 60, f"only {len(DOCS)} documents"
    kinds = Counter(d.kind for d in DOCS)
    assert set(kinds) == set(KINDS), f"kinds without a document: {set(KINDS) - set(kinds)}"


def test_document_ids_are_file_names_and_titles_match_the_first_line() -> None:
    assert len(DOC_BY_ID) == len(DOCS), "duplicate document ids"
    for doc in DOCS:
        assert doc.path.name == f"{doc.id}.md"
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", doc.id), doc.id
        assert doc.text.split("\n", 1)[0] == f"# {doc.title}", (
            f"{doc.id}: title differs from manifest"
        )
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", doc.date), f"{doc.id}: date {doc.date!r}"
        assert doc.version, f"{doc.id}: empty version"


def test_document_lengths_and_markdown_structure() -> None:
    words = {d.id: len(d.text.split()) for d in DOCS}
    too_short_or_long = {k: n for k, n in words.items() if not 150 <= n <= 1500}
    assert not too_short_or_long, f"documents outside 150-1,500 words: {too_short_or_long}"
    assert sum(300 <= n <= 700 for n in words.values()) >= len(DOCS) // 2
    assert sum("\n## " in d.text for d in DOCS) == len(DOCS), "every document has sections"
    assert sum("\n|---" in d.text or "\n| ---" in d.text for d in DOCS) >= 30, "tables"
    assert sum("\n```" in d.text for d in DOCS) >= 20, "fenced code blocks"
    assert sum(bool(re.search(r"^\d+\. ", d.text, re.M)) for d in DOCS) >= 15, "numbered lists"


# --- questions --------------------------------------------------------------------------------


def test_at_least_150_questions_with_unique_sequential_ids() -> None:
    assert len(QUESTIONS) >= 150, f"only {len(QUESTIONS)} questions"
    ids = [q.id for q in QUESTIONS]
    assert ids == [f"q{n:03d}" for n in range(1, len(ids) + 1)], "ids must be q001, q002, ..."


def test_every_passage_occurs_verbatim_in_its_gold_document() -> None:
    for q in QUESTIONS:
        for p in q.passages:
            assert p.doc_id in q.doc_ids, f"{q.id}: passage from {p.doc_id} not in doc_ids"
            assert p.doc_id in DOC_BY_ID, f"{q.id}: unknown document {p.doc_id}"
            assert p.text in DOC_BY_ID[p.doc_id].text, f"{q.id}: not in {p.doc_id}: {p.text!r}"


def test_every_fact_occurs_in_one_of_its_passages() -> None:
    for q in QUESTIONS:
        for fact in q.facts:
            assert fact.strip(), f"{q.id}: empty fact"
            assert any(fact.lower() in p.text.lower() for p in q.passages), (
                f"{q.id}: fact {fact!r} is in none of its passages"
            )


def test_every_doc_id_exists_and_has_a_passage() -> None:
    for q in QUESTIONS:
        for doc_id in q.doc_ids:
            assert doc_id in DOC_BY_ID, f"{q.id}: unknown document {doc_id}"
            assert any(p.doc_id == doc_id for p in q.passages), f"{q.id}: no passage from {doc_id}"


def test_types_and_splits_are_valid_and_both_splits_have_every_type() -> None:
    cells: Counter[tuple[str, str]] = Counter((q.type, q.split) for q in QUESTIONS)
    for qtype in QUESTION_TYPES:
        for split in SPLITS:
            assert cells[(qtype, split)] >= 5, f"{qtype}/{split} has {cells[(qtype, split)]}"
    total = len(QUESTIONS)
    share = {t: sum(n for (tt, _), n in cells.items() if tt == t) / total for t in QUESTION_TYPES}
    assert 0.30 <= share["factoid"] <= 0.40, share
    assert 0.15 <= share["paraphrase"] <= 0.25, share
    assert 0.15 <= share["identifier"] <= 0.25, share
    assert 0.09 <= share["multi-document"] <= 0.15, share
    assert 0.10 <= share["unanswerable"] <= 0.16, share


def test_split_rule_alternates_within_each_type() -> None:
    """The documented rule: within each type, in id order, 1st dev, 2nd test, 3rd dev, ..."""
    for qtype in QUESTION_TYPES:
        of_type = [q for q in QUESTIONS if q.type == qtype]
        expected = ["dev" if i % 2 == 0 else "test" for i in range(len(of_type))]
        assert [q.split for q in of_type] == expected, f"{qtype}: split rule broken"


def test_shape_of_each_question_type() -> None:
    for q in QUESTIONS:
        assert q.question.endswith("?") or q.question.endswith("."), q.id
        if q.type == "unanswerable":
            assert not q.answerable
            assert (q.facts, q.doc_ids, q.passages) == ((), (), ()), q.id
            assert q.answer == UNANSWERABLE_ANSWER, q.id
            continue
        assert 1 <= len(q.facts) <= 3, f"{q.id}: {len(q.facts)} facts"
        assert q.passages, q.id
        assert q.doc_ids, q.id
        assert all(len(f) <= 60 for f in q.facts), f"{q.id}: facts must be short"
        if q.type == "multi-document":
            assert len(q.doc_ids) == 2, f"{q.id}: multi-document needs two gold documents"
            for doc_id in q.doc_ids:
                texts = [p.text.lower() for p in q.passages if p.doc_id == doc_id]
                assert any(f.lower() in t for f in q.facts for t in texts), (
                    f"{q.id}: no fact comes from {doc_id}"
                )


def test_load_questions_filters_by_split_and_type() -> None:
    dev = load_questions(split="dev")
    test = load_questions(split="test", types=["identifier", "multi-document"])
    assert {q.split for q in dev} == {"dev"}
    assert {(q.split, q.type) for q in test} == {("test", "identifier"), ("test", "multi-document")}
    assert len(dev) + len(load_questions(split="test")) == len(QUESTIONS)
    assert load_questions(types="paraphrase") == [q for q in QUESTIONS if q.type == "paraphrase"]
    with pytest.raises(LabkitError, match="split='train' is not known"):
        load_questions(split="train")
    with pytest.raises(LabkitError, match="question type 'trivia' is not known"):
        load_questions(types=["trivia"])


# --- broken files -----------------------------------------------------------------------------


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge-base"
    shutil.copytree(kb_dir(), target)
    return target


def test_corrupt_questions_line_is_reported_with_its_number(kb_copy: Path) -> None:
    path = kb_copy / "questions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[16] = lines[16][:40]  # line 17, cut in the middle
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LabkitError) as info:
        load_questions(root=kb_copy)
    message = str(info.value)
    assert "questions.jsonl line 17 is not valid JSON" in message
    assert "git checkout" in message
    assert "\n" not in message


def test_question_with_a_bad_field_is_reported(kb_copy: Path) -> None:
    path = kb_copy / "questions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[2])
    record["type"] = "trivia"
    lines[2] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LabkitError, match=r"questions.jsonl line 3 has unknown type 'trivia'"):
        load_questions(root=kb_copy)


def test_missing_files_are_reported(kb_copy: Path) -> None:
    (kb_copy / "questions.jsonl").unlink()
    with pytest.raises(
        LabkitError, match=r"questions.jsonl is missing — restore it with git checkout"
    ):
        load_questions(root=kb_copy)
    (kb_copy / "docs" / "runbook-db-failover.md").unlink()
    with pytest.raises(LabkitError, match=r"runbook-db-failover.md is missing"):
        load_documents(kb_copy)


def test_corrupt_manifest_is_reported(kb_copy: Path) -> None:
    path = kb_copy / "manifest.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LabkitError, match=r"manifest.csv line 5 has 4 columns instead of 5"):
        load_documents(kb_copy)


def test_unlisted_document_is_reported(kb_copy: Path) -> None:
    (kb_copy / "docs" / "policy-travel-2025.md").write_text("# Travel Policy 2025\n", "utf-8")
    with pytest.raises(LabkitError, match=r"policy-travel-2025.md is not listed in .*manifest.csv"):
        load_documents(kb_copy)


def test_repo_root_honours_labkit_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert (repo_root() / "datasets" / "knowledge-base" / "manifest.csv").is_file()
    monkeypatch.setenv("LABKIT_ROOT", str(repo_root()))
    assert repo_root() == Path(__file__).resolve().parents[2]
    monkeypatch.setenv("LABKIT_ROOT", str(tmp_path))
    with pytest.raises(LabkitError, match="has no datasets/ folder"):
        repo_root()


# --- Wikipedia --------------------------------------------------------------------------------


def _squash(text: str) -> str:
    return " ".join(text.split()).lower()


def test_wiki_summaries_load_once_with_unique_ids() -> None:
    docs = load_wiki_summaries()
    assert len(docs) == 10_033
    assert len({d.id for d in docs}) == len(docs)
    assert all(d.text and d.title for d in docs)
    assert load_wiki_summaries()[0] is docs[0], "summaries are cached per process"
    assert not any("\u00a0" in d.text for d in docs), "no-break spaces are normalised"


def test_wiki_questions_have_existing_gold_titles_that_contain_the_answer() -> None:
    questions = load_wiki_questions()
    by_title = wiki_docs_by_title()
    assert len(questions) >= 100, f"only {len(questions)} wiki questions"
    assert [q.id for q in questions] == [f"w{n:03d}" for n in range(1, len(questions) + 1)]
    assert len({q.question for q in questions}) == len(questions), "duplicate questions"
    for q in questions:
        missing = [t for t in q.gold_titles if t not in by_title]
        assert not missing, f"{q.id}: {missing} not in the package"
        assert any(_squash(q.answer) in _squash(by_title[t].text) for t in q.gold_titles), (
            f"{q.id}: answer {q.answer!r} is not in its gold summaries"
        )
        first_sentence = by_title[q.gold_titles[0]].text.split(". ")[0].lower()
        assert q.question.lower() not in first_sentence, f"{q.id} copies the summary"


def test_wiki_split_rule_alternates() -> None:
    questions = load_wiki_questions()
    assert [q.split for q in questions] == [
        "dev" if i % 2 == 0 else "test" for i in range(len(questions))
    ]
    assert {q.split for q in load_wiki_questions(split="test")} == {"test"}


def test_corrupt_wiki_questions_line_is_reported(tmp_path: Path) -> None:
    source = repo_root() / "datasets" / "wiki" / "questions.jsonl"
    lines = source.read_text(encoding="utf-8").splitlines()
    lines[4] = "{not json"
    broken = tmp_path / "questions.jsonl"
    broken.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(LabkitError, match=r"questions.jsonl line 5 is not valid JSON"):
        load_wiki_questions(path=broken)


# --- BEIR -------------------------------------------------------------------------------------


def test_knowledge_base_beir_export_round_trips(tmp_path: Path) -> None:
    folder = export_knowledge_base_beir(tmp_path / "kb")
    for split in SPLITS:
        data = load_beir(folder, split)
        assert data.corpus == {d.id: {"title": d.title, "text": d.text} for d in DOCS}
        gold = {
            q.id: dict.fromkeys(q.doc_ids, 1) for q in QUESTIONS if q.split == split and q.doc_ids
        }
        assert data.qrels == gold
        assert data.queries == {q.id: q.question for q in QUESTIONS if q.id in gold}
    header = (folder / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "query-id\tcorpus-id\tscore"
    all_queries = (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(all_queries) == len(QUESTIONS), "unanswerable questions are queries without qrels"


def test_wiki_beir_export_round_trips(tmp_path: Path) -> None:
    folder = export_wiki_beir(tmp_path / "wiki")
    data = load_beir(folder, "test")
    by_title = wiki_docs_by_title()
    assert len(data.corpus) == 10_033
    for q in load_wiki_questions(split="test"):
        assert data.qrels[q.id] == {by_title[t].id: 1 for t in q.gold_titles}
        assert data.queries[q.id] == q.question


def test_generic_export_and_load(tmp_path: Path) -> None:
    corpus = {
        "d1": {"title": "Café", "text": "Crème brûlée\twith tabs"},
        "d2": {"text": "no title"},
    }
    folder = export_beir(
        corpus, {"q1": "dessert?", "q2": "unjudged"}, {"test": {"q1": {"d1": 2, "d2": 0}}}, tmp_path
    )
    data = load_beir(folder)
    assert data.corpus["d1"] == {"title": "Café", "text": "Crème brûlée\twith tabs"}
    assert data.corpus["d2"] == {"title": "", "text": "no title"}
    assert data.queries == {"q1": "dessert?"}
    assert data.qrels == {"q1": {"d1": 2, "d2": 0}}
    with pytest.raises(LabkitError, match="not in queries"):
        export_beir(corpus, {}, {"test": {"q9": {"d1": 1}}}, tmp_path / "bad")
    with pytest.raises(LabkitError, match="unknown document 'd9'"):
        export_beir(corpus, {"q1": "x"}, {"test": {"q1": {"d9": 1}}}, tmp_path / "bad")


@pytest.fixture
def small_beir(tmp_path: Path) -> Path:
    return export_beir(
        {"d1": {"title": "A", "text": "alpha"}, "d2": {"title": "B", "text": "beta"}},
        {"q1": "first", "q2": "second"},
        {"test": {"q1": {"d1": 1}, "q2": {"d2": 1}}, "dev": {"q2": {"d1": 1}}},
        tmp_path / "small",
    )


def test_load_beir_reports_corrupt_corpus_line(small_beir: Path) -> None:
    corpus = small_beir / "corpus.jsonl"
    corpus.write_text(corpus.read_text(encoding="utf-8") + '{"_id": "d3", "text": \n', "utf-8")
    with pytest.raises(LabkitError, match=r"corpus.jsonl line 3 is not valid JSON"):
        load_beir(small_beir)


def test_load_beir_reports_missing_fields_and_files(small_beir: Path) -> None:
    with pytest.raises(
        LabkitError, match=r"train.tsv is missing \(qrels splits in this folder: dev, test\)"
    ):
        load_beir(small_beir, split="train")
    (small_beir / "queries.jsonl").write_text('{"_id": "q1"}\n', "utf-8")
    with pytest.raises(LabkitError, match=r"queries.jsonl line 1 has no 'text' field"):
        load_beir(small_beir)
    (small_beir / "corpus.jsonl").unlink()
    with pytest.raises(LabkitError, match=r"corpus.jsonl is missing"):
        load_beir(small_beir)
    with pytest.raises(LabkitError, match=r"is not a folder"):
        load_beir(small_beir / "nowhere")


def test_load_beir_reports_bad_qrels_rows(small_beir: Path) -> None:
    qrels = small_beir / "qrels" / "test.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\n", "utf-8")
    with pytest.raises(
        LabkitError, match=r"test.tsv line 2 has 2 tab-separated columns instead of 3"
    ):
        load_beir(small_beir)
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\thigh\n", "utf-8")
    with pytest.raises(LabkitError, match=r"test.tsv line 2 has a score 'high'"):
        load_beir(small_beir)
    qrels.write_text("query-id\tcorpus-id\tscore\nq7\td1\t1\n", "utf-8")
    with pytest.raises(
        LabkitError, match=r"test.tsv line 2 judges query 'q7', which is not in queries"
    ):
        load_beir(small_beir)
    qrels.write_text("q1\t0\td1\t1\n", "utf-8")  # TREC four-column rows, no header
    assert load_beir(small_beir).qrels == {"q1": {"d1": 1}}
