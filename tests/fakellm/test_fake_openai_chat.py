"""OpenAI Chat Completions through the real openai SDK: plain, streamed, tools, structured output.

Every response shape is also validated strictly against the SDK's own types (fakellm_wire).
"""

from __future__ import annotations

import json

import openai
import pytest
from fakellm_wire import (
    WEATHER_DESCRIPTION,
    WEATHER_NAME,
    WEATHER_PARAMETERS,
    Raw,
    data_frames,
    strict,
)
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageParam,
)
from pydantic import BaseModel

from labkit.fakellm import FakeLLM, reply
from labkit.tokens import count_tokens

MODEL = "fake-gpt"
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello"}]
WEATHER_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": WEATHER_NAME,
        "description": WEATHER_DESCRIPTION,
        "parameters": WEATHER_PARAMETERS,
    },
}


def test_plain_completion_shape_and_usage(fake_llm: FakeLLM, oai: openai.OpenAI, raw: Raw) -> None:
    fake_llm.script(reply.text("Hello, world!"))
    resp = oai.chat.completions.create(model=MODEL, messages=USER)
    assert resp.choices[0].message.content == "Hello, world!"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == MODEL
    assert resp.usage is not None
    assert resp.usage.completion_tokens == count_tokens("Hello, world!")
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens

    fake_llm.script(reply.text("Hello, world!"))
    body = raw.openai("/v1/chat/completions", {"model": MODEL, "messages": USER})
    assert body.status_code == 200
    assert body.headers["x-request-id"].startswith("req_")
    strict(ChatCompletion, body.text)


def test_root_path_works_without_v1(fake_llm: FakeLLM) -> None:
    client = openai.OpenAI(base_url=fake_llm.url, api_key="sk-x", max_retries=0)
    fake_llm.script(reply.text("root ok"))
    assert (
        client.chat.completions.create(model=MODEL, messages=USER).choices[0].message.content
        == "root ok"
    )
    assert fake_llm.journal.last().path == "/chat/completions"
    # either form of the path finds it in the journal
    assert fake_llm.journal.last(path="/v1/chat/completions").path == "/chat/completions"


def test_same_request_same_response(fake_llm: FakeLLM, raw: Raw) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
    }
    first = raw.openai("/v1/chat/completions", body).json()
    fake_llm.reset()
    second = raw.openai("/v1/chat/completions", body).json()
    assert first == second


def test_streamed_text_reassembles_with_the_stream_helper(
    fake_llm: FakeLLM, oai: openai.OpenAI
) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    fake_llm.script(reply.text(text).streamed(chunk_size=4, delay=0.001))
    pieces = []
    with oai.chat.completions.stream(model=MODEL, messages=USER) as stream:
        for event in stream:
            if event.type == "content.delta" and event.delta:  # the role chunk carries ""
                pieces.append(event.delta)
        final = stream.get_final_completion()
    assert "".join(pieces) == text
    assert pieces[0] == "The "  # chunk_size=4
    assert final.choices[0].message.content == text
    assert final.choices[0].finish_reason == "stop"


def test_stream_chunks_are_strictly_valid_and_usage_comes_last(fake_llm: FakeLLM, raw: Raw) -> None:
    fake_llm.script(reply.text("one two three"))
    body = {
        "model": MODEL,
        "messages": USER,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    resp = raw.openai("/v1/chat/completions", body)
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.text.rstrip().endswith("data: [DONE]")
    chunks = [strict(ChatCompletionChunk, d) for d in data_frames(resp.text)]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "one two three"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == count_tokens("one two three")


def test_explicit_chunks_are_sent_as_given(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    fake_llm.script(reply.text("").streamed(chunks=["Hel", "lo", " there"]))
    stream = oai.chat.completions.create(model=MODEL, messages=USER, stream=True)
    deltas = [
        c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content
    ]
    assert deltas == ["Hel", "lo", " there"]


def test_parallel_tool_calls_stream_as_fragments_and_reassemble(
    fake_llm: FakeLLM, oai: openai.OpenAI, raw: Raw
) -> None:
    calls = reply.tool_calls(
        reply.call("get_weather", {"city": "Paris"}),
        reply.call("get_weather", {"city": "London"}),
    )
    fake_llm.script(calls)
    with oai.chat.completions.stream(model=MODEL, messages=USER, tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert [json.loads(c.function.arguments) for c in message.tool_calls or []] == [
        {"city": "Paris"},
        {"city": "London"},
    ]
    assert len({c.id for c in message.tool_calls or []}) == 2

    fake_llm.script(calls)
    resp = raw.openai(
        "/v1/chat/completions",
        {"model": MODEL, "messages": USER, "tools": [WEATHER_TOOL], "stream": True},
    )
    chunks = [strict(ChatCompletionChunk, d) for d in data_frames(resp.text)]
    fragments = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    openings = [f for f in fragments if f.id is not None]
    assert [f.index for f in openings] == [0, 1]
    assert all(f.type == "function" and f.function and f.function.arguments == "" for f in openings)
    later = [f for f in fragments if f.id is None]
    assert later
    assert all(f.function and f.function.name is None for f in later)
    assert len(later) > 2  # arguments really arrive in several pieces


def test_invalid_json_arguments_and_unknown_tools_pass_through(
    fake_llm: FakeLLM, oai: openai.OpenAI
) -> None:
    fake_llm.script(reply.tool_call("no_such_tool", '{"city": "Par'))
    msg = (
        oai.chat.completions.create(model=MODEL, messages=USER, tools=[WEATHER_TOOL])
        .choices[0]
        .message
    )
    assert msg.tool_calls is not None
    call = msg.tool_calls[0]
    assert call.function.name == "no_such_tool"  # type: ignore[union-attr]  # function calls only
    assert call.function.arguments == '{"city": "Par'  # type: ignore[union-attr]  # function calls only


def test_parse_returns_the_pydantic_model(fake_llm: FakeLLM, oai: openai.OpenAI, raw: Raw) -> None:
    class Invoice(BaseModel):
        customer: str
        amount: float
        paid: bool

    parsed = oai.chat.completions.parse(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": "Invoice for customer Dana Reyes: amount $120.50, not paid yet.",
            }
        ],
        response_format=Invoice,
    )
    invoice = parsed.choices[0].message.parsed
    assert isinstance(invoice, Invoice)
    assert invoice.amount == 120.5
    assert invoice.customer == "Dana Reyes"
    assert invoice.paid is False
    sent = fake_llm.journal.last(path="/v1/chat/completions").body
    assert sent["response_format"]["json_schema"]["strict"] is True
    resp = raw.openai("/v1/chat/completions", sent)
    strict(ChatCompletion, resp.text)


def test_truncation_gives_length_and_parse_raises(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    fake_llm.script(reply.truncated("This answer is cut"))
    resp = oai.chat.completions.create(model=MODEL, messages=USER)
    assert resp.choices[0].finish_reason == "length"

    class Out(BaseModel):
        answer: str

    fake_llm.script(reply.truncated('{"answer": "cut'))
    with pytest.raises(openai.LengthFinishReasonError):
        oai.chat.completions.parse(model=MODEL, messages=USER, response_format=Out)


def test_max_tokens_cuts_the_text_like_a_real_model(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    fake_llm.script(reply.text("one two three four five six seven eight"))
    resp = oai.chat.completions.create(model=MODEL, messages=USER, max_completion_tokens=3)
    assert resp.choices[0].finish_reason == "length"
    assert resp.choices[0].message.content == "one two three"
    assert resp.usage is not None
    assert resp.usage.completion_tokens == 3


def test_stop_sequence_cuts_the_text(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    fake_llm.script(reply.text("alpha beta END gamma"))
    resp = oai.chat.completions.create(model=MODEL, messages=USER, stop=["END"])
    assert resp.choices[0].message.content == "alpha beta "
    assert resp.choices[0].finish_reason == "stop"


def test_n_choices(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    fake_llm.script(reply.text("same"))
    resp = oai.chat.completions.create(model=MODEL, messages=USER, n=3)
    assert [c.index for c in resp.choices] == [0, 1, 2]
    assert {c.message.content for c in resp.choices} == {"same"}


def test_json_object_mode_fills_the_schema_in_the_prompt(
    fake_llm: FakeLLM, oai: openai.OpenAI
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["yes", "no"]},
            "score": {"type": "integer"},
        },
    }
    prompt = f"Rate this. Reply in JSON matching {json.dumps(schema)}.\nText: yes, score 4"
    resp = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": prompt}],
        response_format={"type": "json_object"},
    )
    value = json.loads(resp.choices[0].message.content or "")
    assert value == {"verdict": "yes", "score": 4}


def test_scripted_reply_can_wait_for_its_api(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    fake_llm.script(reply.text("for anthropic").only_for(api="anthropic"), reply.text("for openai"))
    assert (
        oai.chat.completions.create(model=MODEL, messages=USER).choices[0].message.content
        == "for openai"
    )
    assert [r.text for r in fake_llm.pending] == ["for anthropic"]


def test_handler_sees_the_normalised_request(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    seen = []

    @fake_llm.on
    def handler(request):
        seen.append(request)
        return reply.text(f"{len(request.messages)} messages, system={request.system!r}")

    resp = oai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        temperature=0.2,
        seed=7,
    )
    assert resp.choices[0].message.content == "1 messages, system='Be brief.'"
    request = seen[0]
    assert request.api == "openai"
    assert request.endpoint == "chat"
    assert request.temperature == 0.2
    assert request.seed == 7
    assert request.raw["messages"][0]["role"] == "developer"
    assert fake_llm.journal.last().responder == "handler"
    assert fake_llm.journal.last().chat is request


def test_handler_returning_none_falls_through_to_behaviours(
    fake_llm: FakeLLM, oai: openai.OpenAI
) -> None:
    fake_llm.on(lambda request: None)
    oai.chat.completions.create(model=MODEL, messages=USER)
    assert fake_llm.journal.last().responder == "behaviour:Conversational"


def test_handler_that_raises_is_reported_not_retried(fake_llm: FakeLLM) -> None:
    def broken(request):
        raise ValueError("oops")

    fake_llm.on(broken)
    client = openai.OpenAI(base_url=fake_llm.url + "/v1", api_key="k")  # default retries
    with pytest.raises(openai.InternalServerError, match="handler raised ValueError: oops"):
        client.chat.completions.create(model=MODEL, messages=USER)
    assert len(fake_llm.journal) == 1
