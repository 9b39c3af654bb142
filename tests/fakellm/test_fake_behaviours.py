"""The default behaviours: the documented rules lab tests rely on, end to end through the SDKs
and, for the finer rules, directly on ChatRequest objects (no server needed)."""

from __future__ import annotations

import datetime
import json
from typing import Literal

import anthropic
import openai
from openai.types.chat import ChatCompletionFunctionToolParam
from pydantic import BaseModel, Field

from labkit.fakellm import (
    ChatRequest,
    Conversational,
    ExtractiveAnswerer,
    FakeLLM,
    Message,
    SchemaFiller,
    ToolCall,
    ToolPolicy,
    ToolResult,
    ToolSpec,
)
from labkit.fakellm.conversational import persona_of
from labkit.fakellm.schema.fill import fill_schema
from labkit.fakellm.sources import find_sources
from labkit.lexical import stem

MODEL = "fake-gpt"
SOURCES = """Answer the question using only the sources below. Cite sources as [n].

[1] (shipping-policy) Standard shipping takes 3-5 business days. Express shipping takes 1 day.
[2] (returns-policy) Damaged items can be refunded within 30 days of delivery. Refunds go to
the original payment method.
[3] (warranty) Laptops have a two-year warranty.

Question: {question}"""
TOOLS: list[ChatCompletionFunctionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "get_order_status",
            "description": "Look up the shipping status of an order by its id",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": "Evaluate an arithmetic expression",
            "parameters": {
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"],
            },
        },
    },
]


def request(
    *turns: tuple[str, str], system: str = "", tools: list[ToolSpec] | None = None
) -> ChatRequest:
    """A ChatRequest from (role, text) turns."""
    return ChatRequest(
        api="openai",
        endpoint="chat",
        model=MODEL,
        system=system,
        messages=[Message(role, text) for role, text in turns],  # type: ignore[arg-type]
        tools=tools or [],
    )


# --------------------------------------------------------------------------- end to end


def test_persona_and_history_are_reflected(oai: openai.OpenAI) -> None:
    messages = [
        {
            "role": "system",
            "content": "You are Captain Byte, a cheerful robot librarian. Keep answers short.",
        },
        {"role": "user", "content": "My name is Sam."},
        {"role": "assistant", "content": "Ahoy Sam!"},
        {"role": "user", "content": "What is my name?"},
    ]
    text = oai.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content  # type: ignore[arg-type]
    assert text == (
        'As Captain Byte, a cheerful robot librarian: You said: "What is my name?". This is message 2 '
        'of our conversation; before that you said: "My name is Sam.". Your name is Sam.'
    )


def test_tool_policy_round_trip_openai(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    messages: list = [{"role": "user", "content": "Where is my order ORD-1234?"}]
    first = oai.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    call = (first.choices[0].message.tool_calls or [])[0]
    assert call.function.name == "get_order_status"  # type: ignore[union-attr]  # function calls only
    assert json.loads(call.function.arguments) == {"order_id": "ORD-1234"}  # type: ignore[union-attr]  # function calls only
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"status": "shipped"}'})
    final = oai.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    assert final.choices[0].finish_reason == "stop"
    assert (
        final.choices[0].message.content
        == 'Based on the tool results: get_order_status returned {"status": "shipped"}.'
    )
    assert [e.responder for e in fake_llm.journal] == [
        "behaviour:ToolPolicy",
        "behaviour:ToolPolicy",
    ]


def test_tool_policy_round_trip_anthropic(claude: anthropic.Anthropic) -> None:
    tools = [
        {
            "name": t["function"]["name"],
            "description": t["function"]["description"],
            "input_schema": t["function"]["parameters"],
        }
        for t in TOOLS
    ]
    messages: list = [{"role": "user", "content": "What is 17 * (3 + 4)?"}]
    first = claude.messages.create(model=MODEL, max_tokens=100, messages=messages, tools=tools)  # type: ignore[arg-type]
    use = next(b for b in first.content if b.type == "tool_use")
    assert use.name == "calculator"
    assert use.input == {"expression": "17 * (3 + 4)"}
    messages.append(
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
    )
    messages.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "119"}],
        }
    )
    final = claude.messages.create(model=MODEL, max_tokens=100, messages=messages, tools=tools)  # type: ignore[arg-type]
    assert final.stop_reason == "end_turn"
    assert final.content[0].type == "text"
    assert "calculator returned 119" in final.content[0].text


def test_parallel_calls_for_several_ids(oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Compare orders A-100 and A-200"}],
        tools=TOOLS,
    )
    calls = resp.choices[0].message.tool_calls or []
    assert [json.loads(c.function.arguments)["order_id"] for c in calls] == ["A-100", "A-200"]  # type: ignore[union-attr]  # function calls only
    single = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Compare orders A-100 and A-200"}],
        tools=TOOLS,
        parallel_tool_calls=False,
    )
    assert len(single.choices[0].message.tool_calls or []) == 1


def test_no_tool_for_small_talk_unless_required(oai: openai.OpenAI) -> None:
    chat = oai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hello!"}], tools=TOOLS
    )
    assert chat.choices[0].message.tool_calls is None
    forced = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hello!"}],
        tools=TOOLS,
        tool_choice="required",
    )
    assert forced.choices[0].finish_reason == "tool_calls"
    named = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hello!"}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "calculator"}},
    )
    assert (named.choices[0].message.tool_calls or [])[0].function.name == "calculator"  # type: ignore[union-attr]  # function calls only


def test_schema_filler_satisfies_parse(oai: openai.OpenAI) -> None:
    class Ticket(BaseModel):
        name: str
        email: str
        age: int = Field(ge=18, le=120)
        signup_date: datetime.date
        customer_id: str
        phone: str | None
        sentiment: Literal["positive", "negative", "neutral"]
        tags: list[str]
        is_urgent: bool

    text = (
        "Hi, my name is Maria Lopez, I'm 34 years old, customer C-1001, email maria@example.org. "
        "I signed up on March 3, 2024. The app keeps crashing and I hate it, this is urgent!"
    )
    parsed = oai.chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": text}], response_format=Ticket
    )
    ticket = parsed.choices[0].message.parsed
    assert ticket is not None
    assert (ticket.name, ticket.email, ticket.age) == ("Maria Lopez", "maria@example.org", 34)
    assert ticket.signup_date == datetime.date(2024, 3, 3)
    assert ticket.customer_id == "C-1001"
    assert ticket.phone is None
    assert ticket.sentiment == "negative"
    assert ticket.is_urgent is True
    assert 1 <= len(ticket.tags) <= 3


def test_extractive_answer_cites_and_refuses(oai: openai.OpenAI) -> None:
    ask = SOURCES.format(question="How long do I have to get a refund for a damaged item?")
    answer = (
        oai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": ask}])
        .choices[0]
        .message.content
    )
    assert answer == "Damaged items can be refunded within 30 days of delivery [2]."
    off_topic = SOURCES.format(question="Who is the CEO of the company?")
    refusal = (
        oai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": off_topic}])
        .choices[0]
        .message.content
    )
    assert refusal is not None
    assert "I don't know" in refusal
    assert "[" not in refusal


def test_rag_answer_as_structured_output(oai: openai.OpenAI) -> None:
    class Cited(BaseModel):
        answer: str
        citations: list[int]

    ask = SOURCES.format(question="How long does express shipping take?")
    parsed = oai.chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": ask}], response_format=Cited
    )
    cited = parsed.choices[0].message.parsed
    # The standard-shipping sentence is close in meaning (MiniLM similarity >= 0.45), so the
    # extractive answerer quotes it too.
    assert cited == Cited(
        answer="Standard shipping takes 3-5 business days [1]. Express shipping takes 1 day [1].",
        citations=[1],
    )


# --------------------------------------------------------------------------- the finer rules


def test_stemmer_rules() -> None:
    assert stem("damaged") == stem("damage") == stem("damages") == "damag"
    assert stem("refunds") == stem("refunded") == stem("refunding") == "refund"
    assert stem("shipping") == stem("ships") == "ship"
    assert stem("policies") == stem("policy") == "policy"
    assert stem("status") == "status"


def test_find_sources_formats() -> None:
    text = "Context:\n[1] (doc-a) First source.\ncontinues here.\n\nSource 2: Second source.\n[3] [doc-c] Third."
    found = find_sources(text)
    assert [(s.number, s.label, s.text) for s in found] == [
        (1, "doc-a", "First source. continues here."),
        (2, None, "Second source."),
        (3, "doc-c", "Third."),
    ]


def test_extractive_multi_sentence_and_threshold() -> None:
    system = (
        "[1] Paris is the capital of France.\n[2] The Eiffel Tower is in Paris and opened in 1889."
    )
    ans = ExtractiveAnswerer().answer(
        request(
            ("user", "When did the Eiffel Tower open, and what is the capital of France?"),
            system=system,
        )
    )
    assert ans is not None
    assert ans.citations == (1, 2)
    assert (
        ans.text
        == "Paris is the capital of France [1]. The Eiffel Tower is in Paris and opened in 1889 [2]."
    )
    weak = ExtractiveAnswerer().answer(
        request(
            ("user", "What is the population, area, climate and anthem of France?"), system=system
        )
    )
    assert weak is not None
    assert weak.citations == ()
    assert "I don't know" in weak.text
    assert ExtractiveAnswerer().respond(request(("user", "no sources here"))) is None


def test_tool_results_with_sources_are_answered_extractively() -> None:
    req = request(("user", "How long is the laptop warranty?"))
    req.messages.append(
        Message("assistant", tool_calls=(ToolCall("search", '{"query": "warranty"}', "call_1"),))
    )
    req.messages.append(
        Message(
            "tool",
            tool_results=(
                ToolResult("call_1", "[1] Laptops have a two-year warranty.", tool_name="search"),
            ),
        )
    )
    out = ToolPolicy().respond(req)
    assert out is not None
    assert out.text == "Laptops have a two-year warranty [1]."


def test_conversational_without_persona_and_with_instructions() -> None:
    assert Conversational().respond(request(("user", "hi"))).text == 'You said: "hi".'
    out = Conversational().respond(request(("user", "hi"), system="Always answer in French."))
    assert out.text == 'Following the instructions "Always answer in French.": You said: "hi".'
    assert (
        persona_of("Your name is Nova. You are a travel agent for Acme.")
        == "Nova, a travel agent for Acme"
    )


def test_schema_fill_rules() -> None:
    schema = {
        "type": "object",
        "properties": {
            "sender": {"type": "string", "format": "email"},
            "recipient": {"type": "string", "format": "email"},
            "quantity": {"type": "integer", "minimum": 1},
            "price": {"type": "number"},
            "when": {"type": "string", "format": "date-time"},
            "priority": {"type": "string", "enum": ["low", "high"]},
            "notes": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "website": {"anyOf": [{"type": "string", "format": "uri"}, {"type": "null"}]},
        },
    }
    text = "From ann@a.io to bob@b.io: order 3 chairs at $45.50 on 2024-06-01 14:30, high priority."
    value = fill_schema(schema, text)
    assert value["sender"] == "ann@a.io"
    assert value["recipient"] == "bob@b.io"
    assert value["quantity"] == 3
    assert value["price"] == 45.5
    assert value["when"] == "2024-06-01T14:30:00Z"
    assert value["priority"] == "high"
    assert isinstance(value["notes"], str)
    assert value["website"] is None
    assert fill_schema({"type": "integer", "minimum": 10, "maximum": 20}, "nothing numeric") == 10


class Node(BaseModel):
    name: str
    children: list[Node]


def test_schema_fill_recursive_and_constrained_models() -> None:
    from openai.lib._pydantic import to_strict_json_schema

    tree = fill_schema(to_strict_json_schema(Node), "A tree rooted at Oak")
    Node.model_validate(tree)
    assert tree["children"]
    assert tree["children"][0]["children"] == []

    class Event(BaseModel):
        count: int
        score: float = Field(gt=0, lt=1)
        code: str = Field(pattern=r"^[A-Z]{3}-\d{3}$")
        label: str = Field(min_length=5, max_length=8)

    value = fill_schema(to_strict_json_schema(Event), "Event ABC-123: score 0.5 across 7 items")
    event = Event.model_validate(value)
    assert (event.count, event.score, event.code) == (7, 0.5, "ABC-123")


def test_schema_filler_json_object_without_schema() -> None:
    req = request(("user", "Summarise this in JSON: the meeting moved to Friday."))
    req.response_format = "json_object"
    out = SchemaFiller().respond(req)
    assert out is not None
    assert json.loads(out.text or "") == {
        "answer": "Summarise this in JSON: the meeting moved to Friday."
    }
    req2 = request(
        ("user", 'Return JSON like {"city": "...", "temp": 0}. It is 18 degrees in Porto.')
    )
    req2.response_format = "json_object"
    out2 = SchemaFiller().respond(req2)
    assert out2 is not None
    assert json.loads(out2.text or "") == {"city": "Porto", "temp": 18}


def test_behaviours_are_deterministic() -> None:
    req = request(
        ("user", "Where is my order ORD-77?"),
        tools=[
            ToolSpec(
                "get_order_status",
                "order status",
                {"type": "object", "properties": {"order_id": {"type": "string"}}},
            )
        ],
    )
    assert ToolPolicy().respond(req) == ToolPolicy().respond(req)


def test_nullable_enum_is_null_without_evidence_and_chosen_with_it() -> None:
    """An optional filter the user never mentioned stays null, as a real model leaves it."""
    status = {"anyOf": [{"type": "string", "enum": ["pending", "shipped"]}, {"type": "null"}]}
    schema = {"type": "object", "properties": {"status": status}, "required": ["status"]}
    assert fill_schema(schema, "List the orders of C-1035.") == {"status": None}
    assert fill_schema(schema, "List the shipped orders of C-1035.") == {"status": "shipped"}
    inline = {"type": "object", "properties": {"s": {"enum": ["a", "b", None]}}, "required": ["s"]}
    assert fill_schema(inline, "nothing relevant here") == {"s": None}
