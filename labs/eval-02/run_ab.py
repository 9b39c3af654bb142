"""A/B test PROMPT_A against PROMPT_B on the cheap model, planned before it runs. GIVEN.

python run_ab.py --baseline 0.72 --effect 0.09
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from abtest import PROMPT_A, PROMPT_B, collect_outcomes, run_experiment, sample_size

from labkit import config

DATASET = Path(__file__).resolve().parents[2] / "datasets" / "llmops" / "requests.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=float, default=0.72, help="expected rate of A")
    parser.add_argument("--effect", type=float, default=0.09, help="smallest lift worth finding")
    parser.add_argument("--model", default="fleet-small")
    args = parser.parse_args()

    n = sample_size(args.baseline, args.baseline + args.effect)
    rows = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line]
    rows = [r for r in rows if r["variant"] == "original"]
    print(
        f"plan: {n} requests per arm (alpha 0.05, power 0.8) for {args.baseline:.2f} -> "
        f"{args.baseline + args.effect:.2f}; {len(rows)} distinct requests available"
    )
    if 2 * n > len(rows):
        print("not enough distinct requests for this plan: ask for a larger effect")
        return
    client = config.openai_client(max_retries=2)
    # alternate assignment: request 0 to A, 1 to B, ... (both arms see the same mix)
    a = collect_outcomes(client, rows[0 : 2 * n : 2], PROMPT_A, args.model)
    b = collect_outcomes(client, rows[1 : 2 * n : 2], PROMPT_B, args.model)
    result = run_experiment(a, b, n)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
