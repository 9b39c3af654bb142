"""Turn a (request, reply) pair into exactly what goes on the wire, protocol-independently.

A :class:`Completion` settles everything the three protocol renderers share: the final text
(cut at a stop sequence or at ``max_tokens``, as a real model would be), tool-call ids, the
finish reason, token usage and how the text and arguments are split into stream chunks.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field

from starlette.concurrency import iterate_in_threadpool

from labkit.fakellm.state import ProviderState
from labkit.fakellm.types import FINISH_REASONS, ChatRequest, FinishReason, Reply, ToolCall
from labkit.tokens import count_tokens, encode, encoding

_WORD_PIECE = re.compile(r"\s*\S+")


def word_pieces(text: str) -> list[str]:
    """Split text into word-ish stream chunks: each word with the whitespace before it."""
    pieces = _WORD_PIECE.findall(text)
    if not pieces:
        return [text] if text else []
    tail = text[len("".join(pieces)) :]
    if tail:
        pieces[-1] += tail
    return pieces


def token_pieces(text: str) -> list[str]:
    """Split text into its cl100k tokens (how real APIs stream tool-call arguments); bytes of a
    multi-byte character split across tokens are kept together."""
    enc = encoding()
    out: list[str] = []
    buffer = b""
    for token in encode(text):
        buffer += enc.decode_single_token_bytes(token)
        try:
            out.append(buffer.decode("utf-8"))
            buffer = b""
        except UnicodeDecodeError:
            continue
    if buffer:
        out.append(buffer.decode("utf-8", errors="replace"))
    return out


def sized_pieces(text: str, size: int) -> list[str]:
    """Split text into pieces of ``size`` characters."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def prompt_tokens(request: ChatRequest) -> int:
    """Prompt token count: cl100k tokens of every prompt text, plus 3 per message and 3 for the
    reply primer (the accounting OpenAI documents for chat models)."""
    parts = request.prompt_texts()
    turns = len(request.messages) + (1 if request.system else 0)
    return sum(count_tokens(p) for p in parts) + 3 * turns + 3


@dataclass
class Completion:
    """The settled content of one reply (see module doc)."""

    reply: Reply
    text: str | None
    tool_calls: list[ToolCall]
    finish: FinishReason
    stop_sequence: str | None
    prompt_tokens: int
    chunk_delay: float
    lazy: Iterable[str] | None = None
    cached_tokens: int = 0
    streamed_text: list[str] = field(default_factory=list)

    @classmethod
    def build(
        cls, request: ChatRequest, reply: Reply, state: ProviderState, call_prefix: str = "call_"
    ) -> Completion:
        """Settle ``reply`` for ``request`` (ids come from ``state``'s counter)."""
        text = "".join(reply.chunks) if reply.chunks is not None else reply.text
        finish: FinishReason | None = reply.finish_reason
        stop_sequence: str | None = None
        if text is not None and reply.text_stream is None and finish is None:
            hits = [(text.find(s), s) for s in request.stop if s and s in text]
            if hits:
                cut, stop_sequence = min(hits)
                text = text[:cut]
                finish = "stop"
            if request.max_tokens is not None and not reply.tool_calls:
                tokens = encode(text)
                if len(tokens) > request.max_tokens:
                    text = encoding().decode(tokens[: request.max_tokens])
                    finish = "length"
                    stop_sequence = None
        calls = [
            c if c.id else ToolCall(c.name, c.arguments, state.next_id(call_prefix))
            for c in reply.tool_calls
        ]
        if finish is None:
            finish = "tool_calls" if calls else "stop"
        if reply.usage is not None and reply.usage.prompt_tokens is not None:
            ptokens = reply.usage.prompt_tokens
        else:
            ptokens = prompt_tokens(request)
        delay = reply.chunk_delay if reply.chunk_delay is not None else state.stream_delay
        return cls(
            reply=reply,
            text=text,
            tool_calls=calls,
            finish=finish,
            stop_sequence=stop_sequence,
            prompt_tokens=ptokens,
            chunk_delay=delay,
            lazy=reply.text_stream,
            cached_tokens=(reply.usage.cached_tokens or 0) if reply.usage is not None else 0,
        )

    def text_pieces(self) -> list[str]:
        """The stream chunks of a settled (non-lazy) text."""
        text = self.text or ""
        r = self.reply
        if r.chunks is not None and "".join(r.chunks) == text:
            return [c for c in r.chunks if c]
        if r.chunk_size:
            return sized_pieces(text, r.chunk_size)
        return word_pieces(text)

    async def atext_pieces(self) -> AsyncIterator[str]:
        """The text chunks, lazily produced ones pulled in a worker thread (a real model may take
        a while per token; the event loop must keep serving other requests meanwhile)."""
        if self.lazy is None:
            for piece in self.text_pieces():
                self.streamed_text.append(piece)
                yield piece
            return
        async for piece in iterate_in_threadpool(iter(self.lazy)):
            if piece:
                self.streamed_text.append(piece)
                yield piece
        self._lazy_finish(self.lazy)

    def argument_pieces(self, call: ToolCall) -> list[str]:
        """How one call's raw arguments are streamed: ``chunk_size`` pieces, else tokens."""
        if self.reply.chunk_size:
            return sized_pieces(call.arguments, self.reply.chunk_size)
        return token_pieces(call.arguments) or [""]

    def full_text(self) -> str | None:
        """The complete text (a lazy stream is drained here, for non-streaming requests)."""
        if self.lazy is not None and self.text is None:
            lazy = self.lazy
            self.text = "".join(_drain(lazy))
            self.lazy = None
            self._lazy_finish(lazy)
        return self.text

    def _lazy_finish(self, lazy: Iterable[str]) -> None:
        """A lazy stream may say how it ended: an object with a ``finish_reason`` attribute read
        once it is exhausted (``"length"`` when the producer hit its token limit). Only when the
        reply did not set a finish reason itself."""
        reason = getattr(lazy, "finish_reason", None)
        if self.reply.finish_reason is None and not self.tool_calls and reason in FINISH_REASONS:
            self.finish = reason

    def completion_tokens(self) -> int:
        """Completion token count: the text (as streamed so far, for a lazy stream) plus each
        call's name and arguments — unless the reply overrides it."""
        r = self.reply
        if r.usage is not None and r.usage.completion_tokens is not None:
            return r.usage.completion_tokens
        text = "".join(self.streamed_text) if self.lazy is not None else (self.text or "")
        return count_tokens(text) + sum(
            count_tokens(c.name) + count_tokens(c.arguments) for c in self.tool_calls
        )


def _drain(pieces: Iterable[str]) -> Iterator[str]:
    yield from (p for p in pieces if p)
