"""What tracing costs per model call (lab eval-02): p50 / p99, with and without exporters.

The reference ``traced_chat`` (solutions/eval-02/llm.py) wraps one chat completion in a span with
the GenAI attributes and a cost. Its overhead is measured two ways:

- **tracing alone**: the client is a stub that returns a ready-made ``ChatCompletion`` (no network),
  so the numbers are the span, its attributes, the pricing and the export — microseconds;
- **end to end**: real SDK calls over HTTP to the in-process fake fleet (``time_scale=0``), so the
  tracing overhead can be read against what a call costs anyway.

Setups: ``untraced`` (the same work with no span), ``no exporter`` (a TracerProvider without
processors: spans are made and dropped), ``in-memory`` (SimpleSpanProcessor over
InMemorySpanExporter, as the grader uses), ``JSON lines`` (SimpleSpanProcessor over the
reference JsonLinesExporter, writing a file per span batch of one). Results go to
``benchmarks/results/tracing.md``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openai.types.chat import ChatCompletion
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from benchmarks.machine import load_average, machine_line, percentile
from labkit.fakellm import FakeLLM
from labkit.fakellm.fleet import Fleet

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "tracing.md"
SOLUTION = ROOT / "solutions" / "eval-02"
CALLS = 3000
HTTP_CALLS = 300
MESSAGES = [{"role": "user", "content": "What is 17 plus 25?"}]


def _completion() -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 0,
            "model": "fleet-small",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Answer: 42\nConfidence: 0.9"},
                }
            ],
            "usage": {
                "prompt_tokens": 1200,
                "completion_tokens": 9,
                "total_tokens": 1209,
                "prompt_tokens_details": {"cached_tokens": 1152},
            },
        }
    )


class _StubClient:
    """Quacks like ``OpenAI`` for ``chat.completions.create``: returns a canned completion."""

    def __init__(self) -> None:
        reply = _completion()
        self.chat = type("Chat", (), {})()
        self.chat.completions = type("Completions", (), {})()
        self.chat.completions.create = lambda **_kw: reply


def _time(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    for _ in range(min(100, n)):
        fn()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return percentile(samples, 0.50) * 1e6, percentile(samples, 0.99) * 1e6


def _setups(llm: Any, telemetry: Any, tmp: Path) -> dict[str, Callable[[Any], Callable[[], Any]]]:
    def untraced(client: Any) -> Callable[[], Any]:
        from costs import Usage, cost_usd

        def call() -> Any:
            reply = client.chat.completions.create(model="fleet-small", messages=MESSAGES)
            u = reply.usage
            return cost_usd("fleet-small", Usage(u.prompt_tokens, u.completion_tokens, 0))

        return call

    def traced(provider: TracerProvider) -> Callable[[Any], Callable[[], Any]]:
        tracer = provider.get_tracer("bench")
        return lambda client: lambda: llm.traced_chat(client, tracer, "fleet-small", MESSAGES)

    memory = InMemorySpanExporter()
    with_memory = TracerProvider()
    with_memory.add_span_processor(SimpleSpanProcessor(memory))
    jsonl = telemetry.make_tracer_provider(tmp / "spans.jsonl")

    def cleared(factory: Callable[[Any], Callable[[], Any]]) -> Callable[[Any], Callable[[], Any]]:
        def build(client: Any) -> Callable[[], Any]:
            inner = factory(client)

            def call() -> Any:
                result = inner()
                if len(memory.get_finished_spans()) > 1000:
                    memory.clear()
                return result

            return call

        return build

    return {
        "untraced": untraced,
        "no exporter": traced(TracerProvider()),
        "in-memory exporter": cleared(traced(with_memory)),
        "JSON lines exporter": traced(jsonl),
    }


def run() -> dict[str, dict[str, tuple[float, float]]]:
    """Measure and write the table; returns {mode: {setup: (p50 µs, p99 µs)}}."""
    sys.path.insert(0, str(SOLUTION))
    import llm  # type: ignore[import-not-found]
    import telemetry  # type: ignore[import-not-found]

    results: dict[str, dict[str, tuple[float, float]]] = {"tracing alone": {}, "end to end": {}}
    with tempfile.TemporaryDirectory() as tmp_name, FakeLLM() as fake:
        tmp = Path(tmp_name)
        setups = _setups(llm, telemetry, tmp)
        stub = _StubClient()
        for name, factory in setups.items():
            results["tracing alone"][name] = _time(factory(stub), CALLS)
        fake.behaviours.insert(0, Fleet(seed=1, time_scale=0.0))
        from openai import OpenAI

        client = OpenAI(base_url=fake.url + "/v1", api_key="bench", max_retries=0)
        for name, factory in setups.items():
            results["end to end"][name] = _time(factory(client), HTTP_CALLS)
        client.close()
    _write(results)
    return results


def _write(results: dict[str, dict[str, tuple[float, float]]]) -> None:
    lines = [
        "# Tracing overhead per model call (eval-02)",
        "",
        "`python -m benchmarks tracing`. The reference `traced_chat` (one `chat {model}` span with",
        "the GenAI attributes and a cost) per call, in microseconds. *Tracing alone* uses a stub",
        f"client that returns a ready-made completion ({CALLS} calls); *end to end* makes real SDK",
        f"calls over HTTP to the in-process fake fleet ({HTTP_CALLS} calls). Overhead = a setup",
        "minus `untraced` in the same mode.",
        "",
        f"Machine: {machine_line(load_average(), measured='when it finished')}. "
        "Measured on a SHARED machine (other engineers' test runs):",
        "p99 values in particular are noisy; rerun on a quiet machine for publishable numbers.",
        "",
        "| mode | setup | p50 µs | p99 µs | p50 overhead µs |",
        "|---|---|---:|---:|---:|",
    ]
    for mode, rows in results.items():
        base = rows["untraced"][0]
        for name, (p50, p99) in rows.items():
            overhead = "" if name == "untraced" else f"{p50 - base:+.0f}"
            lines.append(f"| {mode} | {name} | {p50:.0f} | {p99:.0f} | {overhead} |")
    lines += [
        "",
        "Reading: a span with a dozen attributes costs tens of microseconds at the median;",
        "exporting it synchronously adds a little in memory and more to a file (one",
        "open/write/close per span with `SimpleSpanProcessor`; a `BatchSpanProcessor` moves that",
        "off the request path). The p99 column is noisy on a loaded machine; in the runs so far",
        "the exporters' p99 was consistently far above the no-exporter p99 (likely garbage",
        "collection over the spans the in-memory exporter keeps, and waits on the file system;",
        "not verified on a quiet machine). Against a real model call (the fleet simulates",
        "250-1,500 ms), even the file exporter's median cost is below 0.1%.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
