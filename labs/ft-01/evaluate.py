"""Task 4: measure before and after on the held-out split, and say how sure the gain is.

A fine-tune is worth what its held-out score says, and a 193-message test set is small: report
the gain with a confidence interval, from the same messages scored before and after (paired).
"""

from __future__ import annotations

import json
from typing import Any

from formatting import to_messages

FIELDS = ("category", "urgency", "order_id")


def parse_reply(text: str) -> dict[str, Any] | None:
    """Read a model reply as a triage record, strictly.

    Args:
        text: the model's reply.

    Returns:
        The JSON object in ``text`` (surrounding whitespace allowed) when it parses and is an
        object with exactly the keys ``category``, ``urgency`` and ``order_id``; else None.
    """
    raise NotImplementedError("not implemented yet — see task 4")


def score(replies: list[str], labels: list[dict[str, Any]]) -> dict[str, Any]:
    """Score replies against the gold labels.

    Args:
        replies: the model's replies, one per test message.
        labels: the gold labels, same order.

    Returns:
        ``{"exact_match", "json_valid", "field_accuracy", "correct"}``: ``correct`` is a list of
        0/1 ints (1 when ``parse_reply`` gives a record equal to the label on all three
        fields); ``exact_match`` its mean; ``json_valid`` the share of replies ``parse_reply``
        accepts; ``field_accuracy`` maps each field to the share of replies whose parsed value
        equals the label's (an unparseable reply is wrong on every field). Means are floats;
        an empty list scores 0.0.
    """
    raise NotImplementedError("not implemented yet — see task 4")


def gain_interval(
    before: list[int],
    after: list[int],
    *,
    n_resamples: int = 5000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """The gain from ``before`` to ``after`` with a paired bootstrap confidence interval.

    Args:
        before: per-message 0/1 correctness before fine-tuning.
        after: the same messages after, same order.
        n_resamples: bootstrap resamples.
        confidence: the interval's coverage.
        seed: seeds the resampling (``numpy.random.default_rng(seed)``).

    Returns:
        ``{"gain": mean(after) - mean(before), "low": ..., "high": ...}``: the percentile
        bootstrap interval of the mean difference, resampling messages (the same ones for both).
    """
    raise NotImplementedError("not implemented yet — see task 4")


def generate_replies(
    model: Any,
    tokenizer: Any,
    texts: list[str],
    *,
    max_new_tokens: int = 40,
    batch_size: int = 16,
) -> list[str]:
    """Greedy replies of ``model`` to each message, generated in batches.

    Args:
        model: a causal LM (plain or peft).
        tokenizer: its tokenizer (chat template included).
        texts: support messages.
        max_new_tokens: at most this many new tokens per reply.
        batch_size: messages per ``generate`` call.

    Returns:
        One reply per text, in order: the prompt is ``to_messages(text)`` through the chat
        template with the assistant header; the reply is the new tokens only, decoded without
        special tokens. A reply must not depend on the other texts of its batch (pad on the
        left, pass the attention mask).
    """
    raise NotImplementedError("not implemented yet — see task 4")
