"""eval-01 part 2: an LLM-as-judge with a rubric and a JSON verdict (llm_judge.py), its parse
failures counted apart, its agreement with the human labels, and a rubric that raises kappa.

The fake provider's RubricJudge (labkit.fakellm.judge) grades with seeded flaws that shrink when
the rubric is explicit; what "explicit" means to it is labkit.fakellm.judge.rubric_of.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from labkit.fakellm import reply
from labkit.fakellm.judge import rubric_of
from labkit.grading import assert_same, lab_test
from labkit.models.embedder import load_vectors, warm_cache

VECTORS = load_vectors(support.VECTORS_FILE)
CHAT = "/v1/chat/completions"
KAPPA_GAIN = 0.15  # README task 3: the explicit rubric must raise kappa by at least this much


@pytest.fixture(scope="module", autouse=True)
def _warm_cache() -> None:
    warm_cache(VECTORS)


@lab_test(points=2, number="2.1")
def test_judge_prompt_on_the_wire(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """The judge prompt carries the rubric, the question, every context and the answer"""
    judge = learner.import_module("llm_judge")
    item = support.judge_sample(lab_seed, 2)[0]
    rubric = "You are a judge. Grade the answer. Reply in JSON with a verdict."
    fake_llm.script(reply.text('{"verdict": "fail", "reason": "scripted"}'))
    result = judge.judge_item(support.unlabelled(item), rubric)
    assert_same(
        result,
        {"verdict": "fail", "raw": '{"verdict": "fail", "reason": "scripted"}'},
        "judge_item(...)",
    )
    body = fake_llm.journal.last(path=CHAT).body
    messages = body.get("messages") or []
    assert [m.get("role") for m in messages] == ["system", "user"], (
        f"expected a system and a user message, got roles {[m.get('role') for m in messages]}"
    )
    assert messages[0]["content"] == rubric, "the system message must be the rubric, unchanged"
    user = messages[1]["content"]
    for label, text in (("Question:", item["question"]), ("Answer:", item["answer"])):
        assert f"{label} {text}" in user, f"the user message has no line '{label} {text[:50]}...'"
    assert "Context:" in user, "the user message has no 'Context:' section"
    for context in item["contexts"]:
        assert " ".join(context.split()) in user, (
            f"a context is missing from the prompt: {context[:60]!r}"
        )


@lab_test(points=3, number="2.2")
def test_parse_verdict(learner: Any) -> None:
    """Verdicts are parsed strictly: anything unclear is a parse failure, not a guess"""
    judge = learner.import_module("llm_judge")
    cases = [
        ('{"verdict": "pass", "reason": "ok"}', "pass"),
        ('{"verdict": "FAIL"}', "fail"),
        ('```json\n{"verdict": "pass"}\n```', "pass"),
        ("Verdict: PASS. Looks right.", None),
        ('{"verdict": "pass", "reason": "The answer', None),
        ('{"verdict": "mostly correct"}', None),
        ("GRADE: C", None),
        ('["pass"]', None),
        ('{"verdict": 1}', None),
        ("", None),
    ]
    for text, want in cases:
        assert_same(judge.parse_verdict(text), want, f"parse_verdict({text!r})")


@lab_test(points=3, number="2.3")
def test_parse_failures_counted_apart(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """Parse failures are counted and reported apart, never as a pass or a fail"""
    judge = learner.import_module("llm_judge")
    items = support.judge_sample(lab_seed + 1, 6)
    replies = [
        '{"verdict": "pass"}',
        "Verdict: PASS",
        '{"verdict": "fail"}',
        '{"verdict": "pass", "reason": "cut',
        '{"verdict": "fail"}',
        '{"verdict": "unsure"}',
    ]
    fake_llm.script(*[reply.text(r) for r in replies])
    run = judge.judge_all(
        [support.unlabelled(i) for i in items], "Grade it as a judge. Reply with a JSON verdict."
    )
    want = ["pass", None, "fail", None, "fail", None]
    assert_same(
        run, {"verdicts": want, "parse_failures": 3}, "judge_all(...) with 3 malformed replies"
    )
    assert len(fake_llm.journal.bodies(CHAT)) == 6, "judge_all must make one request per item"
    human = [i["label"] for i in items]
    got = judge.agreement(human, want)
    assert_same(got["n"], 3, "agreement(...)['n'] (items with a verdict)")
    assert_same(got["parse_failures"], 3, "agreement(...)['parse_failures']")
    kept = [(h, j) for h, j in zip(human, want, strict=True) if j is not None]
    accuracy = sum(h == j for h, j in kept) / 3
    assert_same(
        got["accuracy"],
        accuracy,
        "agreement(...)['accuracy'] over parsed verdicts only",
        abs_tol=1e-9,
    )


@lab_test(points=3, number="2.4")
def test_agreement_matches_scikit_learn(learner: Any, lab_seed: int) -> None:
    """Accuracy, Cohen's kappa and the confusion matrix match scikit-learn"""
    judge = learner.import_module("llm_judge")
    rng = random.Random(lab_seed)
    human = [rng.choice(["pass", "fail"]) for _ in range(80)]
    judged: list[str | None] = [
        None if rng.random() < 0.1 else (h if rng.random() < 0.75 else rng.choice(["pass", "fail"]))
        for h in human
    ]
    got = judge.agreement(human, judged)
    kept = [(h, j) for h, j in zip(human, judged, strict=True) if j is not None]
    truth, guess = [h for h, _ in kept], [j for _, j in kept]
    kappa = float(cohen_kappa_score(truth, guess, labels=["pass", "fail"]))
    matrix = confusion_matrix(truth, guess, labels=["pass", "fail"]).tolist()
    assert_same(
        sorted(got),
        ["accuracy", "confusion", "kappa", "n", "parse_failures"],
        "agreement(...) keys",
    )
    assert_same(got["n"], len(kept), "agreement(...)['n']")
    assert_same(got["parse_failures"], len(human) - len(kept), "agreement(...)['parse_failures']")
    assert_same(got["accuracy"], sum(h == j for h, j in kept) / len(kept), "accuracy", abs_tol=1e-9)
    assert_same(got["kappa"], kappa, "Cohen's kappa (scikit-learn's value)", abs_tol=1e-9)
    assert_same(
        got["confusion"],
        [[int(x) for x in row] for row in matrix],
        "confusion matrix (rows human, columns judge)",
    )


@lab_test(points=4, number="2.5")
def test_explicit_rubric_raises_kappa(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """The rewritten rubric measurably raises agreement with the human labels"""
    judge = learner.import_module("llm_judge")
    items = support.judge_sample(lab_seed + 2, 60)
    rubrics = {"RUBRIC_V1": judge.RUBRIC_V1, "RUBRIC_V2": judge.RUBRIC_V2}
    for name, rubric in rubrics.items():
        assert type(rubric) is str, (
            f"llm_judge.{name} is a {type(rubric).__name__}, expected a str (README task 3)"
        )
    # Both runs first: the human labels reach learner code (agreement) only after every verdict.
    judged = [
        judge.judge_all([support.unlabelled(i) for i in items], rubric)["verdicts"]
        for rubric in rubrics.values()
    ]
    human = [i["label"] for i in items]
    before, after = (judge.agreement(human, verdicts) for verdicts in judged)
    seen = rubric_of(rubrics["RUBRIC_V2"])
    missing = [
        name
        for name, ok in (
            ("criteria", seen.criteria),
            ("an anchored scale", seen.anchored),
            ("a JSON verdict", seen.json_verdict),
        )
        if not ok
    ]
    print(
        f"kappa {before['kappa']:.3f} -> {after['kappa']:.3f}; parse failures {before['parse_failures']} -> {after['parse_failures']}"
    )
    assert not missing, (
        f"RUBRIC_V2 is not explicit yet: it lacks {', '.join(missing)} (README task 3)"
    )
    assert after["kappa"] >= before["kappa"] + KAPPA_GAIN, (
        f"kappa went from {before['kappa']:.3f} (RUBRIC_V1) to {after['kappa']:.3f} (RUBRIC_V2) on "
        f"{len(items)} dev items; expected a gain of at least {KAPPA_GAIN}"
    )
    assert json.dumps(after)  # plain data all the way
