"""ft-01 part 5: the adapter saved, the merged model saved, and served by the local provider."""

from __future__ import annotations

import json
from typing import Any

import support

from labkit.grading import assert_same, lab_test, make


@lab_test(points=3, number="5.1")
def test_export(learner: Any, lab_seed: int, private_dir: Any) -> None:
    """The adapter and the merged model are saved, each loadable on its own"""
    tune = learner.import_module("tune")
    serve = learner.import_module("serve")
    tok = learner.new(make.smollm2_tokenizer())
    model = tune.add_lora(support.tiny_llama(learner, lab_seed), rank=4, alpha=8)
    paths = serve.export(model, tok, str(private_dir))
    adapter, merged = private_dir / "adapter", private_dir / "merged"
    assert_same(paths, {"adapter": str(adapter), "merged": str(merged)}, "export(...)")
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert_same(config.get("r"), 4, "the adapter's rank (adapter_config.json 'r')")
    assert_same(
        sorted(config.get("target_modules") or []), ["q_proj", "v_proj"], "its target modules"
    )
    weights = [p.name for p in adapter.iterdir() if p.name.startswith("adapter_model")]
    assert weights, f"no adapter weights in {sorted(p.name for p in adapter.iterdir())}"
    size = sum(p.stat().st_size for p in adapter.iterdir())
    assert size < 500_000, f"the adapter folder is {size:,} bytes: the whole model was saved?"
    for name in ("config.json", "tokenizer.json", "chat_template.jinja"):
        assert (merged / name).is_file(), f"{name} is missing from {merged}"
    assert not (merged / "adapter_config.json").exists(), "the merged folder still holds an adapter"


@lab_test(points=3, number="5.2")
def test_ask_through_the_local_provider(learner: Any, lab_seed: int, private_dir: Any) -> None:
    """The tuned model answers through the local provider, as it does directly"""
    tune = learner.import_module("tune")
    serve = learner.import_module("serve")
    evaluate = learner.import_module("evaluate")
    formatting = learner.import_module("formatting")
    tok = learner.new(make.smollm2_tokenizer())
    rows = support.training_rows(lab_seed + 3, 2)
    examples = [formatting.encode(tok, r["text"], r["label"], max_length=160) for r in rows]
    model = tune.add_lora(support.tiny_llama(learner, lab_seed), rank=4, alpha=8)
    tune.train(
        model,
        examples,
        pad_id=tok.pad_token_id,
        steps=1,
        batch_size=2,
        lr=0.05,
        seed=0,
        progress=False,
    )
    text = rows[0]["text"]
    direct = evaluate.generate_replies(model, tok, [text], max_new_tokens=8)[0]
    paths = serve.export(model, tok, str(private_dir))
    served = serve.ask(paths["merged"], text, max_tokens=8)
    assert isinstance(served, str), f"ask(...) returned {served!r}"
    assert served, "ask(...) returned an empty reply"
    assert_same(served, direct, "the served reply vs generate_replies on the tuned model")
