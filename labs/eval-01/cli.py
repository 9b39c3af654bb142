"""GIVEN: run the harness from the command line (needs `make serve` in another terminal).

    python cli.py checks --split dev              # rule checks over the rag-02 reference's answers
    python cli.py judge --split dev --rubric v1   # judge vs human labels: kappa, confusion, parse failures
    python cli.py ragas --split test --limit 10 --out current.json [--baseline-out baseline.json]
    python cli.py compare --metric correct        # k5 vs k2: paired bootstrap of per-question scores
    python gate.py --baseline baseline.json --current current.json

The rag-02 runs are the reference pipeline's answers to the golden questions with 5 and 2 sources
(``datasets/judge-labels/rag02_runs.jsonl``); the human labels are
``datasets/judge-labels/items.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from labkit.datasets import datasets_dir, load_judge_items, load_questions


def _runs(split: str, config: str) -> list[dict[str, Any]]:
    path = datasets_dir() / "judge-labels" / "rag02_runs.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if r["split"] == split and r["config"] == config]


def cmd_checks(args: argparse.Namespace) -> int:
    import checks

    facts = {q.id: list(q.facts) for q in load_questions()}
    totals: dict[str, int] = {}
    runs = [r for r in _runs(args.split, args.config) if facts[r["question_id"]]]
    for run in runs:
        result = checks.run_checks(run["answer"], facts[run["question_id"]], len(run["contexts"]))
        for name, ok in result.items():
            totals[name] = totals.get(name, 0) + int(ok)
    for name, count in totals.items():
        print(f"{name:16} {count:3}/{len(runs)}")
    return 0


def cmd_judge(args: argparse.Namespace) -> int:
    import llm_judge

    items = [i.as_dict() for i in load_judge_items(split=args.split)][: args.limit]
    rubric = llm_judge.RUBRIC_V1 if args.rubric == "v1" else llm_judge.RUBRIC_V2
    run = llm_judge.judge_all(items, rubric)
    result = llm_judge.agreement([i["label"] for i in items], run["verdicts"])
    (pp, pf), (fp, ff) = result["confusion"]
    print(f"rubric {args.rubric} on {len(items)} {args.split} items")
    print(
        f"accuracy {result['accuracy']:.3f}   kappa {result['kappa']:.3f}   "
        f"parse failures {result['parse_failures']} (left out)"
    )
    print("              judge pass  judge fail")
    print(f"human pass    {pp:10}  {pf:10}")
    print(f"human fail    {fp:10}  {ff:10}")
    return 0


def cmd_ragas(args: argparse.Namespace) -> int:
    import gate
    import ragas_eval

    runs = [r for r in _runs(args.split, args.config) if not r["refused"]][: args.limit]
    samples = [
        {
            "question": r["question"],
            "answer": r["answer"],
            "contexts": r["contexts"],
            "reference": r["reference"],
        }
        for r in runs
    ]
    started = time.perf_counter()
    rows = ragas_eval.score_samples(samples)
    means = ragas_eval.mean_scores(rows)
    print(f"{len(samples)} samples scored in {time.perf_counter() - started:.1f} s")
    for name, value in means.items():
        print(f"{name:18} {value:.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps(means, indent=2), encoding="utf-8")
    if args.baseline_out:
        scores = {name: [r[name] for r in rows if r[name] == r[name]] for name in means}
        Path(args.baseline_out).write_text(
            json.dumps(gate.make_baseline(scores), indent=2), encoding="utf-8"
        )
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import stats

    a = {r["question_id"]: float(r[args.metric]) for r in _runs(args.split, "k2")}
    b = {r["question_id"]: float(r[args.metric]) for r in _runs(args.split, "k5")}
    ids = sorted(a)
    result = stats.paired_bootstrap([a[i] for i in ids], [b[i] for i in ids], seed=args.seed)
    print(
        f"k5 - k2 on {len(ids)} {args.split} questions ({args.metric}): "
        f"{result['diff']:+.3f}, 95% CI [{result['low']:+.3f}, {result['high']:+.3f}]"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="eval-01: the evaluation harness")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("checks", help="rule checks over the rag-02 reference's answers")
    p.add_argument("--split", default="dev", choices=["dev", "test"])
    p.add_argument("--config", default="k5", choices=["k5", "k2"])
    p.set_defaults(run=cmd_checks)
    p = sub.add_parser("judge", help="your judge against the human labels")
    p.add_argument("--split", default="dev", choices=["dev", "test"])
    p.add_argument("--rubric", default="v1", choices=["v1", "v2"])
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(run=cmd_judge)
    p = sub.add_parser("ragas", help="RAGAS metrics of the rag-02 reference's answers")
    p.add_argument("--split", default="test", choices=["dev", "test"])
    p.add_argument("--config", default="k5", choices=["k5", "k2"])
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", help="write the means here (the gate's --current)")
    p.add_argument("--baseline-out", help="write a baseline here (the gate's --baseline)")
    p.set_defaults(run=cmd_ragas)
    p = sub.add_parser("compare", help="paired bootstrap: k5 vs k2")
    p.add_argument("--split", default="test", choices=["dev", "test"])
    p.add_argument("--metric", default="correct")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_compare)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
