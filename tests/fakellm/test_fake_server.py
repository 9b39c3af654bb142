"""The controller, the journal, the HTTP control endpoints, ``labkit serve`` and the pytest plugin."""

from __future__ import annotations

import json
import os
import signal
import threading

import httpx
import openai
import pytest
from fakellm_wire import Raw
from openai.types.chat import ChatCompletionMessageParam

from labkit import config
from labkit.cli import main as labkit_main
from labkit.errors import LabkitError
from labkit.fakellm import ChatRequest, FakeLLM, Reply, reply
from labkit.fakellm.cli import serve_process
from labkit.fakellm.types import RequestError

MODEL = "fake-gpt"
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def test_fixture_points_labkit_config_at_the_fake(fake_llm: FakeLLM) -> None:
    assert os.environ["LABKIT_PROVIDER"] == "fake"
    assert os.environ["LABKIT_BASE_URL"] == fake_llm.url
    assert fake_llm.env() == {"LABKIT_PROVIDER": "fake", "LABKIT_BASE_URL": fake_llm.url}
    assert fake_llm.url == f"http://127.0.0.1:{fake_llm.port}"
    assert config.openai_client().base_url == f"{fake_llm.url}/v1/"
    assert len(fake_llm.journal) == 0
    assert fake_llm.pending == []


def test_fixture_registered_the_port_with_the_grader_guard(fake_llm: FakeLLM) -> None:
    guard = pytest.importorskip("labkit.grading.guard")
    assert fake_llm.port in guard.allowed_ports()


def test_port_in_use_is_a_one_line_labkit_error(
    fake_llm: FakeLLM, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(LabkitError) as info:
        FakeLLM().start(port=fake_llm.port)
    message = str(info.value)
    assert (
        message
        == f"port {fake_llm.port} is already in use: choose another with PORT=... (make serve) or --port"
    )
    assert labkit_main(["serve", "--port", str(fake_llm.port)]) == 2
    assert capsys.readouterr().err.strip() == f"labkit: {message}"


def test_start_stop_and_context_manager() -> None:
    bound: list[int] = []
    with FakeLLM(stream_delay=0.001) as fake:
        assert fake.running
        assert fake.stream_delay == 0.001
        second = FakeLLM().start(on_bound=bound.append)
        try:
            assert bound == [second.port]
            assert second.port != fake.port
            assert httpx.get(second.url + "/__labkit/status").json()["pending_replies"] == 0
        finally:
            second.stop()
        port = fake.port
    assert not fake.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/__labkit/status", timeout=1)


def test_journal_helpers(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    with pytest.raises(LookupError, match="received no request to /v1/chat/completions"):
        fake_llm.journal.last(path="/v1/chat/completions")
    oai.chat.completions.create(model=MODEL, messages=USER)
    oai.models.list()
    journal = fake_llm.journal
    assert len(journal) == 2
    assert journal.count("/v1/models") == 1
    assert journal.count("/chat/completions") == 1
    entry = journal.last(path="/v1/chat/completions")
    assert entry.method == "POST"
    assert entry.status == 200
    assert entry.retry_count == 0
    assert entry.headers["authorization"].startswith("Bearer ")
    assert entry.body == {"model": MODEL, "messages": USER}
    assert entry.time > 1e9
    assert entry.monotonic > 0
    assert journal.bodies("/v1/chat/completions") == [entry.body]
    assert [e.seq for e in journal] == [1, 2]
    assert journal[0] is entry
    with pytest.raises(LookupError, match="it saw: POST /v1/chat/completions, GET /v1/models"):
        journal.last(path="/v1/embeddings")
    journal.clear()
    assert len(journal) == 0


def test_invalid_requests_are_journaled_too(fake_llm: FakeLLM, raw: Raw) -> None:
    raw.openai("/v1/chat/completions", b"not json at all")
    entry = fake_llm.journal.last()
    assert entry.status == 400
    assert entry.body is None
    assert entry.raw_body == "not json at all"


def test_http_control_endpoints(fake_llm: FakeLLM, raw: Raw, oai: openai.OpenAI) -> None:
    script = {
        "replies": [
            {"text": "from the script"},
            {"tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}]},
            {"error": {"status": 429, "message": "busy", "headers": {"retry-after-ms": "1"}}},
        ],
        "times": 1,
    }
    resp = raw.client.post("/__labkit/script", json=script)
    assert resp.json() == {"queued": 3, "pending": 3}
    assert (
        oai.chat.completions.create(model=MODEL, messages=USER).choices[0].message.content
        == "from the script"
    )
    calls = (
        oai.chat.completions.create(model=MODEL, messages=USER).choices[0].message.tool_calls or []
    )
    assert calls[0].function.arguments == '{"q": "x"}'  # type: ignore[union-attr]  # function calls only
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(model=MODEL, messages=USER)
    entries = raw.get("/__labkit/journal").json()["entries"]
    assert [e["status"] for e in entries] == [200, 200, 429]  # control calls are not journaled
    assert entries[0]["body"]["messages"] == USER
    assert entries[0]["responder"] == "script"
    assert (
        raw.get("/__labkit/journal?path=/chat/completions").json()["entries"][0]["route"]
        == "/v1/chat/completions"
    )
    bad = raw.client.post("/__labkit/script", json={"replies": [{"txt": "typo"}]})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "txt"
    assert raw.client.post("/__labkit/reset").json() == {"ok": True}
    assert raw.get("/__labkit/journal").json() == {"entries": []}


def test_reply_json_round_trip() -> None:
    original = (
        reply.tool_calls(
            reply.call("f", '{"a": 1'), reply.call("g", {"b": 2}, id="call_x"), text="hm"
        )
        .streamed(chunk_size=3, delay=0.002)
        .only_for(api="openai")
    )
    assert Reply.from_dict(json.loads(json.dumps(original.to_dict()))) == original
    failing = reply.rate_limited(retry_after_ms=7).failing("x", after=2).dropping(3).slow(0.5)
    assert Reply.from_dict(failing.to_dict()) == failing
    with pytest.raises(RequestError):
        Reply.from_dict({"finish_reason": "done"})
    with pytest.raises(TypeError, match="takes Reply objects"):
        FakeLLM().script("just a string")  # type: ignore[arg-type]


def test_blocking_behaviours_run_off_the_event_loop(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    threads: list[str] = []

    class Slowish:  # no ``blocking = False``: must not run on the server's event loop thread
        def respond(self, request: ChatRequest) -> Reply:
            threads.append(threading.current_thread().name)
            return reply.text("from a blocking behaviour")

    fake_llm.behaviours.insert(0, Slowish())  # the fixture restores the chain afterwards
    assert not fake_llm.state.runs_inline
    text = oai.chat.completions.create(model=MODEL, messages=USER).choices[0].message.content
    assert text == "from a blocking behaviour"
    assert threads
    assert not threads[0].startswith("labkit-fakellm")
    assert fake_llm.journal.last().responder == "behaviour:Slowish"


def test_reset_restarts_ids(fake_llm: FakeLLM, oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(model=MODEL, messages=USER).id
    fake_llm.reset()
    assert oai.chat.completions.create(model=MODEL, messages=USER).id == first


def test_labkit_serve_runs_until_ctrl_c() -> None:
    with serve_process() as (proc, url):
        assert url.startswith("http://127.0.0.1:"), url
        httpx.post(url + "/__labkit/script", json={"replies": [{"text": "served"}]})
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        assert (
            client.chat.completions.create(model=MODEL, messages=USER).choices[0].message.content
            == "served"
        )
        assert len(httpx.get(url + "/__labkit/journal").json()["entries"]) == 1
        client.close()  # no keep-alive connection for the server to wait on while stopping
        proc.send_signal(signal.SIGINT)
        # generous: on a loaded CI machine, a graceful stop took longer than 10 s once
        assert proc.wait(timeout=60) == 0
        assert proc.stdout is not None
        assert "stopping" in proc.stdout.read()
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


def test_without_control_the_labkit_endpoints_are_gone() -> None:
    """While grading, the fixture starts the provider with control=False: learner code can reach
    the port, but must not reset the journal the wire checks read, or queue replies."""
    from labkit.fakellm import FakeLLM

    with FakeLLM(control=False).start() as fake:
        assert httpx.post(fake.url + "/__labkit/reset").status_code == 404
        assert httpx.get(fake.url + "/__labkit/journal").status_code == 404
        assert httpx.get(fake.url + "/v1/models").status_code != 404  # the API itself is there
