"""SmolLM2 as a torch model: its tokenizer, the real 135M weights, a tiny look-alike, and serving.

Lab ft-01 fine-tunes the course's local model. llama.cpp (:mod:`labkit.models.local_llm`) only runs
it; training needs it as a transformers model, which transformers builds from the same packaged
GGUF file (dequantised to float32; needs the ``gguf`` package). Nothing is downloaded:

- :func:`tokenizer` loads the tokenizer (and its chat template) embedded in the GGUF from a copy
  packaged with labkit, in well under a second (reading it from the GGUF takes ~15 s);
- :func:`load_model` loads the real 135M weights (~20 s on two cores);
- :func:`tiny_model` builds a randomly initialised Llama of the same family (same tokenizer,
  vocabulary, chat template, GQA, tied embeddings) with 2 layers of width 64 in a second: what the
  ft-01 grader trains on, so its tests take seconds;
- :class:`TransformersLLM` answers chat requests with a saved (merged) model through
  ``generate``: a :class:`~labkit.models.local_chat.LocalChatModel` like :class:`LocalLLM`, so
  ``LABKIT_LOCAL_MODEL=<folder>`` puts a fine-tuned model behind ``LABKIT_PROVIDER=local``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError
from labkit.models.embedder import cache_dir
from labkit.models.local_chat import Completion, Generation, LocalChatBase
from labkit.models.local_llm import gguf_path

PACKAGED_TOKENIZER = Path(__file__).with_name("smollm2_tokenizer")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")

# The tiny model's shape. Deliberately the SmolLM2 architecture (LlamaForCausalLM, grouped-query
# attention (two query heads per key/value head here, three in the real model), tied input/output embeddings), only smaller.
TINY_SHAPE = {
    "num_hidden_layers": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}


def _tokenizer_folder() -> Path:
    """A folder transformers can load the tokenizer from: the packaged copy, unpacked once into
    ``cache_dir()`` (a grading run has a fresh, empty one: unpacking takes well under a second)."""
    packed = (PACKAGED_TOKENIZER / "tokenizer.json.gz").read_bytes()
    stamp = hashlib.sha256(packed).hexdigest()[:12]
    folder = cache_dir() / f"smollm2-tokenizer-{stamp}"
    if all((folder / name).is_file() for name in TOKENIZER_FILES):
        return folder
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    partial.mkdir(parents=True, exist_ok=True)
    (partial / "tokenizer.json").write_bytes(gzip.decompress(packed))
    for name in TOKENIZER_FILES[1:]:
        shutil.copyfile(PACKAGED_TOKENIZER / name, partial / name)
    try:
        partial.replace(folder)  # atomic: a concurrent reader never sees half a folder
    except OSError:  # another process unpacked it first
        shutil.rmtree(partial, ignore_errors=True)
    return folder


@lru_cache(maxsize=1)
def tokenizer() -> Any:
    """The SmolLM2-135M-Instruct tokenizer with its chat template (``<|im_start|>`` turns).

    Read from the copy packaged with labkit (``smollm2_tokenizer/``, written by
    :func:`export_tokenizer` from the GGUF, which takes ~15 s because the ``gguf`` reader parses
    49,152 token strings one by one). Its pad token is ``<|im_end|>`` (the GGUF names no other),
    so padding is told apart from text by the attention mask, never by the id.
    """
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(_tokenizer_folder()))


def tokenizer_from_gguf() -> Any:
    """The tokenizer as transformers reads it from the packaged GGUF (slow: ~15 s)."""
    from transformers import AutoTokenizer

    source = gguf_path()
    try:
        return AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    except ImportError as exc:
        raise LabkitError("reading the GGUF needs the gguf package: run `make setup`") from exc


def export_tokenizer(folder: Path = PACKAGED_TOKENIZER) -> None:
    """(Re)write the packaged tokenizer from the GGUF: ``python -m labkit.models.smollm2``."""
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer_from_gguf().save_pretrained(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        raw = (Path(tmp) / "tokenizer.json").read_bytes()
        (folder / "tokenizer.json.gz").write_bytes(gzip.compress(raw, 9, mtime=0))
        for name in TOKENIZER_FILES[1:]:
            shutil.copyfile(Path(tmp) / name, folder / name)


def load_model() -> Any:
    """The real SmolLM2-135M-Instruct as a float32 ``LlamaForCausalLM`` (in eval mode)."""
    from transformers import AutoModelForCausalLM

    source = gguf_path()
    try:
        model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name)
    except ImportError as exc:
        raise LabkitError(
            "loading the GGUF needs the gguf and accelerate packages: run `make setup`"
        ) from exc
    # The weights are dequantised to float32 on load, but transformers still marks the model as
    # "quantized with gguf" and refuses to save it; a fine-tuned, merged model must be saveable.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model.eval()


def tiny_config(**overrides: Any) -> Any:
    """The ``LlamaConfig`` of :func:`tiny_model`: SmolLM2's vocabulary and special ids, tiny sizes."""
    from transformers import LlamaConfig

    tok = tokenizer()
    shape = {**TINY_SHAPE, **overrides}
    return LlamaConfig(
        vocab_size=len(tok),
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **shape,
    )


def tiny_model(seed: int = 0, **overrides: Any) -> Any:
    """A randomly initialised Llama shaped like SmolLM2 but tiny (~3.2M parameters, most of them
    the shared embedding), the same for the same ``seed``. Trains a step in milliseconds."""
    import torch
    from transformers import LlamaForCausalLM

    config = tiny_config(**overrides)
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()


class TransformersLLM(LocalChatBase):
    """Chat with a saved causal LM (e.g. a merged fine-tune) through transformers ``generate``.

    A :class:`~labkit.models.local_chat.LocalChatModel` like
    :class:`labkit.models.local_llm.LocalLLM`; greedy when ``temperature`` is 0.
    """

    thread_name = "labkit-transformers-llm"

    def __init__(self, folder: str | Path) -> None:
        super().__init__()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(folder)
        if not (path / "config.json").is_file():
            raise LabkitError(
                f"{path} holds no saved model (no config.json): save the merged model there first"
            )
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(path))
        self.model: Any = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=torch.float32
        ).eval()

    def generate(self, request: Generation, emit: Callable[[str], None] | None) -> Completion:
        """One ``generate`` call; if ``emit``, a streamer passes it the text as it is decoded.

        The streamed pieces are the raw text (a stop string included, where generation ended on
        one); the returned completion's text is cut at the first stop string.
        """
        import torch

        ids = self.tokenizer.apply_chat_template(
            request.messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        if request.seed is not None:
            torch.manual_seed(request.seed)
        kwargs: dict[str, Any] = {
            "input_ids": ids["input_ids"],
            "attention_mask": ids["attention_mask"],
            "max_new_tokens": request.max_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "do_sample": request.temperature > 0,
        }
        if request.temperature > 0:
            kwargs["temperature"] = request.temperature
        if request.stop:
            kwargs["stop_strings"] = list(request.stop)
            kwargs["tokenizer"] = self.tokenizer
        if emit is not None:
            kwargs["streamer"] = _emitting_streamer(self.tokenizer, emit)
        prompt_len = kwargs["input_ids"].shape[1]
        with torch.inference_mode():
            new = self.model.generate(**kwargs)[0, prompt_len:].tolist()
        ended = bool(new) and new[-1] == self.tokenizer.eos_token_id
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        for s in request.stop or []:
            text = text.split(s)[0]
        return Completion(
            text=text,
            finish_reason="stop" if ended or len(new) < request.max_tokens else "length",
            prompt_tokens=prompt_len,
            completion_tokens=len(new),
        )


def _emitting_streamer(tokenizer: Any, emit: Callable[[str], None]) -> Any:
    """A transformers ``TextStreamer`` (it decodes whole words as tokens arrive) that hands each
    finished piece of the reply (never the prompt, no special tokens) to ``emit``."""
    from transformers import TextStreamer

    class Streamer(TextStreamer):
        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            emit(text)

    return Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


if __name__ == "__main__":
    export_tokenizer()
    print(f"wrote {PACKAGED_TOKENIZER}")
