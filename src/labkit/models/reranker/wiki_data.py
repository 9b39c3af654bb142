"""Weakly supervised training groups from the packaged Wikipedia summaries (recipe steps 1-3).

The held-out partition, the four kinds of weak query, and BM25 hard negatives with the same cut
as the positive; see the package docstring for why each choice.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from labkit import lexical
from labkit.datasets import wiki
from labkit.datasets.wiki import WikiDoc
from labkit.models.reranker.recipe import DEFAULT_RECIPE, QueryKind, Recipe, TrainingGroup
from labkit.models.reranker.text import BM25, STOPWORDS


@lru_cache(maxsize=1)
def load_wiki_summaries() -> tuple[WikiDoc, ...]:
    """All 10,033 summaries as training reads them: sorted by title, so the order never depends
    on the JSON's key order, and with the text as published (spaces not normalised).

    :func:`labkit.datasets.wiki.load_wiki_summaries` reads them; only the order and the spaces
    differ, and both are part of what the trained model was trained on.
    """
    docs = wiki.load_wiki_summaries(normalise_spaces=False)
    return tuple(sorted(docs, key=lambda d: d.title))


def is_held_out(title: str, percent: int = DEFAULT_RECIPE.heldout_percent) -> bool:
    """Whether a Wikipedia title belongs to the partition training never sees.

    A hash of the title, not a seeded sample: the partition must be the same for every seed and
    every recipe so that a benchmark can always tell "questions about unseen documents" apart.
    """
    digest = hashlib.sha256(f"labkit-reranker-holdout:{title}".encode()).hexdigest()
    return int(digest[:8], 16) % 100 < percent


def _title_core(title: str) -> str:
    """The title without a disambiguation suffix: "Mercury (planet)" -> "Mercury"."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", title).strip()


def _definition_question(first_sentence: str, doc: WikiDoc) -> str | None:
    """'The tomato is a plant ...' -> 'What is a plant ...?' (None when it cannot be phrased).

    The subject (everything before the first is/was/are/were) must mention a word of the title,
    so the question really asks for this document's entity; the subject is dropped, so the query
    names the entity only by its definition.
    """
    verb = re.search(r"\b(is|was|are|were)\b", first_sentence)
    if verb is None:
        return None
    subject = first_sentence[: verb.start()]
    title_words = {w.lower() for w in lexical.WORD_RE.findall(_title_core(doc.title))} - STOPWORDS
    subject_words = {w.lower() for w in lexical.WORD_RE.findall(subject)}
    if len(subject.split()) > 15 or not (title_words & subject_words):
        return None
    words = first_sentence[verb.end() :].strip().rstrip(".").split()
    if len(words) < 4:
        return None
    # Keep the first clause (people ask short questions), at most 20 words.
    for i in range(6, min(len(words), 20)):
        if words[i - 1].endswith((",", ";", ":")):
            words = words[:i]
            break
    predicate = " ".join(words[:20]).rstrip(",;:")
    wh = "Who" if doc.topic == "People" else "What"
    return f"{wh} {verb.group(1)} {predicate}?"


def _without_sentence(sentences: Sequence[str], index: int) -> str:
    return " ".join(s for i, s in enumerate(sentences) if i != index)


@dataclass(frozen=True)
class _WikiQuery:
    doc: int
    query: str
    kind: QueryKind
    drop: Literal["none", "first", "random"]
    dropped_index: int


def _make_wiki_query(
    doc: WikiDoc, index: int, kind: str, rng: random.Random, recipe: Recipe
) -> _WikiQuery | None:
    """One weak query of ``kind`` for ``doc``, or None when the document cannot give one."""
    sentences = lexical.summary_sentences(doc.text)
    keep = rng.random() < recipe.keep_sentence_probability
    if kind == "sentence":
        later = [i for i, s in enumerate(sentences) if i > 0 and len(s.split()) >= 6]
        if not later:
            return None
        chosen = rng.choice(later)
        drop: Literal["none", "first", "random"] = "none" if keep else "random"
        return _WikiQuery(index, sentences[chosen], "sentence", drop, chosen)
    if kind == "definition":
        if len(sentences) < 2:
            return None
        question = _definition_question(sentences[0], doc)
        if question is None:
            return None
        return _WikiQuery(index, question, "definition", "none" if keep else "first", 0)
    if kind == "description":
        description = doc.description
        if len(description.split()) < 2 or _title_core(doc.title).lower() in description.lower():
            return None
        return _WikiQuery(index, description, "description", "none", -1)
    if kind == "keywords":
        source = [s for s in sentences[1:] if len(s.split()) >= 6] or sentences
        words = [
            w
            for w in lexical.WORD_RE.findall(rng.choice(source))
            if w.lower() not in STOPWORDS and len(w) > 2 and w.lower() not in doc.title.lower()
        ]
        unique = list(dict.fromkeys(words))
        if len(unique) < 2:
            return None
        picked = rng.sample(unique, min(len(unique), rng.randint(2, 4)))
        return _WikiQuery(
            index, f"{_title_core(doc.title)} {' '.join(picked)}", "keywords", "none", -1
        )
    raise ValueError(f"unknown query kind {kind!r}")


def _passage(doc: WikiDoc, drop: str, dropped_index: int, rng: random.Random) -> str:
    """A document as a training passage, with the same kind of cut as the positive got."""
    if drop == "none":
        return doc.text
    sentences = lexical.summary_sentences(doc.text)
    if len(sentences) < 2:
        return doc.text
    if drop == "first":
        return _without_sentence(sentences, 0)
    if dropped_index >= 0:
        return _without_sentence(sentences, dropped_index)
    return _without_sentence(sentences, rng.randrange(1, len(sentences)))


@lru_cache(maxsize=2)
def _wiki_training_partition(heldout_percent: int) -> tuple[list[WikiDoc], BM25]:
    """The training documents and their BM25 index (built once per process: ~8k documents)."""
    docs = [d for d in load_wiki_summaries() if not is_held_out(d.title, heldout_percent)]
    return docs, BM25([f"{d.title}. {d.text}" for d in docs])


def build_wiki_groups(recipe: Recipe = DEFAULT_RECIPE, *, seed: int = 13) -> list[TrainingGroup]:
    """Weakly supervised groups from the non-held-out Wikipedia summaries (deterministic in seed).

    Documents are sampled without replacement from the training partition; each gets one query
    whose kind is drawn from ``recipe.query_mix`` (falling back to the next kind when the document
    cannot give that one, e.g. a one-sentence summary has no "later sentence").
    """
    docs, index_bm25 = _wiki_training_partition(recipe.heldout_percent)
    rng = random.Random(f"wiki-queries:{seed}")
    order = list(range(len(docs)))
    rng.shuffle(order)
    kinds = [k for k, _ in recipe.query_mix]
    weights = [w for _, w in recipe.query_mix]
    queries: list[_WikiQuery] = []
    for index in order:
        if len(queries) >= recipe.wiki_queries:
            break
        first = rng.choices(range(len(kinds)), weights=weights)[0]
        for offset in range(len(kinds)):
            made = _make_wiki_query(
                docs[index], index, kinds[(first + offset) % len(kinds)], rng, recipe
            )
            if made is not None:
                queries.append(made)
                break
    groups: list[TrainingGroup] = []
    for q in queries:
        pool = [i for i in index_bm25.top(q.query, recipe.negative_pool + 1) if i != q.doc]
        pool = pool[: recipe.negative_pool]
        if len(pool) < recipe.negatives_per_query:
            continue
        picked = sorted(rng.sample(range(len(pool)), recipe.negatives_per_query))
        negatives = tuple(_passage(docs[pool[p]], q.drop, -1, rng) for p in picked)
        positive = _passage(docs[q.doc], q.drop, q.dropped_index, rng)
        groups.append(
            TrainingGroup(q.query, positive, negatives, q.kind, f"wiki:{docs[q.doc].title}")
        )
    return groups
