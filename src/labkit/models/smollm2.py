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
  ``generate``: the same ``complete``/``stream`` interface as :class:`LocalLLM`, so
  ``LABKIT_LOCAL_MODEL=<folder>`` puts a fine-tuned model behind ``LABKIT_PROVIDER=local``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError
from labkit.models.embedder import cache_dir
from labkit.models.local_llm import Completion, gguf_path

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


class TransformersLLM:
    """Chat with a saved causal LM (e.g. a merged fine-tune) through transformers ``generate``.

    Same ``complete``/``stream`` interface as :class:`labkit.models.local_llm.LocalLLM`; greedy
    when ``temperature`` is 0. Calls are serialised: one model, one generation at a time.
    """

    def __init__(self, folder: str | Path) -> None:
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
        self._lock = threading.Lock()

    def _generate_kwargs(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
        seed: int | None,
        stop: list[str] | None,
    ) -> dict[str, Any]:
        import torch

        ids = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        if seed is not None:
            torch.manual_seed(seed)
        kwargs: dict[str, Any] = {
            "input_ids": ids["input_ids"],
            "attention_mask": ids["attention_mask"],
            "max_new_tokens": max_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "do_sample": temperature > 0,
        }
        if temperature > 0:
            kwargs["temperature"] = temperature
        if stop:
            kwargs["stop_strings"] = list(stop)
            kwargs["tokenizer"] = self.tokenizer
        return kwargs

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = 0,
        stop: list[str] | None = None,
    ) -> Completion:
        """Generate a whole reply to OpenAI-style ``messages``."""
        import torch

        kwargs = self._generate_kwargs(messages, max_tokens, temperature, seed, stop)
        prompt_len = kwargs["input_ids"].shape[1]
        with self._lock, torch.inference_mode():
            out = self.model.generate(**kwargs)[0, prompt_len:]
        new = out.tolist()
        ended = bool(new) and new[-1] == self.tokenizer.eos_token_id
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        for s in stop or []:
            text = text.split(s)[0]
        return Completion(
            text=text,
            finish_reason="stop" if ended or len(new) < max_tokens else "length",
            prompt_tokens=prompt_len,
            completion_tokens=len(new),
        )

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int | None = 0,
        finish: dict[str, Any] | None = None,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield the reply's text pieces as ``generate`` produces them (a thread feeds a
        ``TextIteratorStreamer``)."""
        import torch
        from transformers import TextIteratorStreamer

        kwargs = self._generate_kwargs(messages, max_tokens, temperature, seed, stop)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        info: dict[str, Any] = finish if finish is not None else {}
        result: dict[str, Any] = {}

        def run() -> None:
            with self._lock, torch.inference_mode():
                result["out"] = self.model.generate(**kwargs, streamer=streamer)

        worker = threading.Thread(target=run, name="labkit-transformers-llm", daemon=True)
        worker.start()
        yield from (piece for piece in streamer if piece)
        worker.join()
        prompt_len = kwargs["input_ids"].shape[1]
        new = result["out"][0, prompt_len:].tolist() if "out" in result else []
        ended = bool(new) and new[-1] == self.tokenizer.eos_token_id
        info["finish_reason"] = "stop" if ended or len(new) < max_tokens else "length"
        info["prompt_tokens"] = prompt_len
        info["completion_tokens"] = len(new)


if __name__ == "__main__":
    export_tokenizer()
    print(f"wrote {PACKAGED_TOKENIZER}")
