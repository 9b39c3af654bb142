"""Shared by the eval-01 tests and build_vectors.py: the labelled judge items, the rag-02 runs and
the samples the RAGAS test scores. Loaded by file path at collection time (the grader's files are
deleted before tests run).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from labkit.datasets import load_judge_items
from labkit.fakellm.judge import useful
from labkit.grading.toolkit import dataset_rows

HERE = Path(__file__).resolve().parent
VECTORS_FILE = HERE / "judge_vectors.npz"

DEV_ITEMS = [item.as_dict() for item in load_judge_items(split="dev")]
RUNS = dataset_rows("judge-labels", "rag02_runs.jsonl")
INVENTED = "All of this was changed in the 2019 reorganisation and no longer applies."


# The kinds the fake's honest judge mostly gets right (it does not check completeness, and a
# refusal's context is hard to call): the rubric test measures the rubric, not the judge's blind
# spots, which the benchmark reports.
CLEAR_KINDS = ("correct", "wrong_number", "unsupported_claim", "refusal_when_answer_exists")


def judge_sample(seed: int, n: int) -> list[dict[str, Any]]:
    """A seeded sample of ``n`` dev items of :data:`CLEAR_KINDS`, half pass, half fail."""
    rng = random.Random(seed)
    clear = [i for i in DEV_ITEMS if i["kind"] in CLEAR_KINDS]
    passes = [i for i in clear if i["label"] == "pass"]
    fails = [i for i in clear if i["label"] == "fail"]
    picked = rng.sample(passes, n // 2) + rng.sample(fails, n - n // 2)
    rng.shuffle(picked)
    return picked


def unlabelled(item: dict[str, Any]) -> dict[str, Any]:
    """What learner code is given to judge: the question, contexts and answer only. The label, its
    kind and its justification stay in the grader (learner code runs in the worker and reads
    whatever it is passed)."""
    return {
        "question": item["question"],
        "contexts": list(item["contexts"]),
        "answer": item["answer"],
    }


def _average_precision(verdicts: list[bool]) -> float:
    """RAGAS's context precision for a list of per-context usefulness verdicts."""
    hits, total = 0, 0.0
    for rank, useful_here in enumerate(verdicts, start=1):
        if useful_here:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def _reversal_hurts(run: dict[str, Any]) -> bool:
    """Whether reversing the run's contexts lowers its context precision under the fake judge
    (a useful context ranked above useless ones): only then must the corrupted copy score lower."""
    verdicts = [useful(run["reference"], c).verdict for c in run["contexts"]]
    return _average_precision(verdicts) > _average_precision(verdicts[::-1])


def good_runs(seed: int, n: int) -> list[dict[str, Any]]:
    """``n`` seeded runs of the reference configuration (k5, test split) that answered correctly
    and whose ranking the fake judge's precision can tell from its reverse."""
    pool = [r for r in RUNS if r["config"] == "k5" and r["split"] == "test" and r["correct"]]
    pool = [r for r in pool if not r["refused"] and len(r["contexts"]) == 5]
    pool = [r for r in pool if _reversal_hurts(r)]
    return random.Random(seed).sample(pool, n)


def sample_of(run: dict[str, Any]) -> dict[str, Any]:
    """A RAGAS sample (plain data) from one run."""
    return {
        "question": run["question"],
        "answer": run["answer"],
        "contexts": list(run["contexts"]),
        "reference": run["reference"],
    }


def corrupted(sample: dict[str, Any]) -> dict[str, Any]:
    """The same sample from a deliberately broken configuration: an invented sentence added to
    the answer, and the retrieved contexts in reverse order (the best one last)."""
    return {
        **sample,
        "answer": f"{sample['answer']} {INVENTED}",
        "contexts": list(reversed(sample["contexts"])),
    }


def seeded_scores(seed: int, n: int, shift: float) -> tuple[list[float], list[float]]:
    """Two paired per-question score lists; B is A plus ``shift`` and per-question noise."""
    rng = random.Random(seed)
    a = [round(rng.random(), 3) for _ in range(n)]
    b = [round(min(1.0, max(0.0, x + shift + rng.gauss(0, 0.15))), 3) for x in a]
    return a, b
