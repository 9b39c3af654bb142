"""The fake provider as a judge (labkit.fakellm.judge): RAGAS's prompts recognised by their output
schema and answered from the texts, and the rubric judge's seeded flaws, which an explicit rubric
shrinks. Direct calls on ChatRequest objects: no server, no RAGAS import."""

from __future__ import annotations

import json
from typing import Any

from labkit.datasets import load_judge_items
from labkit.fakellm.behaviours import default_behaviours
from labkit.fakellm.judge import RagasJudge, RubricJudge, judge_answer, rubric_of, supported
from labkit.fakellm.types import ChatRequest, Message

CONTEXT = "Every full-time employee gets 25 days of paid annual leave per calendar year."


def _ragas_request(title: str, properties: dict, data: dict) -> ChatRequest:
    schema = {"title": title, "type": "object", "properties": properties}
    prompt = (
        f"Please return the output in a JSON format that complies with: {json.dumps(schema)}\n"
        f"--------EXAMPLES-----------\nNow perform the same with the following input\n"
        f"input: {json.dumps(data, indent=4)}\nOutput: "
    )
    return ChatRequest(
        api="openai",
        endpoint="chat",
        model="m",
        messages=[Message("user", prompt)],
        response_format="json_object",
    )


def _list_of_judged(key: str, verdict: str) -> dict[str, Any]:
    """RAGAS's output schema for a list of judged statements (NLI verdicts, recall
    attributions): ``key`` holds objects with ``statement``, ``reason`` and the ``verdict`` field."""
    item = {"type": "object", "properties": {"statement": {}, "reason": {}, verdict: {}}}
    return {key: {"type": "array", "items": item}}


def test_the_judges_come_before_the_schema_filler_in_the_default_chain() -> None:
    # Fleet answers only its own model ids and ReactModel only ReAct conversations: the judges
    # must still see a RAGAS prompt before the generic schema filler does.
    names = [type(b).__name__ for b in default_behaviours()]
    assert names[:5] == ["Fleet", "ReactModel", "RagasJudge", "RubricJudge", "SchemaFiller"]


def test_statements_then_nli_verdicts() -> None:
    judge = RagasJudge()
    answer = "Employees get 25 days of paid annual leave [1]. Unused days expire in March."
    req = _ragas_request(
        "StatementGeneratorOutput",
        {"statements": {"type": "array", "items": {"type": "string"}}},
        {"question": "q?", "answer": answer},
    )
    statements = json.loads(judge.respond(req).text)["statements"]  # type: ignore[union-attr, arg-type]
    assert statements == [
        "Employees get 25 days of paid annual leave.",
        "Unused days expire in March.",
    ]
    nli = _list_of_judged("statements", "verdict")
    req = _ragas_request("NLIStatementOutput", nli, {"context": CONTEXT, "statements": statements})
    verdicts = [s["verdict"] for s in json.loads(judge.respond(req).text)["statements"]]  # type: ignore[union-attr, arg-type]
    assert verdicts == [1, 0]


def test_wrong_number_is_not_supported() -> None:
    assert supported("Employees get 25 days of paid annual leave.", CONTEXT).verdict
    assert not supported("Employees get 30 days of paid annual leave.", CONTEXT).verdict


def test_precision_recall_and_relevance() -> None:
    judge = RagasJudge()
    reference = "Full-time employees get 25 days of paid annual leave per year."
    precision = {"reason": {"type": "string"}, "verdict": {"type": "integer"}}
    useful = _ragas_request(
        "ContextPrecisionOutput",
        precision,
        {"question": "q", "context": CONTEXT, "answer": reference},
    )
    useless = _ragas_request(
        "ContextPrecisionOutput",
        precision,
        {"question": "q", "context": "Parental leave is 16 weeks.", "answer": reference},
    )
    assert json.loads(judge.respond(useful).text)["verdict"] == 1  # type: ignore[union-attr, arg-type]
    assert json.loads(judge.respond(useless).text)["verdict"] == 0  # type: ignore[union-attr, arg-type]
    recall = _list_of_judged("classifications", "attributed")
    req = _ragas_request(
        "ContextRecallOutput", recall, {"question": "q", "context": CONTEXT, "answer": reference}
    )
    assert [c["attributed"] for c in json.loads(judge.respond(req).text)["classifications"]] == [1]  # type: ignore[union-attr, arg-type]
    relevance = {"question": {"type": "string"}, "noncommittal": {"type": "integer"}}
    req = _ragas_request("AnswerRelevanceOutput", relevance, {"response": "I don't know."})
    assert json.loads(judge.respond(req).text)["noncommittal"] == 1  # type: ignore[union-attr, arg-type]


def test_other_json_requests_are_left_to_the_schema_filler() -> None:
    req = _ragas_request("Person", {"name": {"type": "string"}}, {"answer": "Ada"})
    assert RagasJudge().respond(req) is None
    assert RubricJudge().respond(req) is None


VAGUE = "You are a judge. Decide whether the answer is good. Give your verdict."
EXPLICIT = """You grade answers. Criteria: every statement supported by the context (nothing invented);
numbers exact; refusing is right only when the context does not answer; a partial answer fails.
pass: supported, numbers exact, complete, or a correct refusal.
fail: anything invented, a wrong number, partial, or a wrong refusal.
Reply in JSON: {"verdict": "pass" or "fail", "reason": "..."}"""


def test_what_explicit_means() -> None:
    assert not rubric_of(VAGUE).explicit
    seen = rubric_of(EXPLICIT)
    assert (seen.criteria, seen.anchored, seen.json_verdict) == (True, True, True)


def _judge(rubric: str, item: Any) -> str:
    user = (
        f"Question: {item.question}\n\nContext:\n"
        + "\n".join(item.contexts)
        + f"\n\nAnswer: {item.answer}"
    )
    req = ChatRequest(
        api="openai", endpoint="chat", model="m", system=rubric, messages=[Message("user", user)]
    )
    reply = RubricJudge().respond(req)
    assert reply is not None
    assert reply.text is not None
    return reply.text


def test_explicit_rubric_agrees_more_and_parses_more() -> None:
    items = load_judge_items(split="dev", kinds=["correct", "wrong_number", "unsupported_claim"])[
        :80
    ]

    def score(rubric: str) -> tuple[int, int]:
        agree = failures = 0
        for item in items:
            text = _judge(rubric, item)
            try:
                verdict = json.loads(text)["verdict"]
            except (ValueError, KeyError, TypeError):
                failures += 1
                continue
            agree += verdict == item.label
        return agree, failures

    vague, explicit = score(VAGUE), score(EXPLICIT)
    assert explicit[0] > vague[0] + 8
    assert explicit[1] < vague[1]
    assert _judge(VAGUE, items[0]) == _judge(VAGUE, items[0])  # deterministic


def test_honest_judge_catches_the_corruptions() -> None:
    ok, why = judge_answer(
        "How many days of leave?", CONTEXT, "You get 25 days of paid annual leave [1]."
    )
    assert ok, why
    assert not judge_answer(
        "How many days of leave?", CONTEXT, "You get 30 days of paid annual leave."
    )[0]
    assert not judge_answer(
        "How many days of annual leave does a full-time employee get?", CONTEXT, "I don't know."
    )[0]


def test_pairwise_position_bias_shrinks_with_an_anchored_scale() -> None:
    items = load_judge_items(split="dev", kinds=["correct"])[:60]

    def first_wins(rubric: str) -> int:
        wins = 0
        for item in items:
            user = (
                f"Question: {item.question}\n\nContext:\n"
                + "\n".join(item.contexts)
                + "\n\nAnswer A: I don't know.\n\nAnswer B: "
                + item.answer
            )
            req = ChatRequest(
                api="openai",
                endpoint="chat",
                model="m",
                system=rubric,
                messages=[Message("user", user)],
            )
            reply = RubricJudge(malformed=0.0).respond(req)
            assert reply is not None
            assert reply.text is not None
            wins += json.loads(reply.text).get("winner") == "A"
        return wins

    # Answer B is right every time: "A" wins only through position bias (or noise).
    assert first_wins(VAGUE) > first_wins(EXPLICIT) + 10
