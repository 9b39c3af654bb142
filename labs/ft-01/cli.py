"""The whole fine-tune, end to end (given): curate → baseline → LoRA → after → export → serve.

    python cli.py curate                 # out/train.jsonl, out/test.jsonl, out/DATASHEET.md
    python cli.py run                    # the real 135M run on the CPU (~11-40 minutes)
    python cli.py ask "Subject: ..."     # one message through the local provider, tuned model

Everything lands in ``out/`` next to this file. ``run`` prints the before/after scores and the
gain with its 95% interval, and writes them to ``out/metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import curate
import evaluate
import formatting
import serve
import tune

OUT = Path(__file__).resolve().parent / "out"


def curate_to(out: Path = OUT) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """Curate the raw export and write the splits and the datasheet to ``out``."""
    train, test, report = curate.curate(curate.load_raw())
    curate.save_jsonl(train, out / "train.jsonl")
    curate.save_jsonl(test, out / "test.jsonl")
    (out / "DATASHEET.md").write_text(curate.datasheet(report), encoding="utf-8")
    return train, test, report


def run(
    out: Path = OUT,
    *,
    steps: int = 100,
    batch_size: int = 4,
    lr: float = 2e-3,
    rank: int = 8,
    seed: int = 0,
    max_test: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """The real run on SmolLM2-135M; returns (and saves) its metrics and timings."""
    from labkit.models import smollm2

    timings: dict[str, float] = {}
    started = time.perf_counter()
    train, test, report = curate_to(out)
    test = test[:max_test] if max_test else test
    tokenizer = smollm2.tokenizer()
    model = smollm2.load_model()
    timings["load_s"] = time.perf_counter() - started

    texts, labels = [r["text"] for r in test], [r["label"] for r in test]
    t = time.perf_counter()
    before = evaluate.score(evaluate.generate_replies(model, tokenizer, texts), labels)
    timings["eval_before_s"] = time.perf_counter() - t

    peft_model = tune.add_lora(model, rank=rank, alpha=2 * rank)
    share = tune.trainable_share(peft_model)
    examples = [formatting.encode(tokenizer, r["text"], r["label"]) for r in train]
    t = time.perf_counter()
    losses = tune.train(
        peft_model,
        examples,
        pad_id=tokenizer.pad_token_id,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        progress=progress,
    )
    timings["train_s"] = time.perf_counter() - t

    t = time.perf_counter()
    after = evaluate.score(evaluate.generate_replies(peft_model, tokenizer, texts), labels)
    timings["eval_after_s"] = time.perf_counter() - t
    gain = evaluate.gain_interval(before["correct"], after["correct"], seed=seed)

    metrics = {
        "report": report,
        "n_test": len(test),
        "trainable": share,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "rank": rank,
        "first_losses": losses[:5],
        "last_losses": losses[-5:],
        "before": {k: v for k, v in before.items() if k != "correct"},
        "after": {k: v for k, v in after.items() if k != "correct"},
        "gain": gain,
        "timings": timings,
    }
    # Scores first: they survive a failure while saving.
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    metrics["paths"] = serve.export(peft_model, tokenizer, out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="LoRA fine-tuning of SmolLM2-135M (lab ft-01)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("curate", help="write out/train.jsonl, out/test.jsonl, out/DATASHEET.md")
    run_p = sub.add_parser("run", help="baseline, LoRA, after, export (the real model)")
    run_p.add_argument("--steps", type=int, default=100)
    run_p.add_argument("--max-test", type=int, default=None, help="score only the first N")
    ask_p = sub.add_parser("ask", help="triage one message with the tuned model")
    ask_p.add_argument("text")
    args = parser.parse_args(argv)
    if args.command == "curate":
        _, _, report = curate_to()
        print(json.dumps(report))
    elif args.command == "run":
        m = run(steps=args.steps, max_test=args.max_test)
        b, a, g = m["before"]["exact_match"], m["after"]["exact_match"], m["gain"]
        print(
            f"exact match {b:.1%} -> {a:.1%}: gain {g['gain']:+.1%} "
            f"(95% CI {g['low']:+.1%} to {g['high']:+.1%}); model in {m['paths']['merged']}"
        )
    else:
        print(serve.ask(OUT / "merged", args.text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
