"""rag-02 part 1: the persistent, idempotent Chroma store (store.py).

Each test ingests a small seeded knowledge base (three real documents) into its own fresh
database folder; what the collection then holds is read back with Chroma itself.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)

from labkit.grading import assert_same, lab_test
from labkit.grading.toolkit import learner_folder
from labkit.models.embedder import load_vectors, warm_cache

VECTORS = load_vectors(support.VECTORS_FILE)  # read now: the grader's files are gone once tests run
ALL_DOCS = {d.id: d for d in support.documents()}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module", autouse=True)
def _warm_cache() -> None:
    warm_cache(VECTORS)


def small_kb(seed: int) -> list[Any]:
    """Three small documents of the knowledge base, chosen by the seed."""
    ids = random.Random(seed).sample(support.SMALL_DOCS, 3)
    return [ALL_DOCS[i] for i in sorted(ids)]


def fresh_db() -> Path:
    return learner_folder("rag02-db-")


def fresh_store(learner: Any, seed: int) -> tuple[Any, list[Any], Any]:
    """The learner's store module, the seed's small knowledge base and a new, empty collection."""
    store = learner.import_module("store")
    return store, small_kb(seed), store.open_collection(fresh_db())


def expected_chunks(learner: Any, doc: Any) -> dict[str, Any]:
    """chunk id -> chunk, by the README's id rule and the lab's chunker."""
    chunking = learner.import_module("chunking")
    out = {}
    for chunk in chunking.chunk_document(doc.text):
        digest = hashlib.sha256(chunk.text.encode("utf-8")).hexdigest()[:12]
        out[f"{doc.id}:{chunk.index}:{digest}"] = chunk
    return out


def stored(collection: Any, doc_id: str | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """id -> (document, metadata) of what the collection holds (for one document, or all)."""
    where = {"doc_id": doc_id} if doc_id else None
    got = collection.get(where=where, include=["documents", "metadatas"])
    return {
        i: (d, dict(m or {}))
        for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }


def report_tuple(report: Any, call: str) -> tuple[int, int, int]:
    """(added, unchanged, removed) of an IngestReport, as exact ints."""
    values = []
    for name in ("added", "unchanged", "removed"):
        value = getattr(report, name, None)
        assert type(value) is int, (
            f"{call} returned {type(report).__name__} whose .{name} is {value!r}; "
            "expected an IngestReport with int counts"
        )
        values.append(value)
    return values[0], values[1], values[2]


# --------------------------------------------------------------------------- tests


@lab_test(points=2, number="1.1")
def test_chunk_ids_follow_the_rule(learner: Any, lab_seed: int) -> None:
    """Chunk ids are derived from document id, position and content"""
    store = learner.import_module("store")
    rng = random.Random(lab_seed)
    cases = [
        ("policy-leave", 0, "# Leave Policy"),
        ("faq-billing", 7, "Prix en €, délai 30 jours."),
    ]
    for _ in range(3):
        doc = rng.choice(sorted(ALL_DOCS))
        words = rng.sample(ALL_DOCS[doc].text.split(), 6)
        cases.append((doc, rng.randrange(0, 40), " ".join(words)))
    for doc_id, index, text in cases:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        got = store.chunk_id(doc_id, index, text)
        assert_same(got, f"{doc_id}:{index}:{digest}", f"chunk_id({doc_id!r}, {index}, {text!r})")
    same = store.chunk_id("policy-leave", 2, "Sick leave.")
    assert same == store.chunk_id("policy-leave", 2, "Sick leave."), "ids must be stable"
    assert same != store.chunk_id("policy-leave", 2, "Sick leave!"), "a changed text needs a new id"


@lab_test(points=3, number="1.2")
def test_ingest_stores_chunks_with_metadata(learner: Any, lab_seed: int) -> None:
    """Ingest stores every chunk with its text, id and metadata"""
    store, docs, collection = fresh_store(learner, lab_seed)
    added, unchanged, removed = report_tuple(store.ingest(collection, docs), "ingest()")
    total = 0
    for doc in docs:
        want = expected_chunks(learner, doc)
        total += len(want)
        have = stored(collection, doc.id)
        assert set(have) == set(want), (
            f"{doc.id}: stored ids {sorted(have)[:3]}… do not match the expected "
            f"{sorted(want)[:3]}… ({len(have)} stored, {len(want)} expected)"
        )
        for cid, chunk in want.items():
            text, meta = have[cid]
            assert text == chunk.text, f"{cid}: stored document is not the chunk's text"
            expected = {
                "doc_id": doc.id,
                "title": doc.title,
                "kind": doc.kind,
                "version": doc.version,
                "date": doc.date,
                "date_int": int(doc.date.replace("-", "")),
                "chunk_index": chunk.index,
                "start": chunk.start,
                "end": chunk.end,
            }
            subset = {k: meta.get(k) for k in expected}
            assert_same(subset, expected, f"metadata of {cid}")
            assert doc.text[meta["start"] : meta["end"]] == text, (
                f"{cid}: offsets do not cut its text"
            )
    assert (added, unchanged, removed) == (total, 0, 0), (
        f"first ingest reported added/unchanged/removed = {(added, unchanged, removed)}, "
        f"expected {(total, 0, 0)}"
    )
    assert collection.count() == total, (
        f"the collection holds {collection.count()} chunks, expected {total}"
    )


@lab_test(points=3, number="1.3")
def test_reingest_adds_nothing(learner: Any, lab_seed: int) -> None:
    """Ingesting again adds no duplicates and keeps the ids"""
    store, docs, collection = fresh_store(learner, lab_seed)
    store.ingest(collection, docs[:2])
    first = stored(collection)
    again = report_tuple(store.ingest(collection, docs[:2]), "the second ingest()")
    assert again == (0, len(first), 0), (
        f"ingesting the same documents again reported added/unchanged/removed = {again}, "
        f"expected {(0, len(first), 0)}"
    )
    assert collection.count() == len(first), (
        f"the collection grew from {len(first)} to {collection.count()} chunks on re-ingest"
    )
    assert set(stored(collection)) == set(first), "re-ingesting changed the chunk ids"
    third = len(expected_chunks(learner, docs[2]))
    grown = report_tuple(store.ingest(collection, docs), "ingest() with one new document")
    assert grown == (third, len(first), 0), (
        f"adding a third document reported {grown}, expected {(third, len(first), 0)}"
    )


@lab_test(points=3, number="1.4")
def test_changed_document_replaces_its_chunks(learner: Any, lab_seed: int) -> None:
    """A changed document's stale chunks are replaced; other documents are untouched"""
    store, docs, collection = fresh_store(learner, lab_seed)
    store.ingest(collection, docs)
    rng = random.Random(lab_seed + 1)
    target = rng.choice(docs)
    changed = replace(target, text=support.drop_section(target.text, rng))
    before = stored(collection)
    old_ids = set(stored(collection, target.id))
    new_ids = set(expected_chunks(learner, changed))
    got = report_tuple(store.ingest(collection, [changed]), "ingest() of the changed document")
    want = (len(new_ids - old_ids), len(new_ids & old_ids), len(old_ids - new_ids))
    assert got == want, (
        f"ingesting {target.id} with one section removed reported {got}, expected {want}"
    )
    now = stored(collection, target.id)
    assert set(now) == new_ids, (
        f"{target.id} now has {len(now)} chunks; stale ids left: "
        f"{sorted(set(now) - new_ids)[:3]}, missing: {sorted(new_ids - set(now))[:3]}"
    )
    for doc in docs:
        if doc.id != target.id:
            ids = {i for i in before if before[i][1].get("doc_id") == doc.id}
            assert set(stored(collection, doc.id)) == ids, (
                f"{doc.id} changed, but only {target.id} was re-ingested"
            )


@lab_test(points=2, number="1.5")
def test_delete_document(learner: Any, lab_seed: int) -> None:
    """A removed document's chunks can be deleted"""
    store, docs, collection = fresh_store(learner, lab_seed)
    store.ingest(collection, docs)
    victim = docs[random.Random(lab_seed + 2).randrange(3)]
    count = len(stored(collection, victim.id))
    total = collection.count()
    assert_same(
        store.delete_document(collection, victim.id), count, f"delete_document({victim.id!r})"
    )
    assert not stored(collection, victim.id), f"chunks of {victim.id} are still in the collection"
    assert collection.count() == total - count, "other documents' chunks were deleted too"
    assert_same(store.delete_document(collection, victim.id), 0, "deleting it a second time")


@lab_test(points=3, number="1.6")
def test_collection_persists_across_processes(learner: Any, lab_seed: int, tmp_path: Path) -> None:
    """A collection ingested by the CLI in one process is queried in another"""
    store = learner.import_module("store")
    docs = small_kb(lab_seed)
    kb = support.write_kb(tmp_path / "kb", docs)
    db = tmp_path / "db"
    run = learner.run(["cli.py", "--db", str(db), "ingest", "--kb", str(kb)], timeout=60)
    assert run.ok, f"`python cli.py --db DB ingest --kb KB` failed: {run.describe()}"
    want: set[str] = set()
    for doc in docs:
        want |= set(expected_chunks(learner, doc))
    collection = store.open_collection(db)
    have = set(stored(collection))
    assert have == want, (
        f"after `cli.py ingest` in another process, this process sees {len(have)} chunks "
        f"in {db.name}/, expected {len(want)}"
    )
    again = report_tuple(store.ingest(collection, docs), "ingest() in a second process")
    assert again == (0, len(want), 0), (
        f"re-ingesting what another process stored reported {again}, expected {(0, len(want), 0)}"
    )
