"""chat-03, task 4: token usage summed over every reply, priced from a table, reported.

The fake provider is scripted to report seeded token counts, and the price table is made up per
run, so every expected number here is computed from what the fake returned.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)
from support import CHAT

from labkit.fakellm import reply
from labkit.grading import assert_same, lab_test


def _prices(seed: int) -> tuple[str, dict[str, dict[str, float]]]:
    rng = random.Random(seed * 7 + 3)
    model = f"grader-model-{seed % 1000}"
    table = {
        model: {
            "input": round(rng.uniform(0.05, 5.0), 3),
            "output": round(rng.uniform(0.2, 20.0), 3),
        },
        "other-model": {"input": 100.0, "output": 100.0},
    }
    return model, table


def _expected_cost(table: dict[str, dict[str, float]], model: str, inp: int, out: int) -> float:
    return inp * table[model]["input"] / 1_000_000 + out * table[model]["output"] / 1_000_000


def _assert_int_tokens(label: str, usage: Any, expected: tuple[int, int]) -> None:
    assert_same((usage.input_tokens, usage.output_tokens), expected, f"{label} (input, output)")


@lab_test(points=2, number="4.1")
def test_cost_usd_uses_the_price_table(learner: Any, lab_seed: int) -> None:
    """cost_usd prices tokens from the price table."""
    costs = learner.import_module("costs")
    model, table = _prices(lab_seed)
    rng = random.Random(lab_seed)
    for _ in range(5):
        inp, out = rng.randint(0, 50_000), rng.randint(0, 5_000)
        got = costs.cost_usd(model, costs.Usage(inp, out), table)
        expected = _expected_cost(table, model, inp, out)
        what = f"cost_usd for {inp} input + {out} output tokens at {table[model]} $ per 1M"
        assert_same(got, expected, what, rel_tol=1e-9, abs_tol=1e-15)
    with pytest.raises(KeyError):
        costs.cost_usd("no-such-model", costs.Usage(10, 10), table)


@lab_test(points=2, number="4.2")
def test_usage_is_summed_over_every_reply(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """Usage is summed over every reply, re-asks included."""
    from openai.types.chat import ChatCompletion

    ext = learner.import_module("extract")
    costs = learner.import_module("costs")
    rng = random.Random(lab_seed + 11)
    (row,) = support.sample(lab_seed + 11, 1)
    gold = json.dumps(row["gold"])
    invalid = json.dumps({**row["gold"], "requested_action": "escalate"})

    # one rejected reply, then a valid one: both are billed
    usages = [(rng.randint(300, 900), rng.randint(20, 90)) for _ in range(2)]
    fake_llm.script(
        reply.text(invalid).with_usage(*usages[0]), reply.text(gold).with_usage(*usages[1])
    )
    result = support.extract(learner, row["text"])
    assert result.replies == 2, (
        f"expected a re-ask (2 replies); Extraction.replies={result.replies!r}"
    )
    expected = (usages[0][0] + usages[1][0], usages[0][1] + usages[1][1])
    _assert_int_tokens("Extraction.usage after one re-ask", result.usage, expected)

    # a failure is billed too
    fails = [(rng.randint(300, 900), rng.randint(20, 90)) for _ in range(2)]
    fake_llm.script(*(reply.text(invalid).with_usage(*u) for u in fails))
    with pytest.raises(ext.ExtractionError) as info:
        support.extract(learner, row["text"], max_reasks=1)
    expected = (sum(u[0] for u in fails), sum(u[1] for u in fails))
    _assert_int_tokens(
        "ExtractionError.usage after two invalid replies", info.value.usage, expected
    )

    # a reply without usage counts as zero tokens
    bare = ChatCompletion.model_validate(
        {
            "id": "chatcmpl-grader",
            "object": "chat.completion",
            "created": 0,
            "model": "fake-gpt",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "{}"},
                }
            ],
        }
    )
    _assert_int_tokens("usage_of(a completion without usage)", costs.usage_of(bare), (0, 0))


@lab_test(points=2, number="4.3")
def test_cost_report_per_record_and_total(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """The cost report has per-record lines and totals."""
    costs = learner.import_module("costs")
    model, table = _prices(lab_seed + 5)
    rng = random.Random(lab_seed + 5)
    rows = support.sample(lab_seed + 5, 3)
    reasked = rng.randrange(len(rows))

    scripted: dict[str, list[tuple[int, int]]] = {}
    usages: dict[str, Any] = {}
    for i, row in enumerate(rows):
        gold = json.dumps(row["gold"])
        replies = []
        scripted[row["id"]] = []
        if i == reasked:
            u = (rng.randint(200, 2000), rng.randint(10, 300))
            replies.append(reply.text(gold[:40]).with_usage(*u))
            scripted[row["id"]].append(u)
        u = (rng.randint(200, 2000), rng.randint(10, 300))
        replies.append(reply.text(gold).with_usage(*u))
        scripted[row["id"]].append(u)
        fake_llm.script(*replies)
        usages[row["id"]] = support.extract(learner, row["text"], model=model).usage

    sent_models = {b.get("model") for b in fake_llm.journal.bodies(CHAT)}
    assert sent_models == {model}, (
        f"extract_ticket(model=...) should send that model; sent {sent_models}"
    )

    report = costs.build_report(usages, model, table)
    ids = [r.record_id for r in report.records]
    assert ids == [row["id"] for row in rows], (
        f"expected one line per record, in order {[r['id'] for r in rows]}; got {ids}"
    )
    for line in report.records:
        inp = sum(u[0] for u in scripted[line.record_id])
        out = sum(u[1] for u in scripted[line.record_id])
        _assert_int_tokens(f"report line {line.record_id}", line, (inp, out))
        expected = _expected_cost(table, model, inp, out)
        assert_same(
            line.cost_usd, expected, f"report line {line.record_id}: cost_usd", rel_tol=1e-9
        )
    all_in = sum(u[0] for us in scripted.values() for u in us)
    all_out = sum(u[1] for us in scripted.values() for u in us)
    total = _expected_cost(table, model, all_in, all_out)
    assert_same(
        (report.total_input_tokens, report.total_output_tokens),
        (all_in, all_out),
        "report totals (input, output)",
    )
    assert_same(report.total_cost_usd, total, "report total_cost_usd", rel_tol=1e-9)
    assert report.model == model, f"report.model should be {model!r}; got {report.model!r}"
