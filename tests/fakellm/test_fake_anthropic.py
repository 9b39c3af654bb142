"""Anthropic Messages through the real anthropic SDK: plain, named-event streams, tools, tokens,
models, headers — every response shape validated strictly against the SDK's own types."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from anthropic.types import (
    Message,
    MessageParam,
    MessageTokensCount,
    ModelInfo,
    RawMessageStreamEvent,
    ToolParam,
)
from fakellm_wire import (
    WEATHER_DESCRIPTION,
    WEATHER_NAME,
    WEATHER_PARAMETERS,
    Raw,
    collect_anthropic_text,
    sse,
    strict,
    strict_union,
)
from pydantic import BaseModel

from labkit.fakellm import FakeLLM, reply

MODEL = "fake-gpt"
USER: list[MessageParam] = [{"role": "user", "content": "Say hello"}]
WEATHER: ToolParam = {
    "name": WEATHER_NAME,
    "description": WEATHER_DESCRIPTION,
    "input_schema": WEATHER_PARAMETERS,
}


def test_plain_message_and_shape(fake_llm: FakeLLM, claude: anthropic.Anthropic, raw: Raw) -> None:
    fake_llm.script(reply.text("Hello from the fake"))
    msg = claude.messages.create(
        model=MODEL, max_tokens=100, messages=USER, system="You are terse."
    )
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "Hello from the fake"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0
    assert msg.usage.output_tokens > 0
    sent = fake_llm.journal.last(path="/v1/messages")
    assert sent.body["system"] == "You are terse."
    assert sent.chat is not None
    assert sent.chat.system == "You are terse."

    fake_llm.script(reply.text("Hello from the fake"))
    resp = raw.anthropic("/v1/messages", {"model": MODEL, "max_tokens": 100, "messages": USER})
    assert resp.headers["request-id"].startswith("req_")
    strict(Message, resp.text)


def test_system_as_text_blocks(fake_llm: FakeLLM, claude: anthropic.Anthropic) -> None:
    msg = claude.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=USER,
        system=[{"type": "text", "text": "You are Zed, a poet."}],
    )
    assert msg.content[0].type == "text"
    assert msg.content[0].text.startswith("As Zed, a poet:")


def test_stream_helper_reassembles_text(fake_llm: FakeLLM, claude: anthropic.Anthropic) -> None:
    text = "Streaming works one word at a time."
    fake_llm.script(reply.text(text).streamed(delay=0.001))
    with claude.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == text
    assert len(pieces) == len(text.split())
    assert final.content[0].type == "text"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_stream_events_are_named_and_strictly_valid(fake_llm: FakeLLM, raw: Raw) -> None:
    fake_llm.script(
        reply.tool_calls(reply.call("get_weather", {"city": "Oslo"}), text="Let me check.")
    )
    body = {"model": MODEL, "max_tokens": 100, "messages": USER, "tools": [WEATHER], "stream": True}
    resp = raw.anthropic("/v1/messages", body)
    frames = sse(resp.text)
    assert all(event is not None for event, _ in frames), "every frame must be a NAMED event"
    names = [event for event, _ in frames]
    assert names[0] == "message_start"
    assert names[-1] == "message_stop"
    assert "[DONE]" not in resp.text
    events = [
        strict_union(RawMessageStreamEvent, data) for event, data in frames if event != "ping"
    ]
    for (event, _), parsed in zip([f for f in frames if f[0] != "ping"], events, strict=True):
        assert parsed.type == event
    deltas = [e.delta for e in events if e.type == "content_block_delta"]
    partial = "".join(d.partial_json for d in deltas if d.type == "input_json_delta")
    assert json.loads(partial) == {"city": "Oslo"}
    stop = next(e for e in events if e.type == "message_delta")
    assert stop.delta.stop_reason == "tool_use"


def test_tool_use_round_trip_with_the_stream_helper(
    fake_llm: FakeLLM, claude: anthropic.Anthropic
) -> None:
    fake_llm.script(
        reply.tool_calls(
            reply.call("get_weather", {"city": "Oslo"}), reply.call("get_weather", {"city": "Rome"})
        )
    )
    with claude.messages.stream(
        model=MODEL, max_tokens=100, messages=USER, tools=[WEATHER]
    ) as stream:
        final = stream.get_final_message()
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [u.input for u in uses] == [{"city": "Oslo"}, {"city": "Rome"}]
    assert final.stop_reason == "tool_use"
    follow_up: list[Any] = [  # the SDK's dumps sent back: plain JSON
        *USER,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": uses[0].id, "content": "Oslo: 4 C"},
                {
                    "type": "tool_result",
                    "tool_use_id": uses[1].id,
                    "content": [{"type": "text", "text": "Rome: 19 C"}],
                },
            ],
        },
    ]
    msg = claude.messages.create(model=MODEL, max_tokens=200, messages=follow_up, tools=[WEATHER])
    assert msg.content[0].type == "text"
    assert "Oslo: 4 C" in msg.content[0].text
    assert "Rome: 19 C" in msg.content[0].text
    request = fake_llm.journal.last().chat
    assert request is not None
    assert [r.tool_name for r in request.trailing_tool_results] == ["get_weather", "get_weather"]


def test_forced_tool_fills_the_input_schema(fake_llm: FakeLLM, claude: anthropic.Anthropic) -> None:
    tool: ToolParam = {
        "name": "record_contact",
        "description": "Save a contact",
        "input_schema": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "email": {"type": "string"},
                "age": {"type": "integer"},
            },
            "required": ["name", "email", "age"],
        },
    }
    msg = claude.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=[
            {"role": "user", "content": "Please save: Bob Stone, bob@example.com, 41 years old."}
        ],
        tools=[tool],
        tool_choice={"type": "tool", "name": "record_contact"},
    )
    block = msg.content[0]
    assert block.type == "tool_use"
    assert block.input == {"name": "Bob Stone", "email": "bob@example.com", "age": 41}


def test_structured_output_parse(fake_llm: FakeLLM, claude: anthropic.Anthropic) -> None:
    class City(BaseModel):
        city: str
        population: int

    parsed = claude.messages.parse(
        model=MODEL,
        max_tokens=200,
        messages=[{"role": "user", "content": "Tell me about Lyon, population 522,250."}],
        output_format=City,
    )
    assert parsed.parsed_output == City(city="Lyon", population=522250)


def test_truncation_is_max_tokens(fake_llm: FakeLLM, claude: anthropic.Anthropic) -> None:
    fake_llm.script(reply.truncated("cut off"))
    assert (
        claude.messages.create(model=MODEL, max_tokens=100, messages=USER).stop_reason
        == "max_tokens"
    )
    fake_llm.script(reply.text("one two three four five"))
    msg = claude.messages.create(model=MODEL, max_tokens=2, messages=USER)
    assert msg.stop_reason == "max_tokens"
    assert msg.usage.output_tokens == 2


def test_stop_sequences(fake_llm: FakeLLM, claude: anthropic.Anthropic) -> None:
    fake_llm.script(reply.text("alpha STOP beta"))
    msg = claude.messages.create(model=MODEL, max_tokens=50, messages=USER, stop_sequences=["STOP"])
    assert msg.stop_reason == "stop_sequence"
    assert msg.stop_sequence == "STOP"
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "alpha "


def test_both_auth_headers_are_accepted(fake_llm: FakeLLM, raw: Raw) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": USER}
    assert raw.anthropic("/v1/messages", body).status_code == 200
    bearer = {"x-api-key": None, "Authorization": "Bearer sk-test"}
    assert raw.anthropic("/v1/messages", body, headers=bearer).status_code == 200  # type: ignore[arg-type]  # None drops the header
    client = anthropic.Anthropic(base_url=fake_llm.url, api_key="sk-test", max_retries=0)
    client.messages.create(model=MODEL, max_tokens=10, messages=USER)
    sent = fake_llm.journal.last().headers
    assert sent["authorization"] == "Bearer sk-test"
    assert "x-api-key" not in sent
    old_style = anthropic.Anthropic(
        base_url=fake_llm.url,
        api_key="unused",
        max_retries=0,
        default_headers={"X-Api-Key": "sk-old"},
    )
    old_style.messages.create(model=MODEL, max_tokens=10, messages=USER)
    assert fake_llm.journal.last().headers["x-api-key"] == "sk-old"


def test_missing_auth_and_version_headers(fake_llm: FakeLLM, raw: Raw) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": USER}
    no_key = raw.anthropic("/v1/messages", body, headers={"x-api-key": None})  # type: ignore[dict-item]
    assert no_key.status_code == 401
    assert no_key.json()["error"]["type"] == "authentication_error"
    no_version = raw.anthropic("/v1/messages", body, headers={"anthropic-version": None})  # type: ignore[dict-item]
    assert no_version.status_code == 400
    assert no_version.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "anthropic-version: header is required",
        },
    }


def test_count_tokens_matches_message_usage(
    fake_llm: FakeLLM, claude: anthropic.Anthropic, raw: Raw
) -> None:
    messages = [{"role": "user", "content": "How many tokens is this sentence?"}]
    counted = claude.messages.count_tokens(model=MODEL, messages=messages, system="Be brief.")  # type: ignore[arg-type]
    used = claude.messages.create(model=MODEL, max_tokens=50, messages=messages, system="Be brief.")  # type: ignore[arg-type]
    assert counted.input_tokens == used.usage.input_tokens > 0
    resp = raw.anthropic("/v1/messages/count_tokens", {"model": MODEL, "messages": messages})
    strict(MessageTokensCount, resp.text)


def test_models_listing_terminates(
    fake_llm: FakeLLM, claude: anthropic.Anthropic, raw: Raw
) -> None:
    ids = [m.id for m in claude.models.list()]  # iterates every page: must stop
    assert "fake-gpt" in ids
    assert claude.models.retrieve("fake-gpt").id == "fake-gpt"
    page = raw.get(
        "/v1/models", headers={"x-api-key": "k", "anthropic-version": "2023-06-01"}
    ).json()
    assert page["has_more"] is False
    for item in page["data"]:
        strict(ModelInfo, json.dumps(item))
    with pytest.raises(anthropic.NotFoundError):
        claude.models.retrieve("no-such-model")


def test_anthropic_error_classes(fake_llm: FakeLLM, claude: anthropic.Anthropic) -> None:
    expected = {
        400: anthropic.BadRequestError,
        401: anthropic.AuthenticationError,
        403: anthropic.PermissionDeniedError,
        404: anthropic.NotFoundError,
        409: anthropic.ConflictError,
        422: anthropic.UnprocessableEntityError,
        429: anthropic.RateLimitError,
        500: anthropic.InternalServerError,
        529: anthropic.OverloadedError,
    }
    for status, cls in expected.items():
        fake_llm.script(reply.error(status, f"scripted {status}"))
        with pytest.raises(cls) as info:
            claude.messages.create(model=MODEL, max_tokens=10, messages=USER)
        assert info.value.status_code == status
        assert info.value.request_id is not None
        assert info.value.request_id.startswith("req_")
        body = info.value.body
        assert isinstance(body, dict)
        assert body["type"] == "error"
        assert body["error"]["message"] == f"scripted {status}"
    assert fake_llm.journal.last().body["max_tokens"] == 10


def test_mid_stream_error_raises_without_retry(fake_llm: FakeLLM) -> None:
    client = anthropic.Anthropic(base_url=fake_llm.url, api_key="k")  # default retries on
    fake_llm.script(reply.stream_error("partial answer here", after=2, message="Overloaded"))
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as info:
        collect_anthropic_text(
            client.messages.stream(model=MODEL, max_tokens=50, messages=USER), received
        )
    assert "overloaded_error" in str(info.value)
    assert "".join(received) == "partial answer"
    assert fake_llm.journal.count("/v1/messages") == 1


def test_invalid_bodies_name_the_field(fake_llm: FakeLLM, raw: Raw) -> None:
    cases = [
        ({"model": MODEL, "messages": USER}, "max_tokens: Field required"),
        (
            {"model": MODEL, "max_tokens": 5, "messages": "hi"},
            "messages: Input should be a valid list",
        ),
        (
            {
                "model": MODEL,
                "max_tokens": 5,
                "messages": [{"role": "system", "content": "x"}, *USER],
            },
            'Unexpected role "system"',
        ),
        (
            {
                "model": MODEL,
                "max_tokens": 5,
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x"}]}
                ],
            },
            "messages.0.content.0: unexpected `tool_use_id`",
        ),
        (
            {
                "model": MODEL,
                "max_tokens": 5,
                "messages": [
                    *USER,
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
                        ],
                    },
                    *USER,
                ],
            },
            "`tool_use` ids were found without `tool_result` blocks",
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": USER, "tools": [{"name": "f"}]},
            "tools.0.input_schema: Field required",
        ),
    ]
    for body, message in cases:
        resp = raw.anthropic("/v1/messages", body)
        assert resp.status_code == 400, body
        err = resp.json()
        assert err["type"] == "error"
        assert err["error"]["type"] == "invalid_request_error"
        assert message in err["error"]["message"], (message, err)
