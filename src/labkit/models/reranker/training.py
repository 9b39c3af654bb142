"""Recipe step 5: the plain PyTorch training loop, and writing the model folder atomically."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from labkit.errors import LabkitError
from labkit.models.embedder import model_path
from labkit.models.reranker.cache import reranker_path
from labkit.models.reranker.data import build_training_groups
from labkit.models.reranker.recipe import DEFAULT_RECIPE, RECIPE_VERSION, Recipe, TrainingGroup

if TYPE_CHECKING:
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch, and ask torch for deterministic kernels."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def length_bucketed_batches(
    groups: Sequence[TrainingGroup], size: int, rng: random.Random, window: int = 16
) -> list[list[TrainingGroup]]:
    """Batches of ``size`` groups, groups of similar length batched together, in a seeded order.

    A batch is padded to its longest passage, and on a CPU every padding token costs as much as
    a real one. Sorting by length inside windows of ``window`` batches (then shuffling those
    batches) cuts the padding by about a third while keeping the data order random at the scale
    of the epoch.
    """
    batches: list[list[TrainingGroup]] = []
    span = size * window
    for start in range(0, len(groups), span):
        chunk = sorted(
            groups[start : start + span],
            key=lambda g: len(g.query) + max(len(p) for p in (g.positive, *g.negatives)),
        )
        block = [chunk[i : i + size] for i in range(0, len(chunk), size)]
        rng.shuffle(block)
        batches.extend(block)
    return batches


def _new_cross_encoder(recipe: Recipe) -> CrossEncoder:
    from sentence_transformers import CrossEncoder

    # Starting a cross-encoder from the packaged bi-encoder is the recipe, not a problem:
    # sentence-transformers' "Converting SentenceTransformer model ... to CrossEncoder" warning
    # would only alarm a learner whose first rag-03 run trains the model.
    st_logger = logging.getLogger("sentence_transformers.base.model")
    level = st_logger.level
    st_logger.setLevel(logging.ERROR)
    try:
        model = CrossEncoder(
            str(model_path()), num_labels=1, max_length=recipe.train_max_length, device="cpu"
        )
    finally:
        st_logger.setLevel(level)
    frozen = [f".encoder.layer.{i}." for i in range(recipe.frozen_layers)]
    if recipe.freeze_embeddings:
        frozen.append(".embeddings.")
    for name, param in model.named_parameters():
        if any(part in name for part in frozen):
            param.requires_grad_(False)
    return model


def train_reranker(
    out_dir: Path | None = None,
    *,
    progress: bool = True,
    seed: int = 13,
    recipe: Recipe = DEFAULT_RECIPE,
    groups: Sequence[TrainingGroup] | None = None,
    kb_root: Path | None = None,
    max_steps: int | None = None,
) -> Path:
    """Train the reranker and save it as a CrossEncoder folder; return the folder.

    ``out_dir`` defaults to :func:`reranker_path`. ``groups`` replaces the built training data
    (tests train on a few dozen pairs); ``max_steps`` stops early (also for tests). The folder is
    written to a temporary sibling and renamed into place, so a crash or two processes training
    at once never leave a half-written model behind.

    How deterministic it is: the data (sampling, negatives, order) is built by seeded
    ``random.Random`` instances in one thread, so it is identical everywhere for a seed. Weights
    are initialised and dropout is drawn from ``torch.manual_seed(seed)``, and torch is asked for
    deterministic kernels. On the same machine, torch version and thread count, two runs give
    bit-identical weights. Across CPUs or thread counts, float sums are ordered differently
    (oneDNN/MKL pick kernels per CPU), so weights differ at ~1e-6 and drift a little over
    training: rankings agree on nearly every query, scores are not bit-identical.
    """
    started = time.perf_counter()
    target = Path(out_dir) if out_dir is not None else reranker_path(recipe=recipe, seed=seed)
    if groups is None:
        groups = build_training_groups(recipe, seed=seed, kb_root=kb_root)
    if not groups:
        raise LabkitError(
            "no training data for the reranker (the Wikipedia summaries are missing?)"
        )
    data_seconds = time.perf_counter() - started

    seed_everything(seed)
    model = _new_cross_encoder(recipe)
    steps_per_epoch = -(-len(groups) // recipe.groups_per_step)
    total = steps_per_epoch * recipe.epochs
    if max_steps is not None:
        total = min(total, max_steps)
    losses = _run_steps(model, groups, recipe, seed=seed, total=total, progress=progress)
    model.eval()
    model.max_seq_length = recipe.max_length

    def info() -> dict[str, object]:
        import torch

        kinds: dict[str, int] = {}
        for g in groups:
            kinds[g.kind] = kinds.get(g.kind, 0) + 1
        return {
            "recipe_version": RECIPE_VERSION,
            "recipe": dataclasses.asdict(recipe),
            "seed": seed,
            "groups": len(groups),
            "groups_by_kind": kinds,
            "steps": len(losses),
            "loss_first_10_steps": round(sum(losses[:10]) / max(len(losses[:10]), 1), 4),
            "loss_last_10_steps": round(_last_ten_mean(losses), 4),
            "data_seconds": round(data_seconds, 1),
            "train_seconds": round(time.perf_counter() - started - data_seconds, 1),
            "torch_threads": torch.get_num_threads(),
        }

    _save_atomically(model, target, info)
    return target


def _last_ten_mean(losses: Sequence[float]) -> float:
    """The mean of the last ten step losses (what the progress bar shows); 0.0 before any step."""
    return sum(losses[-10:]) / len(losses[-10:]) if losses else 0.0


def _optimizer(model: CrossEncoder, recipe: Recipe) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters, the scoring head at its own (larger) rate."""
    import torch

    # The scoring head starts random and has ~150 steps to learn: it gets a much larger rate
    # than the pretrained encoder, which only needs nudging.
    head = [p for n, p in model.named_parameters() if p.requires_grad and ".classifier." in n]
    body = [p for n, p in model.named_parameters() if p.requires_grad and ".classifier." not in n]
    return torch.optim.AdamW(
        [
            {"params": body, "lr": recipe.learning_rate},
            {"params": head, "lr": recipe.head_learning_rate},
        ],
        weight_decay=recipe.weight_decay,
    )


def _epoch_batches(
    groups: Sequence[TrainingGroup], recipe: Recipe, seed: int
) -> Iterator[list[TrainingGroup]]:
    """Every epoch's length-bucketed batches, each epoch in its own seeded order."""
    for epoch in range(recipe.epochs):
        epoch_rng = random.Random(f"epoch:{seed}:{epoch}")
        epoch_groups = list(groups)
        if epoch:
            epoch_rng.shuffle(epoch_groups)
        yield from length_bucketed_batches(epoch_groups, recipe.groups_per_step, epoch_rng)


def _group_softmax_loss(model: CrossEncoder, batch: Sequence[TrainingGroup]) -> torch.Tensor:
    """Softmax cross-entropy over each group's passages, the positive being column 0."""
    import torch
    from sentence_transformers.util import batch_to_device

    pairs = [(g.query, p) for g in batch for p in (g.positive, *g.negatives)]
    features = batch_to_device(model.preprocess(pairs), model.device)
    logits = model(features)["scores"].view(len(batch), -1)
    # the positive is column 0 of every group
    first = torch.zeros(len(batch), dtype=torch.long)
    return torch.nn.functional.cross_entropy(logits, first)


def _pointwise_loss(bce: BinaryCrossEntropyLoss, batch: Sequence[TrainingGroup]) -> torch.Tensor:
    """``Recipe(loss="bce")``: every (query, passage) pair scored on its own, 1 for the positive."""
    import torch

    pair_q = [g.query for g in batch for _ in range(1 + len(g.negatives))]
    pair_p = [p for g in batch for p in (g.positive, *g.negatives)]
    flat = [1.0 if j == 0 else 0.0 for g in batch for j in range(1 + len(g.negatives))]
    return bce([pair_q, pair_p], torch.tensor(flat))


def _run_steps(
    model: CrossEncoder,
    groups: Sequence[TrainingGroup],
    recipe: Recipe,
    *,
    seed: int,
    total: int,
    progress: bool,
) -> list[float]:
    """The training loop proper: ``total`` optimiser steps; returns the loss of every step."""
    import torch
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    bce = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(float(recipe.negatives_per_query)))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = _optimizer(model, recipe)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(recipe.warmup_ratio * total), max(total, 1)
    )

    bar = tqdm(
        total=total,
        desc="training reranker",
        unit="step",
        disable=not progress,  # explicit: labkit sets TQDM_DISABLE=1 for every other bar
        file=sys.stderr,
        dynamic_ncols=True,
    )
    model.train()
    recent: list[float] = []  # per-step losses; the bar shows the mean of the last ten
    for batch in _epoch_batches(groups, recipe, seed):
        if len(recent) >= total:
            break
        if recipe.loss == "group-softmax":
            loss = _group_softmax_loss(model, batch)
        else:
            loss = _pointwise_loss(bce, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        recent.append(float(loss.detach()))
        bar.set_postfix(loss=f"{_last_ten_mean(recent):.3f}", refresh=False)
        bar.update(1)
    bar.close()
    return recent


def _save_atomically(
    model: CrossEncoder, target: Path, info: Callable[[], dict[str, object]]
) -> None:
    """Write the model and ``labkit-reranker.json`` (``info()``, called once the weights are
    saved) to a temporary sibling, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(str(tmp))
        (tmp / "labkit-reranker.json").write_text(json.dumps(info(), indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
