"""Task 3: LoRA — train two small matrices per attention projection instead of the whole model.

LoRA freezes every weight W of the model and learns a low-rank update B·A next to chosen layers
(W x + (alpha / r) · B A x). With rank r = 8 on SmolLM2's query and value projections that is
well under 1% of the parameters: the optimiser state fits anywhere and a step on a CPU takes
seconds, and the update can be merged back into W afterwards so serving costs nothing extra.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from formatting import collate

TARGET_MODULES = ("q_proj", "v_proj")


def add_lora(
    model: Any,
    rank: int = 8,
    alpha: int = 16,
    target_modules: Sequence[str] = TARGET_MODULES,
) -> Any:
    """Wrap ``model`` with LoRA adapters (peft) for causal language modelling.

    Args:
        model: a transformers causal LM (its weights will be frozen).
        rank: the rank r of each update.
        alpha: the scale numerator (the update is multiplied by alpha / rank).
        target_modules: names of the linear layers that get an adapter.

    Returns:
        The peft model: adapters on exactly ``target_modules`` in every layer, no dropout, no
        bias trained, every other parameter frozen.
    """
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=rank,
        lora_alpha=alpha,
        lora_dropout=0.0,
        bias="none",
        target_modules=list(target_modules),
    )
    return get_peft_model(model, config)


def trainable_share(model: Any) -> dict[str, Any]:
    """How much of ``model`` training will change.

    Args:
        model: any torch module.

    Returns:
        ``{"trainable": n, "total": m, "share": n / m}``: n counts the elements of parameters with
        ``requires_grad``, m of all parameters (each shared tensor counted once).
    """
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable": trainable, "total": total, "share": trainable / total}


def mean_loss(model: Any, examples: list[dict[str, list[int]]], pad_id: int) -> float:
    """The model's mean loss on ``examples`` as one batch, without training.

    Args:
        model: a causal LM (plain or peft).
        examples: outputs of ``formatting.encode``.
        pad_id: the pad token id.

    Returns:
        ``model(**collate(examples, pad_id)).loss`` as a float, computed in eval mode without
        gradients: the mean cross-entropy over the tokens whose label is not -100.
    """
    import torch

    was_training = model.training
    model.eval()
    with torch.no_grad():
        loss = float(model(**collate(examples, pad_id)).loss)
    model.train(was_training)
    return loss


def train(
    model: Any,
    examples: list[dict[str, list[int]]],
    *,
    pad_id: int,
    steps: int = 200,
    batch_size: int = 8,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Fine-tune ``model`` in place with AdamW on its trainable parameters.

    Args:
        model: a peft model from ``add_lora``.
        examples: outputs of ``formatting.encode``.
        pad_id: the pad token id.
        steps: optimiser steps.
        batch_size: examples per step.
        lr: AdamW learning rate (no weight decay).
        seed: seeds ``torch.manual_seed`` and the ``random.Random`` that shuffles ``examples``
            (reshuffled each time they run out): the same seed gives the same losses.
        progress: show a tqdm progress bar with the running loss.

    Returns:
        The training loss of every step, in order (``len == steps``).
    """
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    rng = random.Random(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    model.train()
    order: list[int] = []
    losses: list[float] = []
    bar = tqdm(range(steps), desc="LoRA", disable=not progress)
    for _ in bar:
        if len(order) < batch_size:
            fresh = list(range(len(examples)))
            rng.shuffle(fresh)
            order += fresh
        batch = [examples[i] for i in order[:batch_size]]
        del order[:batch_size]
        loss = model(**collate(batch, pad_id)).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


def merge(model: Any) -> Any:
    """Fold the trained adapters into the base weights.

    Args:
        model: a peft model from ``add_lora``.

    Returns:
        The plain transformers model (no peft wrapper, no LoRA parameters) whose weights are
        W + (alpha / r)·B·A: it gives the same outputs as ``model``.
    """
    return model.merge_and_unload()
