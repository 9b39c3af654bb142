"""Training groups from the course knowledge base's DEV questions (recipe step 4)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from labkit.datasets.knowledge_base import Passage, Question, kb_dir, load_questions
from labkit.lexical import split_passages
from labkit.models.reranker.recipe import DEFAULT_RECIPE, Recipe, TrainingGroup
from labkit.models.reranker.text import BM25, bm25_tokens


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
