"""Helpers for the fake-provider tests: raw HTTP access and STRICT validation of what the server
emits against the SDKs' own pydantic types.

The SDKs parse responses lazily and tolerate unknown fields, so a malformed fake response would
only fail later, at attribute access, in some learner's code. These helpers validate the raw JSON
with ``strict=True`` and also reject fields the SDK type does not know (a typo in a field name
would otherwise pass silently into ``model_extra``).

The suite runs against the pinned openai 2.x; it also passes against openai 3.x, e.g.
``pip install --no-deps --target /tmp/oai3 "openai>=3"`` then
``PYTHONPATH=/tmp/oai3 .venv/bin/python -m pytest tests/fakellm``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import httpx
import pydantic
from pydantic import TypeAdapter

M = TypeVar("M", bound=pydantic.BaseModel)

OPENAI_HEADERS = {"Authorization": "Bearer sk-test"}
ANTHROPIC_HEADERS = {"x-api-key": "sk-test", "anthropic-version": "2023-06-01"}

# The one tool the protocol tests declare, in each API's own wire shape (an Anthropic tool, a
# Chat Completions function, a Responses function): its name, description and JSON Schema.
WEATHER_NAME = "get_weather"
WEATHER_DESCRIPTION = "Current weather for a city"
WEATHER_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


# Fields the real API sends that one supported SDK line declares and the other does not
# (openai 2.x requires ``name`` here; openai 3.x dropped it from the type).
KNOWN_ACROSS_VERSIONS: dict[str, set[str]] = {"ResponseFunctionCallArgumentsDoneEvent": {"name"}}


def assert_no_extra(value: Any, path: str = "$") -> None:
    """Fail when any model in ``value`` carries fields its SDK type does not declare."""
    if isinstance(value, pydantic.BaseModel):
        extra = set(value.model_extra or {}) - KNOWN_ACROSS_VERSIONS.get(
            type(value).__name__, set()
        )
        assert not extra, f"{path}: fields unknown to {type(value).__name__}: {sorted(extra)}"
        for name in type(value).model_fields:
            assert_no_extra(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            assert_no_extra(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_no_extra(item, f"{path}.{key}")


def strict(model: type[M], raw: str | bytes) -> M:
    """Validate raw JSON text against an SDK model, strictly, with no unknown fields."""
    obj = model.model_validate_json(raw, strict=True)
    assert_no_extra(obj)
    return obj


@functools.cache
def _adapter(type_: Any) -> TypeAdapter[Any]:
    return TypeAdapter(type_)  # building one for a big union takes a while: once per type


def strict_union(type_: Any, raw: str | bytes) -> Any:
    """Validate raw JSON text against an SDK union type (e.g. RawMessageStreamEvent)."""
    obj = _adapter(type_).validate_json(raw, strict=True)
    assert_no_extra(obj)
    return obj


def sse(text: str) -> list[tuple[str | None, str]]:
    """Parse an SSE body into (event name or None, data) frames."""
    frames: list[tuple[str | None, str]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        event: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        frames.append((event, "\n".join(data)))
    return frames


class Raw:
    """Plain-httpx access to the fake, for raw bodies and hand-made (invalid) requests."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=10)

    def openai(self, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST to an OpenAI path with a Bearer key."""
        return self.client.post(
            path, content=_encode(body), headers={**OPENAI_HEADERS, **(headers or {})}
        )

    def anthropic(
        self, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST to an Anthropic path with x-api-key and anthropic-version."""
        merged = {**ANTHROPIC_HEADERS, **(headers or {})}
        return self.client.post(
            path, content=_encode(body), headers={k: v for k, v in merged.items() if v is not None}
        )

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET a path."""
        return self.client.get(path, headers=headers or {})

    def close(self) -> None:
        self.client.close()


def _encode(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def data_frames(text: str) -> Iterator[str]:
    """The data of every frame except ``[DONE]``."""
    for _, data in sse(text):
        if data != "[DONE]":
            yield data


def collect_text(chunks: Iterable[Any], into: list[str]) -> None:
    """Append each OpenAI chat chunk's text to ``into`` as it arrives, so a test that expects the
    stream to fail midway keeps what came before the failure (one call inside ``pytest.raises``)."""
    for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            into.append(chunk.choices[0].delta.content)


def collect_anthropic_text(manager: Any, into: list[str]) -> None:
    """Open an Anthropic ``messages.stream(...)`` and append its text to ``into`` as it arrives
    (kept if the stream fails midway)."""
    with manager as stream:
        for text in stream.text_stream:
            into.append(text)
