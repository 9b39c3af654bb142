"""rag-01, task 3: recall@k, recomputed here from the learner's chunks and compared.

The recall definition is the README's: embed every chunk, take the top-k chunks for each question,
a gold passage is found when a retrieved chunk of its document overlaps the passage's span (the
first occurrence, ``doc.text.find(passage)``), recall of a question is found / gold passages, and
the metric is the mean over questions that have gold passages.

Two embedders: a hashed bag-of-words (instant, exact, used to check the arithmetic on the whole
corpus for all three chunkers) and the course's MiniLM (``labkit.models.embedder``) for the
comparison of chunkers. MiniLM vectors of the reference chunks and dev questions ship with this
grader in ``minilm_vectors.npz`` (built by ``build_vectors.py``): grading runs in a fresh home
folder, so the embedder's disk cache starts empty, and recomputing ~1,000 vectors would take most
of a minute. Any text not in that file is embedded by the real model.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from labkit.datasets import Document, Passage, Question, load_documents, load_questions
from labkit.grading import assert_same, lab_test
from labkit.grading.standins import BagOfWordsEmbedder
from labkit.models.embedder import ShippedEmbedder

KS = (1, 3, 5, 10)
DEFAULT_MAX, DEFAULT_OVERLAP = 128, 32
_DOCUMENTS = load_documents()
_DEV_ALL = load_questions(split="dev")  # unanswerable questions included: they must be skipped
_DEV = [q for q in _DEV_ALL if q.answerable]
_DOC_TEXTS = {d.id: d.text for d in _DOCUMENTS}


# The course's MiniLM, served from the shipped vectors where possible. Built (and the file read)
# now: the grader's files are gone once tests run.
_MINILM = ShippedEmbedder(Path(__file__).with_name("minilm_vectors.npz"))


# --- the reference metric ------------------------------------------------------------------------


def _ranked(query: np.ndarray, matrix: np.ndarray, k: int) -> list[int]:
    q = np.asarray(query, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(m, axis=1) * np.linalg.norm(q)
    scores = np.zeros(len(m))
    np.divide(m @ q, norms, out=scores, where=norms > 0)
    return [int(i) for i in np.argsort(-scores, kind="stable")[:k]]


def _found(question: Question, retrieved: Sequence[Any], doc_texts: Mapping[str, str]) -> int:
    """How many gold passages share a character with a retrieved chunk of their document: the
    spans [a, b) and [c, d) intersect when max(a, c) < min(b, d)."""
    spans = [(c.doc_id, c.start, c.end) for c in retrieved]
    hits = 0
    for p in question.passages:
        a = doc_texts[p.doc_id].find(p.text)  # the first occurrence, as the README says
        b = a + len(p.text)
        hits += any(doc == p.doc_id and max(a, c) < min(b, d) for doc, c, d in spans)
    return hits


def _recall(
    questions: Sequence[Question],
    qvecs: np.ndarray,
    chunks: Sequence[Any],
    cvecs: np.ndarray,
    doc_texts: Mapping[str, str],
    ks: Sequence[int],
) -> dict[int, float]:
    scored = [i for i, q in enumerate(questions) if q.passages]
    totals = dict.fromkeys(ks, 0.0)
    for i in scored:
        ranked = [chunks[j] for j in _ranked(qvecs[i], cvecs, max(ks))]
        for k in ks:
            totals[k] += _found(questions[i], ranked[:k], doc_texts) / len(questions[i].passages)
    return {k: totals[k] / len(scored) for k in ks}


def _chunk_all(chunker: Any) -> list[Any]:
    """Every chunk of the knowledge base, in document order (one call per document)."""
    return [c for d in _DOCUMENTS for c in chunker(d.id, d.text)]


def _corpus_recall(
    chunks: list[Any], embedder: Any, questions: Sequence[Question]
) -> dict[int, float]:
    cvecs = embedder.embed([c.text for c in chunks])
    qvecs = embedder.embed([q.question for q in questions])
    return _recall(questions, qvecs, chunks, cvecs, _DOC_TEXTS, KS)


def _defaults(chunkers: Any) -> dict[str, Any]:
    return {
        "fixed": partial(
            chunkers.fixed_size_chunks, max_tokens=DEFAULT_MAX, overlap_tokens=DEFAULT_OVERLAP
        ),
        "sentence": partial(chunkers.sentence_chunks, max_tokens=DEFAULT_MAX),
        "markdown": partial(chunkers.markdown_chunks, max_tokens=DEFAULT_MAX),
    }


def _question(qid: str, passages: Sequence[tuple[str, str]]) -> Question:
    return Question(
        id=qid,
        question=f"question {qid}?",
        answer="",
        facts=(),
        doc_ids=tuple(sorted({d for d, _ in passages})),
        passages=tuple(Passage(d, t) for d, t in passages),
        type="factoid" if passages else "unanswerable",
        split="dev",
    )


# --- tests -----------------------------------------------------------------------------------------


@lab_test(points=2, number="3.1")
def test_passages_and_corpus(learner: Any) -> None:
    """passage_span, found_passages and chunk_corpus follow the README's definitions"""
    evaluate = learner.import_module("evaluate")
    chunk_cls = learner.import_module("chunkers").Chunk
    a = "Alpha beta. Gamma delta. Alpha beta. Omega."
    b = "Gamma delta. Something else."
    texts = {"a": a, "b": b}
    assert_same(
        evaluate.passage_span(a, "Gamma delta."), (12, 24), "passage_span(a, 'Gamma delta.')"
    )
    assert_same(
        evaluate.passage_span(a, "Alpha beta."),
        (0, 11),
        "passage_span(a, 'Alpha beta.') (first occurrence)",
    )
    try:
        evaluate.passage_span(a, "not in the document")
    except ValueError:
        pass
    else:
        raise AssertionError(
            "passage_span with a passage that is not in the document did not raise ValueError"
        )

    def chunk(doc: str, start: int, end: int) -> Any:
        return chunk_cls(doc, 0, start, end, texts[doc][start:end])

    two = _question("q1", [("a", "Gamma delta."), ("b", "Gamma delta.")])
    cases = [
        ("a chunk that ends where the passage starts", two, [chunk("a", 0, 12)], 0),
        ("a chunk sharing one character", two, [chunk("a", 0, 13)], 1),
        ("a chunk starting on the passage's last character", two, [chunk("a", 23, 30)], 1),
        ("the same words in another document", two, [chunk("b", 0, 12)], 1),
        ("both passages", two, [chunk("b", 0, 12), chunk("a", 20, 40)], 2),
        ("no chunks", two, [], 0),
        (
            "only the second occurrence of the passage",
            _question("q2", [("a", "Alpha beta.")]),
            [chunk("a", 25, 36)],
            0,
        ),
        (
            "the passage's text in another document",
            _question("q3", [("b", "Gamma delta.")]),
            [chunk("a", 12, 24)],
            0,
        ),
    ]
    for label, question, retrieved, want in cases:
        got = evaluate.found_passages(question, retrieved, texts)
        assert_same(got, want, f"found_passages with {label}")

    calls: list[tuple[str, str]] = []

    def spy(doc_id: str, text: str) -> list[Any]:
        calls.append((doc_id, text))
        return [chunk_cls(doc_id, i, i, i + 1, text[i : i + 1]) for i in range(2)]

    docs = [
        Document(f"d{i}", f"T{i}", "faq", "1", "2024-01-01", f"x{i}y", Path(f"d{i}.md"))
        for i in range(3)
    ]
    out = evaluate.chunk_corpus(docs, spy)
    assert calls == [(d.id, d.text) for d in docs], (
        f"chunk_corpus called the chunker with {calls}, expected (doc.id, doc.text) for each document in order"
    )
    assert_same(
        [(c.doc_id, c.index) for c in out] if isinstance(out, list) else out,
        [(f"d{i}", j) for i in range(3) for j in range(2)],
        "chunk_corpus (doc_id, index) of each chunk",
    )


def _synthetic(
    seed: int, chunk_cls: Any
) -> tuple[list[Question], np.ndarray, list[Any], np.ndarray, dict[str, str]]:
    """A small corpus with random chunks and vectors, duplicate vectors (ties) and 2 unanswerable
    questions."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(400)]
    rng.shuffle(words)
    docs = {f"doc{d}": " ".join(words[d * 100 : (d + 1) * 100]) + "." for d in range(4)}
    chunks = []
    for doc_id, text in docs.items():
        cuts = sorted(rng.sample(range(1, len(text)), 6))
        for i, (s, e) in enumerate(zip([0, *cuts], [*cuts, len(text)], strict=True)):
            chunks.append(chunk_cls(doc_id, i, s, e, text[s:e]))
    vec_rng = np.random.default_rng(seed)
    cvecs = vec_rng.normal(size=(len(chunks), 6))
    for dup in range(0, len(chunks) - 1, 5):
        cvecs[dup + 1] = cvecs[dup]  # exact ties: the tie-break decides what is retrieved
    questions = []
    for qi in range(14):
        passages = []
        for _ in range(rng.randint(1, 3)):
            doc_id = rng.choice(sorted(docs))
            text = docs[doc_id]
            start = text.index(" ", rng.randrange(0, len(text) - 40)) + 1
            passages.append((doc_id, text[start : text.index(" ", start + 15)]))
        questions.append(_question(f"s{qi}", passages if qi not in (3, 9) else []))
    qvecs = vec_rng.normal(size=(len(questions), 6))
    return questions, qvecs, chunks, cvecs, docs


@lab_test(points=2, number="3.2")
def test_recall_at_k(learner: Any, lab_seed: int) -> None:
    """recall_at_k matches the README's definition on a synthetic corpus (ties, k > chunks)"""
    evaluate = learner.import_module("evaluate")
    chunk_cls = learner.import_module("chunkers").Chunk
    for case in range(3):
        questions, qvecs, chunks, cvecs, docs = _synthetic(lab_seed + case, chunk_cls)
        ks = (1, 2, 5, 50)
        got = evaluate.recall_at_k(questions, qvecs, chunks, cvecs, docs, ks)
        want = _recall(questions, qvecs, chunks, cvecs, docs, ks)
        assert_same(
            got,
            want,
            f"recall_at_k (synthetic corpus {case + 1}, ks={ks})",
            rel_tol=1e-9,
            abs_tol=1e-12,
        )
    unanswerable = [_question("u1", []), _question("u2", [])]
    try:
        evaluate.recall_at_k(unanswerable, qvecs[:2], chunks, cvecs, docs, ks)
    except ValueError:
        pass
    else:
        raise AssertionError(
            "recall_at_k with no question that has gold passages did not raise ValueError"
        )


@lab_test(points=2, number="3.3")
def test_evaluate_chunker_agrees(learner: Any) -> None:
    """evaluate_chunker agrees with a recomputation on the whole knowledge base, for all three chunkers"""
    evaluate = learner.import_module("evaluate")
    chunkers = learner.import_module("chunkers")
    for name, chunker in _defaults(chunkers).items():
        chunks = _chunk_all(chunker)
        theirs = BagOfWordsEmbedder()
        got = evaluate.evaluate_chunker(chunker, _DOCUMENTS, _DEV_ALL, theirs, KS)
        want = _corpus_recall(chunks, BagOfWordsEmbedder(), _DEV)
        assert_same(
            got,
            want,
            f"evaluate_chunker({name} chunker, bag-of-words embedder)",
            rel_tol=1e-9,
            abs_tol=1e-12,
        )
        missing = {c.text for c in chunks} - set(theirs.seen)
        assert not missing, (
            f"evaluate_chunker({name}) did not embed {len(missing)} chunk texts, e.g. {sorted(missing)[0][:40]!r}"
        )
    fixed = _defaults(chunkers)["fixed"]
    got = evaluate.evaluate_chunker(fixed, _DOCUMENTS, _DEV, _MINILM, KS)
    want = _corpus_recall(_chunk_all(fixed), _MINILM, _DEV)
    assert_same(got, want, "evaluate_chunker(fixed chunker, MiniLM)", rel_tol=1e-9, abs_tol=1e-12)


@lab_test(points=2, number="3.4")
def test_structure_beats_fixed_size(learner: Any) -> None:
    """the markdown-aware chunker beats fixed-size on dev recall@5 (MiniLM, documented defaults)"""
    chunkers = learner.import_module("chunkers")
    chosen = _defaults(chunkers)
    fixed = _corpus_recall(_chunk_all(chosen["fixed"]), _MINILM, _DEV)
    markdown = _corpus_recall(_chunk_all(chosen["markdown"]), _MINILM, _DEV)
    assert markdown[5] > fixed[5], (
        f"recall@5 on the {len(_DEV)} dev questions: markdown {markdown[5]:.3f}, fixed-size "
        f"{fixed[5]:.3f}; expected the markdown-aware chunker to come out ahead"
    )
