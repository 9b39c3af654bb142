"""Retrieval-augmented answers with citations: retrieve, prompt with numbered sources, generate,
map the model's ``[n]`` citations back to documents, and refuse when the sources do not answer.

The prompt format is the lab's contract (README, "The prompt"): a real model is told it in the
system prompt, and the course's fake model reads it to answer offline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from labkit import config

# GIVEN. exact_terms(question): the tokens that name something exactly (ERR-4130, query.max_rows,
# --dry-run); embeddings are poor at them. The fake model uses the same rule (src/labkit/lexical.py).
from labkit.lexical import exact_terms

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

Sdk = Literal["openai", "anthropic"]
Where = dict[str, Any]

K = 5  # sources per question
MIN_SIMILARITY = 0.3  # below this best-source similarity, refuse without asking the model
MAX_TOKENS = 400
REFUSAL = "I don't know: the knowledge base does not answer this question."
SYSTEM_PROMPT = (
    "You answer questions about Tessaline, Inc. using only the numbered sources in the user's "
    "message. Each source starts with its number in square brackets and its document id in "
    "parentheses. Cite the sources you use with their numbers in square brackets, like [2]. "
    'If the sources do not contain the answer, reply "I don\'t know" and nothing else.'
)

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk."""

    chunk_id: str
    doc_id: str
    title: str
    text: str  # the chunk's text exactly as stored
    score: float  # cosine similarity to the question: 1 - Chroma's cosine distance
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RagAnswer:
    """The outcome of one question."""

    question: str
    text: str  # what the model said, or REFUSAL when no source was relevant enough
    citations: list[str]  # cited document ids, in order of first citation, no repeats
    sources: list[Hit]  # the sources sent to the model, in prompt order ([1] first)
    refused: bool


def make_where(
    kind: str | None = None, version: str | None = None, since: str | None = None
) -> Where | None:
    """A Chroma ``where`` filter from optional conditions (README, task 2).

    Args:
        kind: only chunks of documents of this kind (``policy``, ``manual`` ...).
        version: only chunks of documents with this version (``2024``, ``v2`` ...).
        since: only chunks of documents dated on or after this ISO date (``2024-01-01``).

    Returns:
        None without conditions; the single condition alone; several under ``$and``.
    """
    conditions: list[Where] = []
    if kind is not None:
        conditions.append({"kind": kind})
    if version is not None:
        conditions.append({"version": version})
    if since is not None:
        conditions.append({"date_int": {"$gte": int(since.replace("-", ""))}})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _hits(result: Any) -> list[Hit]:
    """Chroma's column-wise query result (one query) as Hit objects."""
    hits = []
    for cid, text, meta, distance in zip(
        result["ids"][0],
        result["documents"][0],
        result["metadatas"][0],
        result["distances"][0],
        strict=True,
    ):
        meta = dict(meta or {})
        hits.append(
            Hit(
                chunk_id=cid,
                doc_id=str(meta.get("doc_id", "")),
                title=str(meta.get("title", "")),
                text=text,
                score=1.0 - float(distance),
                metadata=meta,
            )
        )
    return hits


def retrieve(
    collection: Collection, question: str, *, k: int = K, where: Where | None = None
) -> list[Hit]:
    """The ``k`` chunks most similar to ``question``, best first, within the ``where`` filter.

    Args:
        collection: the knowledge-base collection.
        question: the user's question.
        k: how many chunks to return (fewer if the collection, or the filter, has fewer).
        where: a Chroma metadata filter (see :func:`make_where`), or None.

    Returns:
        Hits sorted by ``score`` (cosine similarity), highest first.
    """
    if k <= 0 or collection.count() == 0:
        return []
    result = collection.query(query_texts=[question], n_results=k, where=where)
    hits = _hits(result)
    # Exact identifiers: make sure the best chunk that contains each one is among the sources.
    boosted: dict[str, Hit] = {}
    for term in exact_terms(question):
        exact = collection.query(
            query_texts=[question], n_results=1, where=where, where_document={"$contains": term}
        )
        for hit in _hits(exact):
            boosted.setdefault(hit.chunk_id, hit)
    if boosted:
        rest = [h for h in hits if h.chunk_id not in boosted]
        hits = list(boosted.values())[:k] + rest[: max(0, k - len(boosted))]
    return sorted(hits, key=lambda h: h.score, reverse=True)


def format_sources(hits: list[Hit]) -> str:
    """The numbered sources block of the prompt (README, "The prompt").

    Args:
        hits: the sources, in the order they are to be numbered.

    Returns:
        One block per hit, ``[n] (doc_id) `` then the chunk's text with its blank lines removed,
        blocks separated by one blank line; numbering starts at 1.
    """
    blocks = []
    for number, hit in enumerate(hits, start=1):
        lines = [line.rstrip() for line in hit.text.splitlines() if line.strip()]
        blocks.append(f"[{number}] ({hit.doc_id}) " + "\n".join(lines))
    return "\n\n".join(blocks)


def build_messages(question: str, hits: list[Hit]) -> list[dict[str, str]]:
    """The chat messages for one question: the system prompt, then one user message.

    Args:
        question: the user's question.
        hits: the sources, in prompt order.

    Returns:
        ``[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": ...}]``
        where the user message is ``Sources:``, a blank line, :func:`format_sources`, a blank
        line, and ``Question: <question>`` as its last line.
    """
    user = f"Sources:\n\n{format_sources(hits)}\n\nQuestion: {question}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def generate(messages: list[dict[str, str]], sdk: Sdk | None = None) -> str:
    """Ask the configured model (``labkit.config``) and return its reply text.

    Args:
        messages: the system message first, then the conversation (here: one user message).
        sdk: ``openai`` or ``anthropic``; None for ``labkit.config.default_sdk()``.

    Returns:
        The reply's text ("" if the model sent none).
    """
    chosen = sdk or config.default_sdk()
    system = "\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [m for m in messages if m["role"] != "system"]
    if chosen == "anthropic":
        reply = config.anthropic_client().messages.create(
            model=config.chat_model(),
            system=system,
            messages=turns,  # type: ignore[arg-type]
            max_tokens=MAX_TOKENS,
        )
        return "".join(block.text for block in reply.content if block.type == "text")
    completion = config.openai_client().chat.completions.create(
        model=config.chat_model(),
        messages=[{"role": "system", "content": system}, *turns],  # type: ignore[list-item]
        max_tokens=MAX_TOKENS,
        temperature=0,
    )
    return completion.choices[0].message.content or ""


def map_citations(text: str, hits: list[Hit]) -> list[str]:
    """The document ids an answer cites, from its ``[n]`` markers.

    Args:
        text: the model's answer; ``[2]`` cites source 2, ``[1, 3]`` sources 1 and 3.
        hits: the sources as numbered in the prompt (``[1]`` is ``hits[0]``).

    Returns:
        Document ids in order of first citation, without repeats; numbers that match no
        source (``[0]``, ``[9]`` with five sources) are ignored.
    """
    cited: list[str] = []
    for group in _CITATION.findall(text):
        for number in (int(n) for n in group.split(",")):
            if 1 <= number <= len(hits) and hits[number - 1].doc_id not in cited:
                cited.append(hits[number - 1].doc_id)
    return cited


def is_refusal(text: str) -> bool:
    """Whether the model declined to answer: its reply says "I don't know" (any case; a
    typographic apostrophe or "do not" count too)."""
    normal = text.lower().replace("\u2019", "'")
    return "i don't know" in normal or "i do not know" in normal


def answer(
    collection: Collection,
    question: str,
    *,
    k: int = K,
    where: Where | None = None,
    min_similarity: float = MIN_SIMILARITY,
    sdk: Sdk | None = None,
) -> RagAnswer:
    """Answer ``question`` from the knowledge base, with citations, or refuse.

    Args:
        collection: the knowledge-base collection.
        question: the user's question.
        k: how many chunks to retrieve.
        where: a metadata filter for retrieval, or None.
        min_similarity: when the best source scores below this, refuse without calling the
            model: the question is not about the knowledge base.
        sdk: which SDK :func:`generate` uses.

    Returns:
        The answer; ``refused`` with no citations when no source was relevant enough or the
        model said it does not know.
    """
    hits = retrieve(collection, question, k=k, where=where)
    if not hits or hits[0].score < min_similarity:
        return RagAnswer(question, REFUSAL, [], hits, refused=True)
    text = generate(build_messages(question, hits), sdk=sdk)
    if is_refusal(text):
        return RagAnswer(question, text, [], hits, refused=True)
    return RagAnswer(question, text, map_citations(text, hits), hits, refused=False)
