"""Task 5: keep the adapter, merge it, and talk to the tuned model like any other provider.

The adapter (a few hundred KB) is what you version and share; the merged model (the adapter folded
into the weights) is what you serve. The course's local provider serves a saved model when
``LABKIT_LOCAL_MODEL`` names its folder, so every chat lab's code talks to your fine-tune
unchanged: ``LABKIT_PROVIDER=local LABKIT_LOCAL_MODEL=out/merged python ...``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from formatting import to_messages
from tune import merge


def export(model: Any, tokenizer: Any, folder: str | Path) -> dict[str, str]:
    """Save the adapter, then merge it and save the merged model.

    Args:
        model: a trained peft model from ``tune.add_lora`` (merging changes it: use it no more).
        tokenizer: its tokenizer.
        folder: where to write.

    Returns:
        ``{"adapter": ..., "merged": ...}``, the two folder paths as strings:
        ``folder/adapter`` holds ``model.save_pretrained`` (adapter_config.json and the adapter
        weights, nothing else); ``folder/merged`` holds ``tune.merge(model)`` saved with
        ``save_pretrained`` plus the tokenizer, so transformers can load it on its own.
    """
    raise NotImplementedError("not implemented yet — see task 5")


def ask(merged_folder: str | Path, text: str, *, max_tokens: int = 40) -> str:
    """Triage ``text`` with the merged model, through the course's local provider.

    Args:
        merged_folder: a folder written by ``export`` (its ``merged`` path).
        text: a support message.
        max_tokens: the reply's token limit.

    Returns:
        The reply's text to the chat request ``to_messages(text)`` sent with
        ``labkit.config.client("openai")`` (``temperature=0``, ``max_tokens``), after setting
        ``LABKIT_PROVIDER=local`` and ``LABKIT_LOCAL_MODEL=merged_folder`` in ``os.environ``.
        The provider loads the model on its first request and keeps it for the process.
    """
    raise NotImplementedError("not implemented yet — see task 5")
