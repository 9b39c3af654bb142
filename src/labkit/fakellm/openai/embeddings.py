"""Embeddings (``POST /v1/embeddings``) and the model list (``GET /v1/models``)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.fakellm.openai.params import require_model
from labkit.fakellm.state import CREATED
from labkit.fakellm.types import RequestError
from labkit.fakellm.validate import is_int, missing, require_object


@dataclass
class EmbeddingRequest:
    """A validated embeddings request."""

    model: str
    texts: list[str]
    encoding_format: str
    dimensions: int | None


def parse_embeddings(body: Any, decode_tokens: Any, max_dimensions: int) -> EmbeddingRequest:
    """Validate an embeddings body; token-id inputs are decoded back to text."""
    body = require_object(body, "We could not parse the JSON body of your request.")
    model = require_model(body)
    if "input" not in body:
        raise missing("input")
    raw = body["input"]
    texts: list[str]
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        texts = list(raw)
    elif isinstance(raw, list) and raw and all(is_int(x) for x in raw):
        texts = [decode_tokens(raw)]
    elif (
        isinstance(raw, list)
        and raw
        and all(isinstance(x, list) and all(is_int(t) for t in x) for x in raw)
    ):
        texts = [decode_tokens(x) for x in raw]
    else:
        raise RequestError(
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            param="input",
        )
    if any(not t for t in texts):
        raise RequestError("'$.input' is invalid: empty strings cannot be embedded.", param="input")
    if len(texts) > 2048:
        raise RequestError("'$.input' is invalid: at most 2048 inputs per request.", param="input")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise RequestError(
            f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'.",
            param="encoding_format",
        )
    dims = body.get("dimensions")
    if dims is not None and (not is_int(dims) or not 1 <= dims <= max_dimensions):
        raise RequestError(
            f"Invalid 'dimensions': expected an integer between 1 and {max_dimensions}, but got {dims!r}.",
            param="dimensions",
        )
    return EmbeddingRequest(model, texts, fmt, dims)


def embeddings_body(
    req: EmbeddingRequest, vectors: np.ndarray, prompt_tokens: int
) -> dict[str, Any]:
    """A ``list`` of embeddings; ``dimensions`` truncates then re-normalises (as OpenAI's
    text-embedding-3 models do); base64 is little-endian float32, what the SDK decodes."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if req.dimensions is not None:
        vectors = vectors[:, : req.dimensions]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1, norms)
    data = []
    for i, vector in enumerate(vectors):
        little = vector.astype("<f4")
        value: Any = (
            base64.b64encode(little.tobytes()).decode("ascii")
            if req.encoding_format == "base64"
            else [float(x) for x in little]
        )
        data.append({"object": "embedding", "index": i, "embedding": value})
    return {
        "object": "list",
        "model": req.model,
        "data": data,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def model_object(model_id: str) -> dict[str, Any]:
    """One OpenAI ``model`` object."""
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "labkit"}


def models_body(model_ids: list[str]) -> dict[str, Any]:
    """``GET /v1/models``."""
    return {"object": "list", "data": [model_object(m) for m in model_ids]}
