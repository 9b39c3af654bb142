"""labkit.models.local_chat: the complete/stream every local backend shares, without a model."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from labkit.models.local_chat import Completion, Generation, LocalChatBase


class _Echo(LocalChatBase):
    """Says the last user turn back word by word; fails on "boom"."""

    def generate(self, request: Generation, emit: Callable[[str], None] | None) -> Completion:
        words = request.messages[-1]["content"].split()[: request.max_tokens]
        for word in words:
            if word == "boom":
                raise RuntimeError("generation failed")
            if emit is not None:
                emit(word + " ")
                emit("")  # empty pieces never reach the consumer
        finish = "length" if len(words) == request.max_tokens else "stop"
        return Completion(" ".join(words), finish, 1, len(words))


def test_defaults_and_a_whole_reply() -> None:
    seen: list[Generation] = []

    class Recording(_Echo):
        def generate(self, request: Generation, emit: Callable[[str], None] | None) -> Completion:
            seen.append(request)
            return super().generate(request, emit)

    done = Recording().complete([{"role": "user", "content": "a b c"}], stop=["x"])
    assert done == Completion("a b c", "stop", 1, 3)
    assert seen == [Generation([{"role": "user", "content": "a b c"}], 256, 0.0, 0, ["x"])]


def test_a_stream_yields_pieces_then_fills_finish() -> None:
    info: dict[str, object] = {}
    pieces = list(_Echo().stream([{"role": "user", "content": "a b c"}], max_tokens=2, finish=info))
    assert pieces == ["a ", "b "]
    assert info == {"finish_reason": "length", "prompt_tokens": 1, "completion_tokens": 2}


def test_a_generation_error_reaches_the_streams_consumer() -> None:
    stream = _Echo().stream([{"role": "user", "content": "a boom"}])
    assert next(stream) == "a "
    with pytest.raises(RuntimeError, match="generation failed"):
        next(stream)
