"""Local models: embedder, reranker, small local LLM — all loaded from pinned packages."""
