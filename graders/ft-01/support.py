"""Shared by the ft-01 tests: hand-built rows, seeded messages, and the tiny model's numbers.

Learner code runs in the worker process; the live objects these tests need are built there from
recipes: the SmolLM2 tokenizer (``make.smollm2_tokenizer()``) and a tiny, randomly initialised
Llama of SmolLM2's family (``make.tiny_llama(seed)``: 2 layers, width 64, 4 query heads and 2
key/value heads of width 16, SmolLM2's 49,152-token vocabulary). Tests hold handles to them and
read models only as plain data (``make.module_summary(model)``).
"""

from __future__ import annotations

import random
from typing import Any

from labkit.grading import make
from labkit.grading.toolkit import dataset_rows
from labkit.models.smollm2 import TINY_SHAPE

RAW = dataset_rows("support-tickets", "messages.jsonl")

CATEGORIES = ("account", "billing", "damaged_item", "return", "shipping", "wrong_item")
URGENCIES = ("low", "medium", "high")

# The tiny model make.tiny_llama builds, shaped by labkit.models.smollm2.TINY_SHAPE: q_proj maps
# the hidden width to itself (query heads x head width: 64 -> 64), v_proj maps it to the key/value
# width (key/value heads x head width: 64 -> 32). A rank-r LoRA adds A (r x in) and B (out x r)
# to each: r * (hidden + hidden) on q_proj and r * (hidden + kv) on v_proj, in each layer.
TINY_LAYERS = TINY_SHAPE["num_hidden_layers"]
TINY_HIDDEN = TINY_SHAPE["hidden_size"]
TINY_KV = TINY_HIDDEN // TINY_SHAPE["num_attention_heads"] * TINY_SHAPE["num_key_value_heads"]


def tiny_llama(learner: Any, seed: int) -> Any:
    """A handle to a fresh tiny Llama in the worker, its random weights drawn from ``seed``."""
    return learner.new(make.tiny_llama(seed % 1000))


def lora_parameters(rank: int) -> int:
    """Trainable parameters of rank-``rank`` LoRA on q_proj and v_proj of the tiny model."""
    return TINY_LAYERS * rank * ((TINY_HIDDEN + TINY_HIDDEN) + (TINY_HIDDEN + TINY_KV))


WORDS = "my parcel from order never arrived and the box was crushed please help".split()


def seeded_message(rng: random.Random) -> tuple[list[str], str]:
    """A message as words, and the same words joined by random whitespace and random case."""
    words = [*rng.sample(WORDS, 6), f"O-{rng.randint(5001, 5120)}"]
    gaps = [rng.choice([" ", "  ", "\n", "\t", " \n "]) for _ in words]
    text = "".join(
        (w.upper() if rng.random() < 0.3 else w) + gap for w, gap in zip(words, gaps, strict=True)
    )
    return words, rng.choice(["", " ", "\n"]) + text


def seeded_label(rng: random.Random) -> dict[str, Any]:
    """A valid triage label."""
    order = rng.choice([None, f"O-{rng.randint(5001, 5120)}"])
    return {"category": rng.choice(CATEGORIES), "urgency": rng.choice(URGENCIES), "order_id": order}


def training_rows(seed: int, n: int = 4) -> list[dict[str, Any]]:
    """``n`` clean rows of the real export, chosen by ``seed`` (short ones: fast to train on)."""
    clean = [r for r in RAW if r["label"]["category"] in CATEGORIES and 40 <= len(r["text"]) <= 160]
    return random.Random(seed).sample(clean, n)
