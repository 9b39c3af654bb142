"""chat-02, tasks 4-5: the tools on the wire and the call -> execute -> result -> answer loop.

The fake provider plays the model: each test scripts its tool calls (good, parallel, broken) and
then reads from the journal what the learner's code sent back. Expected tool results come from
the grader's own oracle (``support.Oracle``) on a fresh copy of the shop database.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import support  # this grader's shared helpers (graders/chat-02/support.py, on sys.path)
from jsonschema import Draft202012Validator

from labkit.fakellm import reply
from labkit.grading import assert_same, lab_test, make, toolkit
from labkit.grading.toolkit import content_text, sdk_bodies

SDKS = ["openai", "anthropic"]
TOOL_NAMES = ["get_customer", "list_orders", "get_product", "search_products"]


# --------------------------------------------------------------------------- helpers


shop_copy = toolkit.shop_copy  # the fixture: a private, writable copy of the shop database


def pick(path: Path, rng: random.Random) -> tuple[str, list[str]]:
    """A customer with at least two orders, and three distinct SKUs."""
    oracle = support.Oracle(path)
    customer_id = rng.choice(oracle.customers_with_orders(minimum=2))
    return customer_id, rng.sample(sorted(oracle.products), 3)


def call_id(sdk: str, rng: random.Random) -> str:
    return ("call_" if sdk == "openai" else "toolu_") + "".join(
        rng.choices("abcdefghjkmnpqrstuvwxyz23456789", k=16)
    )


def draw(path: Path, sdk: str, lab_seed: int, calls: int) -> tuple[str, list[str], list[str]]:
    """A test's seeded inputs: a customer with orders, three SKUs and ``calls`` tool-call ids."""
    rng = random.Random(lab_seed)
    customer_id, skus = pick(path, rng)
    return customer_id, skus, [call_id(sdk, rng) for _ in range(calls)]


def ask(learner, sdk: str, db: Path, question: str, **kwargs: Any):
    """Run the learner's assistant through the given answer() entry point."""
    assistant = learner.import_module("assistant")
    client = make.client(sdk, max_retries=0)
    return assistant.answer(question, db_path=db, client=client, sdk=sdk, **kwargs)


def check_answer(result: Any, text: str, model_calls: int, complete: bool) -> None:
    """The Answer's fields, compared with exact types."""
    for field, want in (("complete", complete), ("model_calls", model_calls), ("text", text)):
        if not hasattr(result, field):
            pytest.fail(f"answer() must return an Answer with .{field}, got {result!r}")
        assert_same(getattr(result, field), want, f"Answer.{field}")


def last_assistant_turn(body: dict[str, Any]) -> dict[str, Any]:
    """The last assistant message of a request body (the turn that made the tool calls)."""
    turns = [m for m in body["messages"] if m.get("role") == "assistant"]
    assert turns, "the request after a tool call must repeat the assistant turn that made it"
    return turns[-1]


def echoed_calls(body: dict[str, Any], sdk: str) -> list[tuple[str, str]]:
    """(id, name) of the tool calls in the last assistant turn the client sent back."""
    last = last_assistant_turn(body)
    if sdk == "openai":
        return [(c["id"], c["function"]["name"]) for c in last.get("tool_calls") or []]
    content = last["content"] if isinstance(last["content"], list) else []
    return [(b["id"], b["name"]) for b in content if b.get("type") == "tool_use"]


def sent_results(body: dict[str, Any], sdk: str) -> list[dict[str, Any]]:
    """The tool results at the end of a request: [{id, content, is_error}], in order.

    OpenAI: the ``tool`` messages after the last assistant message. Anthropic: the
    ``tool_result`` blocks of the final user message, which must hold them ALL.
    """
    messages = body["messages"]
    if sdk == "openai":
        last_assistant = max(i for i, m in enumerate(messages) if m.get("role") == "assistant")
        tail = messages[last_assistant + 1 :]
        wrong_tail = (
            "after the assistant turn with tool_calls, send one role 'tool' message per call and "
            f"nothing else; got roles {[m.get('role') for m in tail]}"
        )
        assert tail, wrong_tail
        assert all(m.get("role") == "tool" for m in tail), wrong_tail
        return [
            {
                "id": m.get("tool_call_id"),
                "content": content_text(m.get("content")),
                "is_error": None,
            }
            for m in tail
        ]
    assert messages[-2].get("role") == "assistant", (
        "the assistant turn with the tool_use blocks must come right before the tool results"
    )
    final = messages[-1]
    not_one_user_message = (
        "tool results go back in ONE user message whose content is a list of tool_result blocks; "
        f"the last message was {json.dumps(final)[:200]}"
    )
    assert final.get("role") == "user", not_one_user_message
    assert isinstance(final.get("content"), list), not_one_user_message
    blocks = final["content"]
    assert all(b.get("type") == "tool_result" for b in blocks), (
        f"that user message should hold only tool_result blocks, got types {[b.get('type') for b in blocks]}"
    )
    return [
        {
            "id": b.get("tool_use_id"),
            "content": content_text(b.get("content")),
            "is_error": b.get("is_error", False),
        }
        for b in blocks
    ]


def decoded(result: dict[str, Any]) -> Any:
    try:
        return json.loads(result["content"])
    except ValueError:
        pytest.fail(f"tool result content must be JSON, got {result['content'][:120]!r}")


def assert_error_result(result: dict[str, Any], sdk: str, what: str) -> str:
    body = decoded(result)
    not_an_error = (
        f'{what}: the tool result must be {{"error": "<message>"}}, got {result["content"][:160]!r}'
    )
    assert isinstance(body, dict), not_an_error
    assert isinstance(body.get("error"), str), not_an_error
    assert body["error"].strip(), not_an_error
    if sdk == "anthropic":
        assert result["is_error"] is True, f"{what}: the tool_result block needs is_error: true"
    return body["error"]


# --------------------------------------------------------------------------- task 4


@pytest.mark.parametrize("sdk", SDKS)
@lab_test(points=1, number="4.1")
def test_tools_offered_on_every_request(learner, fake_llm, shop_copy, sdk, lab_seed):
    rng = random.Random(lab_seed)
    customer_id, _ = pick(shop_copy, rng)
    fake_llm.script(
        reply.tool_call("get_customer", {"customer_id": customer_id}), reply.text("Done.")
    )
    ask(learner, sdk, shop_copy, f"Who is {customer_id}?")
    definitions = json.loads(json.dumps(learner.import_module("shop_tools").tool_definitions()))
    sent = sdk_bodies(fake_llm, sdk)
    assert len(sent) == 2, f"expected 2 model calls (tool call, answer), saw {len(sent)}"
    for n, body in enumerate(sent, 1):
        tools = body.get("tools")
        not_four = f"request {n} must offer the 4 tools, it sent tools={json.dumps(tools)[:200]}"
        assert isinstance(tools, list), not_four
        assert len(tools) == 4, not_four
        for tool, definition in zip(tools, definitions, strict=True):
            if sdk == "openai":
                not_openai = (
                    "an OpenAI tool is {'type': 'function', 'function': {...}}, got "
                    + json.dumps(tool)[:160]
                )
                assert tool.get("type") == "function", not_openai
                assert isinstance(tool.get("function"), dict), not_openai
                fn = tool["function"]
                got = (
                    fn.get("name"),
                    fn.get("description"),
                    fn.get("parameters"),
                    fn.get("strict"),
                )
            else:
                not_anthropic = (
                    "an Anthropic tool is {name, description, input_schema}, got "
                    + json.dumps(tool)[:160]
                )
                assert "function" not in tool, not_anthropic
                assert "type" not in tool, not_anthropic
                got = (tool.get("name"), tool.get("description"), tool.get("input_schema"), True)
            want = (definition["name"], definition["description"], definition["parameters"], True)
            assert got == want, (
                f"request {n}: tool {definition['name']} sent as {json.dumps(tool)[:300]}"
            )
            Draft202012Validator.check_schema(got[2])
    assert [
        t.get("name") or t.get("function", {}).get("name") for t in sent[0]["tools"]
    ] == TOOL_NAMES


# --------------------------------------------------------------------------- task 5


@pytest.mark.parametrize("sdk", SDKS)
@lab_test(points=2, number="5.1")
def test_tool_result_paired_to_its_call(learner, fake_llm, shop_copy, sdk, lab_seed):
    rng = random.Random(lab_seed)
    customer_id, _ = pick(shop_copy, rng)
    cid = call_id(sdk, rng)
    final = f"Customer {customer_id} is on file (answer {rng.randrange(10**6)})."
    fake_llm.script(
        reply.tool_call("get_customer", {"customer_id": customer_id}, id=cid), reply.text(final)
    )
    question = f"Where does customer {customer_id} live?"
    result = ask(learner, sdk, shop_copy, question)

    sent = sdk_bodies(fake_llm, sdk)
    assert len(sent) == 2, f"expected 2 model calls (tool call, then answer), saw {len(sent)}"
    first_user = next(m for m in sent[0]["messages"] if m["role"] == "user")
    assert question in content_text(first_user["content"]), (
        "the first request must carry the user's question"
    )
    if sdk == "openai":
        assert sent[0]["messages"][0]["role"] == "system", "OpenAI: the system prompt comes first"
    else:
        assert sent[0].get("system"), (
            "Anthropic: send the system prompt as the top-level system field"
        )
    assert echoed_calls(sent[1], sdk) == [(cid, "get_customer")], (
        f"the assistant turn sent back should carry the call ({cid}, get_customer), "
        f"got {echoed_calls(sent[1], sdk)}"
    )
    results = sent_results(sent[1], sdk)
    assert [r["id"] for r in results] == [cid], (
        f"expected one result for id {cid}, got ids {[r['id'] for r in results]}"
    )
    want = support.Oracle(shop_copy).customers[customer_id]
    assert_same(decoded(results[0]), want, "the get_customer result")
    if sdk == "anthropic":
        assert results[0]["is_error"] in (False, None), (
            "a successful tool_result must not have is_error: true"
        )
    check_answer(result, final, 2, True)
    assert [(r.call_id, r.name) for r in result.tool_calls] == [(cid, "get_customer")], (
        "Answer.tool_calls should record the one call made"
    )


@pytest.mark.parametrize("sdk", SDKS)
@lab_test(points=3, number="5.2")
def test_parallel_tool_calls(learner, fake_llm, shop_copy, sdk, lab_seed):
    customer_id, skus, ids = draw(shop_copy, sdk, lab_seed, calls=4)
    fake_llm.script(
        reply.tool_calls(
            reply.call("get_product", {"sku": skus[0]}, id=ids[0]),
            reply.call("list_orders", {"customer_id": customer_id, "status": None}, id=ids[1]),
            reply.call("get_product", {"sku": skus[1]}, id=ids[2]),
            reply.call("get_product", {"sku": skus[2]}, id=ids[3]),
        ),
        reply.text("Here is everything."),
    )
    result = ask(
        learner, sdk, shop_copy, f"Show {customer_id}'s orders and products {', '.join(skus)}."
    )

    sent = sdk_bodies(fake_llm, sdk)
    assert len(sent) == 2, (
        f"4 parallel calls need ONE follow-up request, saw {len(sent)} model calls in all"
    )
    results = sent_results(sent[1], sdk)
    assert [r["id"] for r in results] == ids, (
        f"expected results for ids {ids} in that order, got {[r['id'] for r in results]}"
    )
    oracle = support.Oracle(shop_copy)
    expected = [
        oracle.products[skus[0]],
        oracle.orders_of(customer_id),
        oracle.products[skus[1]],
        oracle.products[skus[2]],
    ]
    for r, want in zip(results, expected, strict=True):
        assert_same(decoded(r), want, f"the result for {r['id']}", abs_tol=1e-6)
    assert [c[0] for c in echoed_calls(sent[1], sdk)] == ids, (
        "the assistant turn must be sent back with all 4 calls"
    )
    check_answer(result, "Here is everything.", 2, True)


@pytest.mark.parametrize("sdk", SDKS)
@lab_test(points=2, number="5.3")
def test_bad_arguments_go_back_as_tool_errors(learner, fake_llm, shop_copy, sdk, lab_seed):
    customer_id, skus, ids = draw(shop_copy, sdk, lab_seed, calls=3)
    if sdk == "openai":
        broken = reply.call(
            "get_customer", '{"customer_id": "' + customer_id, id=ids[0]
        )  # invalid JSON
    else:
        broken = reply.call(
            "get_customer", {"id": customer_id}, id=ids[0]
        )  # required field missing
    fake_llm.script(
        reply.tool_calls(broken, reply.call("get_product", {"sku": 101}, id=ids[1])),
        reply.tool_call("get_product", {"sku": skus[0]}, id=ids[2]),
        reply.text("Recovered."),
    )
    result = ask(learner, sdk, shop_copy, f"Who is {customer_id}?")

    sent = sdk_bodies(fake_llm, sdk)
    assert len(sent) == 3, (
        f"expected 3 model calls (2 bad calls, a good one, the answer), saw {len(sent)}"
    )
    first = sent_results(sent[1], sdk)
    assert [r["id"] for r in first] == ids[:2], (
        f"both bad calls need a result, paired by id; got {[r['id'] for r in first]}"
    )
    assert_error_result(first[0], sdk, "get_customer with broken arguments")
    assert_error_result(first[1], sdk, "get_product with a number for sku")
    second = sent_results(sent[2], sdk)
    assert [r["id"] for r in second] == [ids[2]], (
        f"the corrected call {ids[2]} needs its result, got ids {[r['id'] for r in second]}"
    )
    want = support.Oracle(shop_copy).products[skus[0]]
    assert_same(decoded(second[0]), want, "the corrected call's result", abs_tol=1e-6)
    if sdk == "anthropic":
        assert second[0]["is_error"] in (False, None)
    check_answer(result, "Recovered.", 3, True)


@pytest.mark.parametrize("sdk", SDKS)
@lab_test(points=2, number="5.4")
def test_unknown_tool_goes_back_as_an_error(learner, fake_llm, shop_copy, sdk, lab_seed):
    customer_id, _, ids = draw(shop_copy, sdk, lab_seed, calls=2)
    fake_llm.script(
        reply.tool_call("delete_customer", {"customer_id": customer_id}, id=ids[0]),
        reply.tool_call(
            "list_orders", {"customer_id": customer_id, "status": "delivered"}, id=ids[1]
        ),
        reply.text("I can only read orders."),
    )
    result = ask(learner, sdk, shop_copy, f"Delete {customer_id} and show the orders.")
    sent = sdk_bodies(fake_llm, sdk)
    assert len(sent) == 3, f"expected 3 model calls, saw {len(sent)}"
    (bad,) = sent_results(sent[1], sdk)
    assert bad["id"] == ids[0], f"the error must be paired to id {ids[0]}, got {bad['id']}"
    message = assert_error_result(bad, sdk, "a call to the unknown tool delete_customer")
    assert "delete_customer" in message, f"the error should name the unknown tool, got {message!r}"
    (good,) = sent_results(sent[2], sdk)
    assert good["id"] == ids[1], f"the list_orders result must be paired to {ids[1]}"
    oracle = support.Oracle(shop_copy)
    want = oracle.orders_of(customer_id, "delivered")
    assert_same(decoded(good), want, "the list_orders result", abs_tol=1e-6)
    assert customer_id in oracle.customers, "delete_customer must not have done anything"
    check_answer(result, "I can only read orders.", 3, True)


@pytest.mark.parametrize("sdk", SDKS)
@lab_test(points=2, number="5.5")
def test_model_calls_are_capped(learner, fake_llm, shop_copy, sdk, lab_seed):
    rng = random.Random(lab_seed)
    _, skus = pick(shop_copy, rng)
    fake_llm.script(reply.tool_call("get_product", {"sku": skus[0]}), times=12)
    assistant = learner.import_module("assistant")
    result = ask(learner, sdk, shop_copy, "Loop forever, please.")
    sent = len(sdk_bodies(fake_llm, sdk))
    assert sent == 5, f"the default cap is 5 model calls; the loop made {sent}"
    check_answer(result, assistant.limit_message(5), 5, False)
    assert len(result.tool_calls) == 4, (
        "the calls of the 5th reply must not be run: their results could never reach the model; "
        f"expected 4 tool calls in Answer.tool_calls, got {len(result.tool_calls)}"
    )

    cap = rng.choice([2, 3])
    result = ask(learner, sdk, shop_copy, "Again.", max_model_calls=cap)
    sent = len(sdk_bodies(fake_llm, sdk)) - 5
    assert sent == cap, f"with max_model_calls={cap} the loop made {sent} model calls"
    check_answer(result, assistant.limit_message(cap), cap, False)


def expected_for(oracle: support.Oracle, name: str, args: dict[str, Any]) -> Any:
    """What a correct tool returns for ``args`` (computed here, independently of the learner)."""
    if name == "get_customer":
        return oracle.customers[args["customer_id"]]
    if name == "get_product":
        return oracle.products[args["sku"]]
    if name == "list_orders":
        return oracle.orders_of(args["customer_id"], args.get("status"))
    assert name == "search_products", f"the fake model called an unexpected tool {name!r}"
    return oracle.search(args["query"], args.get("max_price"))


def e2e_question(path: Path, rng: random.Random) -> tuple[str, str]:
    """A question whose words point the fake model at one tool, and that tool's name."""
    oracle = support.Oracle(path)
    delivered = sorted({o[1] for o in oracle.orders if o[2] == "delivered"})
    skus = sorted(oracle.products)
    return rng.choice(
        [
            (f"List the delivered orders of {rng.choice(delivered)}.", "list_orders"),
            (
                f'Search products for "{rng.choice(["lamp", "mug", "headphones", "socks", "kettle"])}" up to $60.',
                "search_products",
            ),
            ("Get product {} and product {} by sku.".format(*rng.sample(skus, 2)), "get_product"),
        ]
    )


@pytest.mark.parametrize("sdk", SDKS)
@lab_test(points=2, number="5.6")
def test_end_to_end_with_the_default_model(learner, fake_llm, shop_copy, sdk, lab_seed):
    question, tool = e2e_question(shop_copy, random.Random(lab_seed))
    result = ask(learner, sdk, shop_copy, question)
    sent = sdk_bodies(fake_llm, sdk)
    assert len(sent) == 2, (
        f"{question!r}: expected a tool round and an answer (2 model calls), saw {len(sent)}"
    )
    calls = echoed_calls(sent[1], sdk)
    assert calls, f"{question!r}: expected calls to {tool}, got {calls}"
    assert {name for _, name in calls} == {tool}, (
        f"{question!r}: expected calls to {tool}, got {calls}"
    )
    args = tool_arguments(sent[1], sdk)
    results = sent_results(sent[1], sdk)
    assert [r["id"] for r in results] == [i for i, _ in calls], (
        "every call needs its result, paired by id"
    )
    oracle = support.Oracle(shop_copy)
    for (_, name), arguments, r in zip(calls, args, results, strict=True):
        want = expected_for(oracle, name, arguments)
        assert_same(decoded(r), want, f"{name}({arguments})", abs_tol=1e-6)
    assert_same(result.complete, True, "Answer.complete")
    assert_same(result.model_calls, 2, "Answer.model_calls")
    assert_same(type(result.text).__name__, "str", "the type of Answer.text")
    assert result.text.startswith("Based on the tool results:"), (
        f"expected the fake model's answer, got {result.text!r}"
    )


def tool_arguments(body: dict[str, Any], sdk: str) -> list[dict[str, Any]]:
    """The arguments of the calls in the last assistant turn, as objects."""
    last = last_assistant_turn(body)
    if sdk == "openai":
        return [json.loads(c["function"]["arguments"]) for c in last["tool_calls"]]
    return [b["input"] for b in last["content"] if b.get("type") == "tool_use"]
