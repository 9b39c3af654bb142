"""Stand-ins that graders hand to learner code in place of a real model.

:class:`BagOfWordsEmbedder` replaces the sentence-embedding model where a test is about the
learner's logic (how chunks are ranked, fused, cut, counted), not about meaning: it needs no model
file, answers in microseconds, gives the same vectors on every machine, and records every batch it
was asked for, so a test can also check *what* the learner embedded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Literal

import numpy as np

_WORD = re.compile(r"\w+")


class BagOfWordsEmbedder:
    """A text's vector is the L2-normalised sum of its words' vectors (lower-cased ``\\w+``).

    Two kinds of word vector:

    - ``"hashed"`` (256 dimensions by default): a word adds 1 to one bucket chosen by its blake2b
      hash, so a text is a (normalised) word-count vector: texts that share words are close, as
      in a lexical baseline.
    - ``"random"`` (64 by default): a fixed standard-normal vector per word, seeded by the word's
      hash. Near-ties between different texts are then practically impossible, so float32 and
      float64 agree on every ranking; identical texts still tie exactly.

    Use it as ``embedder.embed(texts)`` (the ``TextEmbedder`` protocol) or call it
    (``embed=embedder``); either way the batch is appended to :attr:`calls`. Vectors are float32.
    """

    def __init__(self, words: Literal["hashed", "random"] = "hashed", dim: int = 0) -> None:
        self.words = words
        self.dim = dim or (256 if words == "hashed" else 64)
        self.calls: list[list[str]] = []

    @property
    def seen(self) -> list[str]:
        """Every text embedded so far, in order."""
        return [text for batch in self.calls for text in batch]

    def word_vector(self, word: str) -> np.ndarray:
        """One word's vector (see the class docstring)."""
        digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        if self.words == "random":
            return np.random.default_rng(digest).standard_normal(self.dim)
        vector = np.zeros(self.dim)
        vector[digest % self.dim] = 1.0
        return vector

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An ``(len(texts), dim)`` float32 array, one unit-length row per text (zero for a
        text without words)."""
        batch = [str(t) for t in texts]
        self.calls.append(batch)
        out = np.zeros((len(batch), self.dim))
        for row, text in enumerate(batch):
            for word in _WORD.findall(text.lower()):
                out[row] += self.word_vector(word)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)

    __call__ = embed
