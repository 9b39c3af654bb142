"""Fault injection and protocol errors: retries, error classes, mid-stream errors, dropped
connections, timeouts, invalid request bodies, unknown paths."""

from __future__ import annotations

import time

import anthropic
import httpx
import httpx2
import openai
import pytest
from anthropic.types import MessageParam
from fakellm_wire import Raw, collect_anthropic_text, collect_text
from openai.types.chat import ChatCompletionMessageParam

from labkit.fakellm import FakeLLM, reply
from labkit.grading import recipes

MODEL = "fake-gpt"
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello"}]
CLAUDE_USER: list[MessageParam] = [{"role": "user", "content": "Say hello"}]
CALLS_F = {  # an assistant turn calling tool f as call_1
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ],
}


def test_openai_sdk_retries_are_journaled(fake_llm: FakeLLM) -> None:
    client = openai.OpenAI(
        base_url=fake_llm.url + "/v1", api_key="k"
    )  # the SDK's default: 2 retries
    fake_llm.script(
        reply.rate_limited(retry_after_ms=5),
        reply.rate_limited(retry_after_ms=5),
        reply.text("finally"),
    )
    resp = client.chat.completions.create(model=MODEL, messages=USER)
    assert resp.choices[0].message.content == "finally"
    attempts = fake_llm.journal.requests(path="/v1/chat/completions")
    assert [a.retry_count for a in attempts] == [0, 1, 2]
    assert [a.status for a in attempts] == [429, 429, 200]
    # Timed from the first attempt's arrival: a client's very first request in a process pays
    # one-off setup costs that have nothing to do with retries.
    elapsed = attempts[-1].monotonic - attempts[0].monotonic
    assert elapsed < 0.5, f"retries took {elapsed:.2f}s: retry-after-ms was not honoured"
    assert attempts[1].monotonic - attempts[0].monotonic >= 0.004


def test_anthropic_sdk_retries_are_journaled(fake_llm: FakeLLM) -> None:
    client = anthropic.Anthropic(base_url=fake_llm.url, api_key="k")
    fake_llm.script(
        reply.overloaded(retry_after_ms=5), reply.server_error(retry_after_ms=5), reply.text("ok")
    )
    client.messages.create(model=MODEL, max_tokens=10, messages=USER)  # type: ignore[arg-type]
    attempts = fake_llm.journal.requests(path="/v1/messages")
    assert attempts[-1].monotonic - attempts[0].monotonic < 0.5
    assert [(a.retry_count, a.status) for a in attempts] == [(0, 529), (1, 500), (2, 200)]


def test_retry_headers_decide(fake_llm: FakeLLM) -> None:
    client = openai.OpenAI(base_url=fake_llm.url + "/v1", api_key="k")
    fake_llm.script(reply.error(500, "do not retry me", should_retry=False))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=MODEL, messages=USER)
    assert fake_llm.journal.count() == 1
    fake_llm.reset()
    fake_llm.script(
        reply.error(400, "retry me anyway", should_retry=True, retry_after=0.005), reply.text("ok")
    )
    client.chat.completions.create(model=MODEL, messages=USER)
    assert [e.status for e in fake_llm.journal] == [400, 200]


def test_openai_error_classes(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    """The SDK raises, for each status the fake sends, the class the graders' ``status_error``
    recipe builds: the recipe's status table is checked against the real SDK here."""
    for status in (400, 401, 403, 404, 409, 418, 422, 429, 500, 503):
        fake_llm.script(reply.error(status, f"scripted {status}", code="my_code"))
        with pytest.raises(openai.APIStatusError) as info:
            oai.chat.completions.create(model=MODEL, messages=USER)
        assert type(info.value) is type(recipes.status_error(status)), status
        err = info.value
        assert err.status_code == status
        assert f"scripted {status}" in err.message
        assert err.code == "my_code"
        assert err.request_id is not None
        assert err.request_id.startswith("req_")


def test_custom_error_body_and_headers(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    fake_llm.script(reply.error(418, body={"detail": "I'm a teapot"}, headers={"x-custom": "yes"}))
    with pytest.raises(openai.APIStatusError) as info:
        oai.chat.completions.create(model=MODEL, messages=USER)
    assert info.value.status_code == 418
    assert info.value.body == {"detail": "I'm a teapot"}
    assert info.value.response.headers["x-custom"] == "yes"


def test_openai_mid_stream_error_raises_api_error(fake_llm: FakeLLM) -> None:
    client = openai.OpenAI(base_url=fake_llm.url + "/v1", api_key="k")  # retries on: must not retry
    fake_llm.script(reply.stream_error("alpha beta gamma delta", after=2, message="boom"))
    received: list[str] = []
    with pytest.raises(openai.APIError, match="boom"):
        collect_text(
            client.chat.completions.create(model=MODEL, messages=USER, stream=True), received
        )
    assert "".join(received) == "alpha beta"
    assert fake_llm.journal.count() == 1


def test_responses_mid_stream_error_raises(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    fake_llm.script(reply.stream_error("some words here", after=1, message="kaput"))
    with pytest.raises(openai.APIError, match="kaput"):
        for _ in oai.responses.create(model=MODEL, input="hi", stream=True):
            pass


def test_stream_error_on_a_plain_request_is_a_500(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    fake_llm.script(reply.stream_error("x", message="failed plainly"))
    with pytest.raises(openai.InternalServerError, match="failed plainly"):
        oai.chat.completions.create(model=MODEL, messages=USER)


def test_dropped_connection_plain(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    fake_llm.script(reply.dropped("never complete"))
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model=MODEL, messages=USER)
    entry = fake_llm.journal.last()
    assert entry.dropped
    assert entry.status == 200


def test_dropped_connection_is_retried_by_the_sdk(fake_llm: FakeLLM) -> None:
    client = anthropic.Anthropic(base_url=fake_llm.url, api_key="k")
    fake_llm.script(reply.dropped("lost"), reply.text("second time lucky"))
    msg = client.messages.create(model=MODEL, max_tokens=10, messages=USER)  # type: ignore[arg-type]
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "second time lucky"
    assert [e.dropped for e in fake_llm.journal] == [True, False]


def test_dropped_connection_mid_stream(
    fake_llm: FakeLLM, oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    fake_llm.script(reply.dropped("one two three four", after=2))
    received: list[str] = []
    with pytest.raises((openai.APIConnectionError, httpx.HTTPError)):
        collect_text(oai.chat.completions.create(model=MODEL, messages=USER, stream=True), received)
    assert "".join(received) == "one two"
    fake_llm.script(reply.dropped("one two three four", after=1))
    with pytest.raises((anthropic.APIConnectionError, httpx2.HTTPError)):
        collect_anthropic_text(
            claude.messages.stream(model=MODEL, max_tokens=50, messages=CLAUDE_USER), []
        )


def test_slow_reply_trips_the_client_timeout(fake_llm: FakeLLM) -> None:
    client = openai.OpenAI(base_url=fake_llm.url + "/v1", api_key="k", max_retries=0, timeout=0.05)
    fake_llm.script(reply.slow(0.3, "too late"))
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model=MODEL, messages=USER)


def test_stream_delay_spaces_the_chunks(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    fake_llm.stream_delay = 0.01
    fake_llm.script(reply.text("a b c d e"))
    times = []
    for chunk in oai.chat.completions.create(model=MODEL, messages=USER, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            times.append(time.monotonic())
    assert len(times) == 5
    assert times[-1] - times[0] >= 0.035


def test_lazy_text_stream(
    fake_llm: FakeLLM, oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    def tokens():
        yield from ["Lazy", " tokens", " arrive"]

    fake_llm.script(reply.lazy(tokens()))
    stream = oai.chat.completions.create(
        model=MODEL, messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ] == ["Lazy", " tokens", " arrive"]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3
    fake_llm.script(reply.lazy(tokens()))
    msg = claude.messages.create(model=MODEL, max_tokens=10, messages=CLAUDE_USER)
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "Lazy tokens arrive"


def test_lazy_stream_can_report_its_finish_reason(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    class CutOff:
        """A model stream that ran into its token limit (says so once exhausted)."""

        finish_reason: str | None = None

        def __iter__(self):
            yield from ["one", " two"]
            self.finish_reason = "length"

    fake_llm.script(reply.lazy(CutOff()))
    chunks = list(oai.chat.completions.create(model=MODEL, messages=USER, stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    fake_llm.script(reply.lazy(CutOff()))
    assert (
        oai.chat.completions.create(model=MODEL, messages=USER).choices[0].finish_reason == "length"
    )


def test_client_going_away_stops_a_lazy_stream(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    produced: list[int] = []

    def endless():
        for i in range(2000):
            produced.append(i)
            yield f" t{i}"

    fake_llm.script(reply.lazy(endless()).streamed(delay=0.002))
    stream = oai.chat.completions.create(model=MODEL, messages=USER, stream=True)
    for n, _ in enumerate(stream):
        if n == 3:
            break
    stream.close()
    time.sleep(0.1)
    seen = len(produced)
    time.sleep(0.1)
    assert len(produced) == seen < 500, "the server kept generating for a client that left"


OPENAI_INVALID = [
    ({"messages": USER}, "model"),
    ({"model": MODEL}, "messages"),
    ({"model": MODEL, "messages": "hello"}, "messages"),
    ({"model": MODEL, "messages": []}, "messages"),
    ({"model": MODEL, "messages": [{"content": "x"}]}, "messages[0].role"),
    ({"model": MODEL, "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"model": MODEL, "messages": [{"role": "user"}]}, "messages[0].content"),
    (
        {
            "model": MODEL,
            "messages": [
                *USER,
                CALLS_F,
                {"role": "tool", "content": "42"},
            ],
        },
        "messages[2].tool_call_id",
    ),
    (
        {
            "model": MODEL,
            "messages": [*USER, {"role": "tool", "tool_call_id": "call_9", "content": "42"}],
        },
        "messages[1].role",
    ),
    (
        {
            "model": MODEL,
            "messages": [
                *USER,
                CALLS_F,
                *USER,
            ],
        },
        "messages[1].role",
    ),
    ({"model": MODEL, "messages": USER, "tool_choice": "required"}, "tool_choice"),
    ({"model": MODEL, "messages": USER, "response_format": {"type": "json_object"}}, "messages"),
    (
        {
            "model": MODEL,
            "messages": USER,
            "response_format": {"type": "json_schema", "json_schema": {"schema": {}}},
        },
        "response_format.json_schema.name",
    ),
    (
        {"model": MODEL, "messages": USER, "stream_options": {"include_usage": True}},
        "stream_options",
    ),
    ({"model": MODEL, "messages": USER, "temperature": 3}, "temperature"),
    ({"model": MODEL, "messages": USER, "max_tokens": 0}, "max_tokens"),
    (
        {
            "model": MODEL,
            "messages": USER,
            "tools": [{"type": "function", "function": {"name": "bad name!"}}],
        },
        "tools[0].function.name",
    ),
]


@pytest.mark.parametrize(("body", "param"), OPENAI_INVALID, ids=[p for _, p in OPENAI_INVALID])
def test_openai_invalid_bodies_name_the_field(raw: Raw, body: dict, param: str) -> None:
    resp = raw.openai("/v1/chat/completions", body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param, error


def test_openai_sdk_sees_bad_request_with_param(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(
            model=MODEL,
            messages=[*USER, {"role": "tool", "tool_call_id": "call_x", "content": "1"}],
        )
    assert info.value.param == "messages[1].role"
    assert "must be a response to a preceeding message with 'tool_calls'" in info.value.message


def test_non_json_body_and_missing_key(raw: Raw) -> None:
    resp = raw.openai("/v1/chat/completions", b"{not json")
    assert resp.status_code == 400
    assert "could not parse the JSON body" in resp.json()["error"]["message"]
    resp = raw.client.post("/v1/chat/completions", json={"model": MODEL, "messages": USER})
    assert resp.status_code == 401
    assert "API key" in resp.json()["error"]["message"]


def test_unknown_path_in_each_providers_shape(raw: Raw) -> None:
    resp = raw.openai("/v1/nope", {})
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "Invalid URL (POST /v1/nope)"
    resp = raw.anthropic("/v1/nope", {})
    assert resp.status_code == 404
    assert resp.json()["type"] == "error"
    assert resp.json()["error"]["type"] == "not_found_error"
