"""Task 2: turn a pair into what the model trains on — its own chat template, prompt masked out.

A chat model was trained on text laid out by its chat template (``<|im_start|>user ...``); fine-
tune it on the same layout, or it learns a new format instead of the task. And the loss must
count only the reply: the model should learn to answer, not to write customers' e-mails.
"""

from __future__ import annotations

import json
from typing import Any

IGNORE_INDEX = -100  # the label PyTorch's cross-entropy skips

SYSTEM_PROMPT = (
    "You triage customer support messages. Reply with JSON only: "
    '{"category": one of account, billing, damaged_item, return, shipping, wrong_item; '
    '"urgency": low, medium or high; "order_id": the order id like O-5001, or null}.'
)


def target(label: dict[str, Any]) -> str:
    """The reply the model should learn for ``label``.

    Args:
        label: ``{"category", "urgency", "order_id"}``.

    Returns:
        ``json.dumps`` of exactly those three keys in that order (category, urgency,
        order_id), with json's default separators, e.g.
        ``{"category": "billing", "urgency": "low", "order_id": null}``.
    """
    raise NotImplementedError("not implemented yet — see task 2")


def to_messages(text: str, label: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """The chat turns of one example.

    Args:
        text: the support message.
        label: its label, or None when the model is to answer.

    Returns:
        ``[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]``,
        plus ``{"role": "assistant", "content": target(label)}`` when ``label`` is given.
    """
    raise NotImplementedError("not implemented yet — see task 2")


def encode(
    tokenizer: Any, text: str, label: dict[str, Any], max_length: int = 256
) -> dict[str, list[int]]:
    """Token ids and labels of one training example, prompt masked.

    Args:
        tokenizer: a Hugging Face tokenizer with a chat template.
        text: the support message.
        label: its label.
        max_length: keep at most this many tokens (cut from the end).

    Returns:
        ``{"input_ids": [...], "labels": [...]}`` of equal length: ``input_ids`` is
        ``tokenizer.apply_chat_template(to_messages(text, label))`` (the whole conversation,
        token ids); ``labels`` is a copy where the first P positions are ``IGNORE_INDEX``, P
        being the length of the prompt alone with the assistant header
        (``apply_chat_template(to_messages(text), add_generation_prompt=True)``).
    """
    raise NotImplementedError("not implemented yet — see task 2")


def collate(examples: list[dict[str, list[int]]], pad_id: int) -> dict[str, Any]:
    """Pad a list of encoded examples into one batch of tensors.

    Args:
        examples: outputs of ``encode``.
        pad_id: the tokenizer's pad token id.

    Returns:
        ``{"input_ids", "attention_mask", "labels"}``, each a ``torch.long`` tensor of shape
        (len(examples), longest): padded on the right with ``pad_id`` (input_ids), 0
        (attention_mask; 1 on real tokens) and ``IGNORE_INDEX`` (labels).
    """
    raise NotImplementedError("not implemented yet — see task 2")
