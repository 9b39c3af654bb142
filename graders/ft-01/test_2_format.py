"""ft-01 part 2: the model's own chat template, and a loss that counts only the reply."""

from __future__ import annotations

import json
import random
from typing import Any

import support

from labkit.grading import assert_same, lab_test, make

IGNORE = -100  # PyTorch cross-entropy's ignore_index


@lab_test(points=2, number="2.1")
def test_target(learner: Any, lab_seed: int) -> None:
    """The reply is one fixed JSON layout"""
    formatting = learner.import_module("formatting")
    rng = random.Random(lab_seed)
    for _ in range(4):
        label = support.seeded_label(rng)
        shuffled = dict(rng.sample(sorted(label.items()), 3))  # key order must not matter
        order = "null" if label["order_id"] is None else f'"{label["order_id"]}"'
        expected = (
            f'{{"category": "{label["category"]}", "urgency": "{label["urgency"]}", '
            f'"order_id": {order}}}'
        )
        assert_same(formatting.target(shuffled), expected, f"target({shuffled})")


@lab_test(points=1, number="2.2")
def test_to_messages(learner: Any, lab_seed: int) -> None:
    """Chat turns: system, user, and the assistant's reply when training"""
    formatting = learner.import_module("formatting")
    label = support.seeded_label(random.Random(lab_seed))
    prompt = formatting.to_messages("Where is my parcel?")
    assert_same([m["role"] for m in prompt], ["system", "user"], "roles without a label")
    assert_same(prompt[0]["content"], formatting.SYSTEM_PROMPT, "the system turn")
    assert_same(prompt[1]["content"], "Where is my parcel?", "the user turn")
    full = formatting.to_messages("Where is my parcel?", label)
    assert_same([m["role"] for m in full], ["system", "user", "assistant"], "roles with a label")
    assert_same(json.loads(full[2]["content"]), label, "the assistant turn, parsed")


@lab_test(points=4, number="2.3")
def test_encode_masks_the_prompt(learner: Any, lab_seed: int) -> None:
    """Template tokens, and the loss only on the reply"""
    formatting = learner.import_module("formatting")
    tok = learner.new(make.smollm2_tokenizer())
    row = support.training_rows(lab_seed, 1)[0]
    got = formatting.encode(tok, row["text"], row["label"], max_length=512)
    ids, labels = got["input_ids"], got["labels"]
    assert_same(len(labels), len(ids), "len(labels) vs len(input_ids)")
    messages = formatting.to_messages(row["text"], row["label"])
    full = tok.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
    assert_same(list(ids), list(full), "input_ids (the chat template of the whole conversation)")
    text = tok.decode(ids)
    assert text.startswith("<|im_start|>system\n"), f"not SmolLM2's chat layout: {text[:60]!r}"
    kept = [i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE]
    first = next(p for p, lab in enumerate(labels) if lab != IGNORE)
    assert all(lab == IGNORE for lab in labels[:first]), "masked positions after the reply began"
    assert_same(list(labels[first:]), list(ids[first:]), "labels after the prompt (= input_ids)")
    reply = tok.decode(kept)
    want = formatting.target(row["label"]) + "<|im_end|>"
    assert reply.startswith(want), (
        f"the tokens the loss counts decode to {reply!r}; expected the reply {want!r} (+ newline)"
    )
    assert_same(
        tok.decode(ids[:first]).endswith("<|im_start|>assistant\n"),
        True,
        "the prompt ends with the assistant header",
    )


@lab_test(points=1, number="2.4")
def test_encode_truncates(learner: Any, lab_seed: int) -> None:
    """Long examples are cut to max_length"""
    formatting = learner.import_module("formatting")
    tok = learner.new(make.smollm2_tokenizer())
    row = support.training_rows(lab_seed + 1, 1)[0]
    whole = formatting.encode(tok, row["text"], row["label"], max_length=512)
    cut = formatting.encode(tok, row["text"], row["label"], max_length=30)
    assert_same(list(cut["input_ids"]), list(whole["input_ids"][:30]), "input_ids at max_length=30")
    assert_same(list(cut["labels"]), list(whole["labels"][:30]), "labels at max_length=30")


@lab_test(points=2, number="2.5")
def test_collate(learner: Any) -> None:
    """A padded batch: ids, attention mask, labels"""
    formatting = learner.import_module("formatting")
    examples = [
        {"input_ids": [5, 6, 7], "labels": [IGNORE, 6, 7]},
        {"input_ids": [8], "labels": [8]},
    ]
    batch = formatting.collate(examples, 2)
    assert_same(sorted(batch), ["attention_mask", "input_ids", "labels"], "the batch's keys")
    assert_same(batch["input_ids"].tolist(), [[5, 6, 7], [8, 2, 2]], "input_ids")
    assert_same(batch["attention_mask"].tolist(), [[1, 1, 1], [1, 0, 0]], "attention_mask")
    assert_same(batch["labels"].tolist(), [[IGNORE, 6, 7], [8, IGNORE, IGNORE]], "labels")
    assert_same(str(batch["input_ids"].dtype), "torch.int64", "the dtype of input_ids")
