"""Evaluation benchmark (issue 12): a full RAGAS run, and how well the judges agree with people.

Measured with the eval-01 REFERENCE (``solutions/eval-01``) against the fake provider (real
openai SDK and RAGAS 0.4.3 over real HTTP, the fake's ``RagasJudge`` and ``RubricJudge``):

- the time of a full RAGAS run (faithfulness, answer relevancy, context precision, context recall)
  over the rag-02 reference's answers on the test split (``datasets/judge-labels/rag02_runs.jsonl``,
  config k5, refusals left out), with the judge requests it took, and the same for the broken
  configuration of the grader (invented sentence, reversed contexts) to show the scores move;
- the learner's LLM-as-judge (``llm_judge.judge_all``) against the human labels of both splits,
  with ``RUBRIC_V1`` (vague) and ``RUBRIC_V2`` (explicit): accuracy, Cohen's kappa, parse
  failures;
- the fake judge's honest verdict (``labkit.fakellm.judge.judge_answer``, no flaws) against the
  human labels, overall and per answer kind.

Writes ``benchmarks/results/eval.md``. A few minutes on two cores; the machine is shared, so
timings are noisy (the load average is printed).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.machine import load_average, machine_line

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "eval.md"
REFERENCE = ROOT / "solutions" / "eval-01"


def _runs(split: str, config: str) -> list[dict[str, Any]]:
    path = ROOT / "datasets" / "judge-labels" / "rag02_runs.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if r["split"] == split and r["config"] == config and not r["refused"]]


def run() -> dict[str, Any]:
    """Run the benchmark and write the table."""
    sys.path.insert(0, str(REFERENCE))
    import llm_judge
    import ragas_eval

    from labkit.datasets import load_judge_items
    from labkit.fakellm import FakeLLM
    from labkit.fakellm.judge import judge_answer

    load = load_average()
    lines = [
        "# Evaluation benchmark (benchmarks/eval_bench.py)",
        "",
        f"{machine_line(load)}. Timings on a loaded shared machine are noisy: read them as "
        "orders of magnitude.",
        "",
    ]
    out: dict[str, Any] = {}
    with FakeLLM() as fake:
        os.environ.update(fake.env())
        started = time.perf_counter()
        import ragas  # noqa: F401  (timed on its own: ~5 s)

        import_s = time.perf_counter() - started
        samples = [
            {
                "question": r["question"],
                "answer": r["answer"],
                "contexts": r["contexts"],
                "reference": r["reference"],
            }
            for r in _runs("test", "k5")
        ]
        broken = [
            {
                **s,
                "answer": s["answer"] + " All of this was changed in the 2019 reorganisation.",
                "contexts": list(reversed(s["contexts"])),
            }
            for s in samples
        ]
        table = [
            "## RAGAS over the rag-02 reference's test-split answers",
            "",
            f"`import ragas`: {import_s:.1f} s. Four metrics per sample, 4 samples at a time.",
            "",
            "| configuration | samples | time s | judge requests | faithfulness | answer relevancy "
            "| context precision | context recall |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, batch in (
            ("k5 (reference)", samples),
            ("broken (invented sentence, reversed contexts)", broken),
        ):
            fake.reset()
            started = time.perf_counter()
            rows = ragas_eval.score_samples(batch)
            seconds = time.perf_counter() - started
            requests = len(fake.journal.bodies("/v1/chat/completions")) + len(
                fake.journal.bodies("/v1/embeddings")
            )
            means = ragas_eval.mean_scores(rows)
            nans = sum(math.isnan(v) for r in rows for v in r.values())
            out[name] = {"seconds": seconds, **means}
            table.append(
                f"| {name} | {len(batch)} | {seconds:.1f} | {requests} | "
                + " | ".join(f"{means[m]:.3f}" for m in ragas_eval.METRICS)
                + " |"
            )
            if nans:
                table.append(f"| (NaN values left out: {nans}) | | | | | | | |")
        lines += [*table, ""]

        human_table = [
            "## Judges against the human labels (datasets/judge-labels)",
            "",
            "The learner's judge is the reference `llm_judge` through the fake's `RubricJudge`; "
            "parse failures are left out of accuracy and kappa and counted apart.",
            "",
            "| judge | split | items | parse failures | accuracy | Cohen's kappa |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for split in ("dev", "test"):
            items = [i.as_dict() for i in load_judge_items(split=split)]
            human = [i["label"] for i in items]
            for rubric_name, rubric in (
                ("RUBRIC_V1 (vague)", llm_judge.RUBRIC_V1),
                ("RUBRIC_V2 (explicit)", llm_judge.RUBRIC_V2),
            ):
                result = llm_judge.agreement(human, llm_judge.judge_all(items, rubric)["verdicts"])
                out[f"{rubric_name} {split}"] = result
                human_table.append(
                    f"| {rubric_name} | {split} | {len(items)} | {result['parse_failures']} | "
                    f"{result['accuracy']:.3f} | {result['kappa']:.3f} |"
                )
            honest = [
                "pass"
                if judge_answer(i["question"], "\n".join(i["contexts"]), i["answer"])[0]
                else "fail"
                for i in items
            ]
            result = llm_judge.agreement(human, honest)
            human_table.append(
                f"| fake judge, honest (no flaws) | {split} | {len(items)} | 0 | "
                f"{result['accuracy']:.3f} | {result['kappa']:.3f} |"
            )
        lines += [*human_table, ""]

    items = [i.as_dict() for i in load_judge_items()]
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for item in items:
        verdict = judge_answer(item["question"], "\n".join(item["contexts"]), item["answer"])[0]
        total[item["kind"]] += 1
        right[item["kind"]] += ("pass" if verdict else "fail") == item["label"]
    lines += [
        "## The fake's honest judge per answer kind (both splits)",
        "",
        "| kind | items | agrees with the human label |",
        "|---|---:|---:|",
        *[f"| {k} | {total[k]} | {right[k]} ({right[k] / total[k]:.0%}) |" for k in total],
        "",
        "It does not check completeness (a partly correct answer whose statements are all true "
        "passes), and it calls a refusal wrong when a context is close to the question.",
        "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    return out


if __name__ == "__main__":
    run()
