"""labkit.models.smollm2: the packaged tokenizer is the GGUF's, the tiny model has SmolLM2's
shape, and a saved model answers through the local provider (LABKIT_LOCAL_MODEL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.fakellm.local import LocalModelBehaviour
from labkit.fakellm.server import FakeLLM
from labkit.grading import recipes
from labkit.models import local_llm, smollm2

MESSAGES = [
    {"role": "system", "content": "You triage support messages."},
    {"role": "user", "content": "My lamp from order O-5012 arrived broken. Urgent!"},
]


@pytest.mark.slow
def test_the_packaged_tokenizer_is_the_ggufs() -> None:
    """The copy under smollm2_tokenizer/ encodes and templates exactly as the GGUF's own (~15 s)."""
    packaged, original = smollm2.tokenizer(), smollm2.tokenizer_from_gguf()
    text = "Hello, wörld! Order O-5012 — 3 items\n\t<|im_end|>"
    assert packaged.encode(text) == original.encode(text)
    assert packaged.apply_chat_template(MESSAGES, tokenize=False) == original.apply_chat_template(
        MESSAGES, tokenize=False
    )
    assert (packaged.pad_token_id, packaged.eos_token_id) == (
        original.pad_token_id,
        original.eos_token_id,
    )


def test_tiny_model_has_smollm2s_vocabulary_and_is_seeded() -> None:
    tok = smollm2.tokenizer()
    model = smollm2.tiny_model(seed=3)
    assert model.config.vocab_size == len(tok) == 49152
    assert model.config.tie_word_embeddings
    assert model.config.num_hidden_layers == 2
    summary = recipes.module_summary(model)
    assert summary["class"] == "LlamaForCausalLM"
    assert summary["parameters"]["model.layers.0.self_attn.v_proj.weight"] == {
        "shape": [32, 64],
        "trainable": True,
    }
    again = smollm2.tiny_model(seed=3)
    assert bool((again.model.embed_tokens.weight == model.model.embed_tokens.weight).all())


def test_a_saved_model_answers_through_the_local_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TransformersLLM has LocalLLM's interface; LABKIT_LOCAL_MODEL makes get_local_llm serve it."""
    tok = smollm2.tokenizer()
    smollm2.tiny_model(seed=0).save_pretrained(str(tmp_path))
    tok.save_pretrained(str(tmp_path))
    monkeypatch.setenv("LABKIT_LOCAL_MODEL", str(tmp_path))
    local_llm.get_local_llm.cache_clear()
    try:
        llm = local_llm.get_local_llm()
        assert isinstance(llm, smollm2.TransformersLLM)
    finally:
        local_llm.get_local_llm.cache_clear()
    done = llm.complete(MESSAGES, max_tokens=5)
    assert done.completion_tokens == 5
    assert done.finish_reason == "length"
    assert done.text
    info: dict[str, object] = {}
    assert "".join(llm.stream(MESSAGES, max_tokens=5, finish=info)) == done.text
    assert info["finish_reason"] == "length"

    import openai

    server = FakeLLM(behaviours=[LocalModelBehaviour(llm)]).start(port=0)
    try:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
        reply = client.chat.completions.create(
            model="tuned",
            messages=MESSAGES,  # type: ignore[arg-type]  # plain dicts, what the SDK sends
            max_tokens=5,
            temperature=0,
        )
    finally:
        server.stop()
    assert reply.choices[0].message.content == done.text


def test_a_folder_without_a_model_is_a_one_line_error(tmp_path: Path) -> None:
    from labkit.errors import LabkitError

    with pytest.raises(LabkitError, match="no saved model"):
        smollm2.TransformersLLM(tmp_path)
