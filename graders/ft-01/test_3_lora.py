"""ft-01 part 3: LoRA on a tiny Llama of SmolLM2's family — placement, share, a training step,
and the merge. (The real 135M run is benchmarks/ft_bench.py, never a timed test.)"""

from __future__ import annotations

import math
from typing import Any

import support

from labkit.grading import assert_same, lab_test, make


def _tiny_setup(learner: Any, seed: int, n: int = 2) -> tuple[Any, Any, list[Any], int]:
    """The learner's modules, a tokenizer handle and ``n`` encoded rows (the fixed batch)."""
    formatting = learner.import_module("formatting")
    tok = learner.new(make.smollm2_tokenizer())
    rows = support.training_rows(seed, n)
    examples = [formatting.encode(tok, r["text"], r["label"], max_length=160) for r in rows]
    return formatting, tok, examples, tok.pad_token_id


@lab_test(points=3, number="3.1")
def test_lora_placement(learner: Any, lab_seed: int) -> None:
    """Adapters sit on q_proj and v_proj of every layer, with the asked rank; the rest is frozen"""
    tune = learner.import_module("tune")
    model = tune.add_lora(support.tiny_llama(learner, lab_seed), rank=4, alpha=8)
    summary = learner.new(make.module_summary(model))
    params = summary["parameters"]
    trainable = sorted(n for n, p in params.items() if p["trainable"])
    adapted = sorted({n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable})
    assert_same(adapted, ["q_proj", "v_proj"], "the layers whose parameters train")
    layers = sorted({n.split("layers.")[1].split(".")[0] for n in trainable})
    assert_same(layers, ["0", "1"], "the decoder layers with adapters")
    assert all(".lora_A." in n or ".lora_B." in n for n in trainable), (
        f"only LoRA matrices should train, but these train too: "
        f"{[n for n in trainable if '.lora_' not in n][:3]}"
    )
    shapes = {
        n.split("self_attn.")[1]: p["shape"]
        for n, p in params.items()
        if "layers.0." in n and ".lora_" in n
    }
    # lora_A is (rank x in), lora_B is (out x rank); q_proj 64 -> 64, v_proj 64 -> 32.
    assert_same(shapes.get("q_proj.lora_A.default.weight"), [4, 64], "q_proj's lora_A shape")
    assert_same(shapes.get("v_proj.lora_B.default.weight"), [32, 4], "v_proj's lora_B shape")


@lab_test(points=2, number="3.2")
def test_trainable_share(learner: Any, lab_seed: int) -> None:
    """The trainable-parameter count and share"""
    tune = learner.import_module("tune")
    base = support.tiny_llama(learner, lab_seed)
    total = sum(
        math.prod(p["shape"]) for p in learner.new(make.module_summary(base))["parameters"].values()
    )
    plain = tune.trainable_share(base)
    assert_same(plain["trainable"], total, "trainable parameters of the model before LoRA (all)")
    for rank in (2, 8):
        model = tune.add_lora(support.tiny_llama(learner, lab_seed), rank=rank, alpha=2 * rank)
        got = tune.trainable_share(model)
        lora = support.lora_parameters(rank)
        assert_same(got["trainable"], lora, f"trainable parameters at rank {rank}")
        assert_same(got["total"], total + lora, f"total parameters at rank {rank}")
        assert_same(got["share"], lora / (total + lora), f"share at rank {rank}", rel_tol=1e-9)


@lab_test(points=2, number="3.3")
def test_mean_loss(learner: Any, lab_seed: int) -> None:
    """The loss of an untrained model is the loss of a uniform guess"""
    tune = learner.import_module("tune")
    _, _, examples, pad = _tiny_setup(learner, lab_seed)
    model = support.tiny_llama(learner, lab_seed)
    loss = tune.mean_loss(model, examples, pad)
    assert isinstance(loss, float), f"mean_loss returned {type(loss).__name__}, expected a float"
    # Random weights of std 0.02 predict every one of the 49,152 tokens about equally:
    # cross-entropy ~ ln(49152) = 10.80.
    assert abs(loss - math.log(49152)) < 0.3, (
        f"loss {loss:.3f}, expected about {math.log(49152):.2f}"
    )
    assert_same(tune.mean_loss(model, examples, pad), loss, "a second call (no training)")


@lab_test(points=4, number="3.4")
def test_training_lowers_the_loss(learner: Any, lab_seed: int) -> None:
    """Training steps lower the loss on a fixed batch, the same way for the same seed"""
    tune = learner.import_module("tune")
    _, _, examples, pad = _tiny_setup(learner, lab_seed)
    # The tiny model's cost is its 49,152-word output layer: two examples, few steps.
    model = tune.add_lora(support.tiny_llama(learner, lab_seed), rank=8, alpha=16)
    before = tune.mean_loss(model, examples, pad)
    losses = tune.train(
        model, examples, pad_id=pad, steps=4, batch_size=2, lr=0.05, seed=lab_seed, progress=False
    )
    after = tune.mean_loss(model, examples, pad)
    assert_same(len(losses), 4, "len(train(...)) for steps=4")
    assert after < before - 0.05, f"loss on the batch {before:.3f} -> {after:.3f}: no learning"
    frozen = learner.new(make.module_summary(model))["parameters"]
    moving = [n for n, p in frozen.items() if p["trainable"] and ".lora_" not in n]
    assert not moving, f"training unfroze {moving[:3]}"
    again = tune.add_lora(support.tiny_llama(learner, lab_seed), rank=8, alpha=16)
    repeat = tune.train(
        again, examples, pad_id=pad, steps=2, batch_size=2, lr=0.05, seed=lab_seed, progress=False
    )
    assert_same(
        repeat, losses[:2], "the first losses of a second run with the same seed", abs_tol=1e-5
    )


@lab_test(points=2, number="3.5")
def test_merge(learner: Any, lab_seed: int) -> None:
    """The merged model is a plain Llama with the same outputs"""
    tune = learner.import_module("tune")
    _, _, examples, pad = _tiny_setup(learner, lab_seed)
    base = support.tiny_llama(learner, lab_seed)
    n_base = len(learner.new(make.module_summary(base))["parameters"])
    model = tune.add_lora(support.tiny_llama(learner, lab_seed), rank=4, alpha=8)
    tune.train(model, examples, pad_id=pad, steps=1, batch_size=2, lr=0.05, seed=0, progress=False)
    tuned = tune.mean_loss(model, examples, pad)
    merged = tune.merge(model)
    summary = learner.new(make.module_summary(merged))
    assert_same(summary["class"], "LlamaForCausalLM", "the merged model's class")
    assert_same(len(summary["parameters"]), n_base, "parameter tensors after merging (no LoRA)")
    assert_same(
        tune.mean_loss(merged, examples, pad), tuned, "the merged model's loss", abs_tol=1e-3
    )
    assert abs(tuned - tune.mean_loss(base, examples, pad)) > 1e-3, "training changed nothing"
