"""The knowledge base in a persistent Chroma collection: stable chunk ids, metadata, idempotent
ingestion that replaces changed documents, and deletion.

The collection is the source of truth between runs: ``ingest`` compares what a document's chunks
*should* be (ids derived from content) with what the collection already holds for that document,
adds only what is missing and deletes what is stale. Running it twice changes nothing; editing a
document replaces exactly that document's chunks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from chunking import Chunk, chunk_document

from labkit.datasets.knowledge_base import Document
from labkit.models.embedder import chroma_embedding_function

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

COLLECTION_NAME = "tessaline-kb"
Metadata = dict[str, str | int]
T = TypeVar("T")

# Ingestion works on batches of documents: one `get` per DOCUMENTS_PER_BATCH documents, and the
# new chunks embedded and added WRITE_BATCH at a time (Chroma refuses more records per call than
# `client.get_max_batch_size()`, 5,461 for the embedded database). One document at a time, every
# document pays for three calls and a tiny embedding batch: on 1,000 Wikipedia summaries (two
# shared cores) that took 74 s instead of 32 s with an empty embedding cache, and 24 s instead of
# 0.8 s with a warm one.
DOCUMENTS_PER_BATCH = 500
WRITE_BATCH = 2000


@dataclass(frozen=True)
class IngestReport:
    """What one ``ingest`` call changed, counted in chunks."""

    added: int  # chunks written because the collection did not hold their id
    unchanged: int  # chunks whose id was already there: nothing to do
    removed: int  # stale chunks deleted: their document changed and they are no longer in it


def open_collection(db_path: str | Path) -> Collection:
    """The knowledge-base collection in the Chroma database at ``db_path`` (created if needed).

    GIVEN. Telemetry is off (no network), the embedding function is the course's packaged
    MiniLM (Chroma's default one would download a model), and distances are cosine distances.
    """
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(
        path=str(db_path), settings=Settings(anonymized_telemetry=False)
    )
    return client.get_or_create_collection(
        COLLECTION_NAME,
        embedding_function=chroma_embedding_function(),
        configuration={"hnsw": {"space": "cosine"}},
    )


def embedding_text(document: Document, chunk: Chunk) -> str:
    """What is embedded for a chunk: its document's title, a newline, then the chunk's text.

    GIVEN. The title tells the embedding which document a chunk comes from ("Travel Policy
    2024"), which the chunk's own words often do not say.
    """
    return f"{document.title}\n{chunk.text}"


def chunk_id(doc_id: str, index: int, text: str) -> str:
    """The stable id of a chunk: ``<doc_id>:<index>:<first 12 hex digits of sha256(text)>``.

    Args:
        doc_id: the document's id (``policy-leave``).
        index: the chunk's position in the document (0, 1, 2 ...).
        text: the chunk's text; its SHA-256 is taken over the UTF-8 bytes.

    Returns:
        For example ``policy-leave:3:5d41402abc4b``. The same chunk always gets the same id; a
        chunk whose text changed gets a new one.
    """
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{doc_id}:{index}:{digest}"


def chunk_metadata(document: Document, chunk: Chunk) -> Metadata:
    """The metadata stored with a chunk (README, task 1, lists every key and its type).

    Args:
        document: the document the chunk comes from.
        chunk: the chunk.

    Returns:
        ``doc_id``, ``title``, ``kind``, ``version``, ``date`` (ISO string) and ``date_int``
        (``20240301``: Chroma compares numbers only), ``chunk_index``, ``start`` and ``end``.
    """
    return {
        "doc_id": document.id,
        "title": document.title,
        "kind": document.kind,
        "version": document.version,
        "date": document.date,
        "date_int": int(document.date.replace("-", "")),
        "chunk_index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
    }


def ingest(collection: Collection, documents: Iterable[Document]) -> IngestReport:
    """Bring the collection up to date with ``documents``, writing only what changed.

    Args:
        collection: the collection from :func:`open_collection`.
        documents: the documents to ingest (others in the collection are left alone).

    Returns:
        How many chunks were added, already there, and removed as stale.
    """
    # Works on batches of documents rather than one document at a time: one ``get`` finds what
    # the collection holds for a whole batch, and the new chunks are embedded and added many at
    # a time. The result is the same as ingesting the documents one by one, in order.
    embed = chroma_embedding_function()
    added = unchanged = removed = 0
    for batch in _document_batches(documents):
        held = _held_chunk_ids(collection, [document.id for document in batch])
        stale: list[str] = []
        new: list[tuple[str, Document, Chunk]] = []
        for document in batch:
            chunks = chunk_document(document.text)
            wanted = {chunk_id(document.id, c.index, c.text): c for c in chunks}
            have = held.get(document.id, set())
            stale += sorted(have - wanted.keys())
            new += [(cid, document, c) for cid, c in wanted.items() if cid not in have]
            unchanged += len(wanted.keys() & have)
        for ids in _slices(stale, WRITE_BATCH):
            collection.delete(ids=ids)
        for part in _slices(new, WRITE_BATCH):
            collection.add(
                ids=[cid for cid, _, _ in part],
                documents=[c.text for _, _, c in part],
                metadatas=[chunk_metadata(document, c) for _, document, c in part],
                embeddings=embed([embedding_text(document, c) for _, document, c in part]),
            )
        added += len(new)
        removed += len(stale)
    return IngestReport(added=added, unchanged=unchanged, removed=removed)


def _document_batches(documents: Iterable[Document]) -> Iterator[list[Document]]:
    """``documents`` in order, in lists of at most ``DOCUMENTS_PER_BATCH``.

    A document id appears at most once per list: a document given twice (an old and a new
    version) starts a new list, so the second is compared with what the first one stored.
    """
    batch: dict[str, Document] = {}
    for document in documents:
        if len(batch) == DOCUMENTS_PER_BATCH or document.id in batch:
            yield list(batch.values())
            batch = {}
        batch[document.id] = document
    if batch:
        yield list(batch.values())


def _held_chunk_ids(collection: Collection, doc_ids: list[str]) -> dict[str, set[str]]:
    """The chunk ids the collection holds for each of ``doc_ids``, in one query."""
    got = collection.get(where={"doc_id": {"$in": doc_ids}}, include=["metadatas"])
    held: dict[str, set[str]] = {}
    for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
        held.setdefault(str(meta["doc_id"]), set()).add(cid)
    return held


def _slices(items: list[T], size: int) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def delete_document(collection: Collection, doc_id: str) -> int:
    """Remove every chunk of document ``doc_id``.

    Args:
        collection: the collection.
        doc_id: the document's id.

    Returns:
        How many chunks were deleted (0 when the document was not there).
    """
    ids = collection.get(where={"doc_id": doc_id}, include=[])["ids"]
    if ids:
        collection.delete(ids=ids)
    return len(ids)


def chunks_per_document(collection: Collection) -> Mapping[str, int]:
    """GIVEN. How many chunks the collection holds for each document id (for the CLI)."""
    counts: dict[str, int] = {}
    for meta in collection.get(include=["metadatas"])["metadatas"] or []:
        doc_id = str(meta.get("doc_id", "?"))
        counts[doc_id] = counts.get(doc_id, 0) + 1
    return counts
