"""The knowledge base in a persistent Chroma collection: stable chunk ids, metadata, idempotent
ingestion that replaces changed documents, and deletion.

The collection is the source of truth between runs: ``ingest`` compares what a document's chunks
*should* be (ids derived from content) with what the collection already holds for that document,
adds only what is missing and deletes what is stale. Running it twice changes nothing; editing a
document replaces exactly that document's chunks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chunking import Chunk, chunk_document

from labkit.datasets.knowledge_base import Document
from labkit.models.embedder import chroma_embedding_function

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

COLLECTION_NAME = "tessaline-kb"
Metadata = dict[str, str | int]


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
    raise NotImplementedError("not implemented yet — see task 1")


def chunk_metadata(document: Document, chunk: Chunk) -> Metadata:
    """The metadata stored with a chunk (README, task 1, lists every key and its type).

    Args:
        document: the document the chunk comes from.
        chunk: the chunk.

    Returns:
        ``doc_id``, ``title``, ``kind``, ``version``, ``date`` (ISO string) and ``date_int``
        (``20240301``: Chroma compares numbers only), ``chunk_index``, ``start`` and ``end``.
    """
    raise NotImplementedError("not implemented yet — see task 1")


def ingest(collection: Collection, documents: Iterable[Document]) -> IngestReport:
    """Bring the collection up to date with ``documents``, writing only what changed.

    Args:
        collection: the collection from :func:`open_collection`.
        documents: the documents to ingest (others in the collection are left alone).

    Returns:
        How many chunks were added, already there, and removed as stale.
    """
    raise NotImplementedError("not implemented yet — see task 1")


def delete_document(collection: Collection, doc_id: str) -> int:
    """Remove every chunk of document ``doc_id``.

    Args:
        collection: the collection.
        doc_id: the document's id.

    Returns:
        How many chunks were deleted (0 when the document was not there).
    """
    raise NotImplementedError("not implemented yet — see task 1")


def chunks_per_document(collection: Collection) -> Mapping[str, int]:
    """GIVEN. How many chunks the collection holds for each document id (for the CLI)."""
    counts: dict[str, int] = {}
    for meta in collection.get(include=["metadatas"])["metadatas"] or []:
        doc_id = str(meta.get("doc_id", "?"))
        counts[doc_id] = counts.get(doc_id, 0) + 1
    return counts
