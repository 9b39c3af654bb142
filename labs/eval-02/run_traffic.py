"""Run the request set through the service: traces to spans.jsonl, a report on the terminal. GIVEN.

python run_traffic.py --limit 200                      # the routed service
python run_traffic.py --policy cheap                   # everything to the cheap model
python run_traffic.py --policy strong                  # everything to the strong model
python run_traffic.py --semantic                       # + a semantic cache tuned on dev
python run_traffic.py --otlp http://localhost:4317     # also send spans to a collector
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from caching import ExactCache, SemanticCache, choose_threshold, cosine
from report import print_report, summarise, waterfall_rows
from service import ServiceConfig, handle_request
from telemetry import make_tracer_provider

from labkit import config

DATASET = Path(__file__).resolve().parents[2] / "datasets" / "llmops" / "requests.jsonl"


def load(split: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if r["split"] == split]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--policy", choices=["routed", "cheap", "strong"], default="routed")
    parser.add_argument("--min-confidence", type=float, default=0.7)
    parser.add_argument("--semantic", action="store_true", help="add a semantic cache")
    parser.add_argument("--threshold", type=float, default=None, help="semantic threshold")
    parser.add_argument("--spans", type=Path, default=Path("spans.jsonl"))
    parser.add_argument("--otlp", default=None, help="an OTLP/gRPC endpoint to export to as well")
    args = parser.parse_args()

    client = config.openai_client(max_retries=2)
    cfg = ServiceConfig(min_confidence=args.min_confidence)
    if args.policy == "cheap":
        cfg = ServiceConfig(strong_model=cfg.cheap_model, min_confidence=-1.0)
    elif args.policy == "strong":
        cfg = ServiceConfig(cheap_model=cfg.strong_model, min_confidence=-1.0)
    args.spans.unlink(missing_ok=True)
    provider = make_tracer_provider(args.spans, otlp_endpoint=args.otlp)
    tracer = provider.get_tracer("eval-02")

    semantic, embed = None, None
    if args.semantic:
        memo: dict[str, list[float]] = {}

        def embed(text: str) -> list[float]:
            if text not in memo:
                data = client.embeddings.create(model=config.embedding_model(), input=text)
                memo[text] = list(data.data[0].embedding)
            return memo[text]

        threshold = args.threshold
        if threshold is None:
            dev = load("dev")
            by_id = {r["id"]: r for r in load("dev") + load("test")}
            pairs = []
            for r in dev:
                if r["variant_of"] in by_id:
                    other = by_id[r["variant_of"]]
                    sim = cosine(embed(r["question"].lower()), embed(other["question"].lower()))
                    pairs.append((sim, r["answer"] == other["answer"]))
            threshold = choose_threshold(pairs)
            print(f"semantic threshold chosen on {len(pairs)} dev pairs: {threshold:.4f}")
        semantic = SemanticCache(threshold if math.isfinite(threshold) else 2.0)

    cache = ExactCache()
    records = []
    for row in load("test")[: args.limit]:
        record = handle_request(
            row,
            client=client,
            tracer=tracer,
            cache=cache,
            config=cfg,
            semantic=semantic,
            embed=embed,
        )
        record["correct"] = record["answer"] == row["answer"]
        records.append(record)
    provider.shutdown()

    spans = [json.loads(line) for line in args.spans.read_text(encoding="utf-8").splitlines()]
    escalated = next((r for r in records if r["route"] == "escalated"), records[0])
    print_report(summarise(records), waterfall_rows(spans, escalated["trace_id"]))
    accuracy = sum(r["correct"] for r in records) / len(records)
    wrong_hits = sum(1 for r in records if r["cache"] == "semantic" and not r["correct"])
    print(
        f"accuracy {accuracy:.1%} over {len(records)} requests; {len(spans)} spans in {args.spans}"
    )
    if semantic is not None:
        hits = sum(1 for r in records if r["cache"] == "semantic")
        print(f"semantic cache: {hits} hits, {wrong_hits} of them WRONG answers")


if __name__ == "__main__":
    main()
