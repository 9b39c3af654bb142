"""OpenAI embeddings (the real packaged MiniLM), models and the Responses API."""

from __future__ import annotations

import json

import numpy as np
import openai
import pytest
from fakellm_wire import (
    WEATHER_DESCRIPTION,
    WEATHER_NAME,
    WEATHER_PARAMETERS,
    Raw,
    sse,
    strict,
    strict_union,
)
from openai.types import CreateEmbeddingResponse, Model
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel

from labkit.fakellm import FakeLLM, reply

MODEL = "fake-gpt"
WEATHER = {
    "type": "function",
    "name": WEATHER_NAME,
    "description": WEATHER_DESCRIPTION,
    "parameters": WEATHER_PARAMETERS,
    "strict": True,
}


def _cos(a: list[float], b: list[float]) -> float:
    va, vb = np.asarray(a), np.asarray(b)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


@pytest.mark.slow
def test_embeddings_real_model_both_encodings(
    fake_llm: FakeLLM, oai: openai.OpenAI, raw: Raw
) -> None:
    texts = [
        "How do I reset my password?",
        "What are the steps to change my login password?",
        "The giraffe is the tallest living land animal.",
    ]
    default = oai.embeddings.create(model="fake-embed-minilm", input=texts)  # SDK asks for base64
    assert fake_llm.journal.last().body["encoding_format"] == "base64"
    floats = oai.embeddings.create(model="fake-embed-minilm", input=texts, encoding_format="float")
    a, b, c = (d.embedding for d in floats.data)
    assert len(a) == 384
    assert _cos(a, b) > _cos(a, c) + 0.2, (
        "a paraphrase must score higher than an unrelated sentence"
    )
    for x, y in zip(default.data, floats.data, strict=True):
        assert np.allclose(x.embedding, y.embedding, atol=1e-6)
    assert abs(np.linalg.norm(a) - 1) < 1e-4
    assert default.usage.prompt_tokens > 0

    for fmt in ("float", "base64"):
        resp = raw.openai(
            "/v1/embeddings", {"model": "m", "input": texts[0], "encoding_format": fmt}
        )
        strict(CreateEmbeddingResponse, resp.text) if fmt == "float" else json.loads(resp.text)
    short = oai.embeddings.create(model="m", input="hello", dimensions=64, encoding_format="float")
    assert len(short.data[0].embedding) == 64
    assert abs(np.linalg.norm(short.data[0].embedding) - 1) < 1e-4


def test_embeddings_use_an_injected_embedder_and_validate() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.ones((len(texts), 384), dtype=np.float32) / np.sqrt(384)

    with FakeLLM(embed=embed).start() as fake:
        client = openai.OpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=0)
        out = client.embeddings.create(model="m", input=["a", "b"])
        assert len(out.data) == 2
        assert len(out.data[0].embedding) == 384
        assert calls == [["a", "b"]]
        with pytest.raises(openai.BadRequestError) as info:
            client.embeddings.create(model="m", input=[])
        assert info.value.param == "input"
        with pytest.raises(openai.BadRequestError) as info:
            client.embeddings.create(model="m", input="x", dimensions=1000)
        assert info.value.param == "dimensions"


def test_embeddings_can_be_scripted_to_fail(fake_llm: FakeLLM) -> None:
    client = openai.OpenAI(base_url=fake_llm.url + "/v1", api_key="k", max_retries=0)
    fake_llm.script(
        reply.error(429, "slow down").only_for(endpoint="embeddings"), reply.text("for chat")
    )
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="m", input="x")
    assert [r.text for r in fake_llm.pending] == ["for chat"]


def test_models_listing(fake_llm: FakeLLM, oai: openai.OpenAI, raw: Raw) -> None:
    ids = [m.id for m in oai.models.list()]
    assert "fake-gpt" in ids
    assert "fake-embed-minilm" in ids
    assert oai.models.retrieve("fake-gpt").id == "fake-gpt"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-17")
    body = raw.get("/v1/models", headers={"Authorization": "Bearer k"}).json()
    for item in body["data"]:
        strict(Model, json.dumps(item))
    assert raw.get("/models").status_code == 200


def test_responses_plain_and_shape(fake_llm: FakeLLM, oai: openai.OpenAI, raw: Raw) -> None:
    fake_llm.script(reply.text("Hello from Responses"))
    resp = oai.responses.create(model=MODEL, input="Say hello", instructions="Be kind.")
    assert resp.output_text == "Hello from Responses"
    assert resp.status == "completed"
    request = fake_llm.journal.last(path="/v1/responses").chat
    assert request is not None
    assert request.system == "Be kind."
    assert request.last_user_text == "Say hello"
    fake_llm.script(reply.text("Hello from Responses"))
    raw_resp = raw.openai("/v1/responses", {"model": MODEL, "input": "Say hello"})
    strict(Response, raw_resp.text)


def test_responses_function_call_round_trip(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    resp = oai.responses.create(model=MODEL, input="What's the weather in Oslo?", tools=[WEATHER])  # type: ignore[list-item]
    calls = [item for item in resp.output if item.type == "function_call"]
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Oslo"}
    follow = oai.responses.create(
        model=MODEL,
        input=[
            {"role": "user", "content": "What's the weather in Oslo?"},
            {
                "type": "function_call",
                "call_id": calls[0].call_id,
                "name": "get_weather",
                "arguments": calls[0].arguments,
            },
            {
                "type": "function_call_output",
                "call_id": calls[0].call_id,
                "output": "4 C and windy",
            },
        ],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert "4 C and windy" in follow.output_text


def test_responses_previous_response_id(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    first = oai.responses.create(model=MODEL, input="My name is Ada.")
    second = oai.responses.create(
        model=MODEL, input="What is my name?", previous_response_id=first.id
    )
    assert "Your name is Ada." in second.output_text
    with pytest.raises(openai.BadRequestError):
        oai.responses.create(model=MODEL, input="x", previous_response_id="resp_unknown")


def test_responses_streaming_events(fake_llm: FakeLLM, oai: openai.OpenAI, raw: Raw) -> None:
    fake_llm.script(reply.text("streamed response text"))
    with oai.responses.stream(model=MODEL, input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "streamed response text" == final.output_text

    fake_llm.script(reply.tool_calls(reply.call("get_weather", {"city": "Rome"}), text="Checking."))
    body = {"model": MODEL, "input": "hi", "tools": [WEATHER], "stream": True}
    frames = sse(raw.openai("/v1/responses", body).text)
    events = [strict_union(ResponseStreamEvent, data) for _, data in frames]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [name for name, _ in frames] == [e.type for e in events]
    assert events[-1].type == "response.completed"
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert json.loads(args) == {"city": "Rome"}


def test_responses_parse_and_truncation(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    class Weather(BaseModel):
        city: str
        celsius: int

    parsed = oai.responses.parse(
        model=MODEL, input="It is 21 degrees in Madrid.", text_format=Weather
    )
    assert parsed.output_parsed == Weather(city="Madrid", celsius=21)
    fake_llm.script(reply.text("one two three four five six"))
    cut = oai.responses.create(model=MODEL, input="x", max_output_tokens=16)
    assert cut.status == "completed"
    fake_llm.script(reply.truncated("cut"))
    cut = oai.responses.create(model=MODEL, input="x")
    assert cut.status == "incomplete"
    assert cut.incomplete_details is not None
    assert cut.incomplete_details.reason == "max_output_tokens"
