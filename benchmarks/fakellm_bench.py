"""How fast the fake provider answers, measured with the real openai/anthropic SDKs as clients.

Lab tests make hundreds of requests to the fake, and streaming labs time the gap to the first
chunk, so the fake must add almost nothing. Two setups are measured:

- ``in-process``: ``FakeLLM().start()`` in the benchmark's own process, as the ``fake_llm``
  fixture runs it (client and server share one interpreter and its GIL);
- ``labkit serve``: the server in its own process, as ``make serve`` runs it;

plus the app alone, called as ASGI without sockets, which isolates the fake's own cost from
the client library and from the operating system's scheduling of two busy processes.

Every loop is bounded (``REQUESTS``/``STREAMS``) and talks to 127.0.0.1 only. Results go to
``benchmarks/results/fakellm.md``; ``run()`` also returns them as a dict.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai

from benchmarks.machine import load_average, machine_line, percentile, utc_now
from labkit.fakellm import FakeLLM, create_app
from labkit.fakellm.cli import serve_process

RESULTS = Path(__file__).resolve().parent / "results" / "fakellm.md"
WARMUP = 20
REQUESTS = 300
STREAMS = 200
MESSAGES = [
    {"role": "system", "content": "You are Ada, a concise assistant."},
    {"role": "user", "content": "Give me one tip for writing readable Python code."},
]
AUTH = {"Authorization": "Bearer bench"}
TARGET_TTFC_P50_MS = 5.0


def _summary(latencies_s: list[float], wall_s: float) -> dict[str, float]:
    ms = [x * 1000 for x in latencies_s]
    return {
        "n": len(ms),
        "per_s": len(ms) / wall_s if wall_s > 0 else 0.0,
        "p50_ms": statistics.median(ms),
        "p99_ms": percentile(ms, 0.99),
        "mean_ms": statistics.fmean(ms),
    }


def _timed(call: Callable[[], Any], count: int) -> dict[str, float]:
    for _ in range(WARMUP):
        call()
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - t0)
    return _summary(latencies, time.perf_counter() - started)


def _ttfc(client: openai.OpenAI, count: int) -> dict[str, float]:
    """Time from the call to the first chunk, and to the end of the stream."""

    def one() -> tuple[float, float]:
        t0 = time.perf_counter()
        first = None
        for _chunk in client.chat.completions.create(
            model="fake-gpt",
            messages=MESSAGES,  # type: ignore[arg-type]  # plain dicts, as a learner sends
            stream=True,
        ):
            if first is None:
                first = time.perf_counter() - t0
        return first or 0.0, time.perf_counter() - t0

    for _ in range(WARMUP):
        one()
    firsts, totals = [], []
    started = time.perf_counter()
    for _ in range(count):
        first, total = one()
        firsts.append(first)
        totals.append(total)
    out = _summary(firsts, time.perf_counter() - started)
    out["stream_p50_ms"] = statistics.median(x * 1000 for x in totals)
    return out


def _raw_ttfc(http: httpx.Client, url: str, count: int) -> dict[str, float]:
    """Time to the first body bytes of a stream with plain httpx: what the server itself costs."""
    body = {"model": "fake-gpt", "messages": MESSAGES, "stream": True}

    def one() -> float:
        t0 = time.perf_counter()
        first = None
        with http.stream("POST", url + "/v1/chat/completions", json=body, headers=AUTH) as resp:
            for _ in resp.iter_raw():  # drained, so the connection is reused like the SDK's
                if first is None:
                    first = time.perf_counter() - t0
        return first if first is not None else time.perf_counter() - t0

    for _ in range(WARMUP):
        one()
    started = time.perf_counter()
    firsts = [one() for _ in range(count)]
    return _summary(firsts, time.perf_counter() - started)


def _asgi(count: int) -> dict[str, dict[str, float]]:
    """The app's own cost, called directly as ASGI (no sockets, no client library): time to the
    response headers for a plain request, to the first body frame for a stream."""
    app = create_app()

    async def one(stream: bool) -> float:
        body = json.dumps({"model": "fake-gpt", "messages": MESSAGES, "stream": stream}).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"authorization", b"Bearer bench"),
                (b"content-type", b"application/json"),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 2),
            "state": {},
        }
        delivered = False
        marks: list[float] = []
        t0 = time.perf_counter()

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body") and not marks:
                marks.append(time.perf_counter() - t0)

        await app(scope, receive, send)  # type: ignore[arg-type]
        return marks[0] if marks else time.perf_counter() - t0

    async def series(stream: bool) -> dict[str, float]:
        for _ in range(WARMUP):
            await one(stream)
        started = time.perf_counter()
        times = [await one(stream) for _ in range(count)]
        return _summary(times, time.perf_counter() - started)

    async def both() -> dict[str, dict[str, float]]:
        return {
            "chat (non-streaming): first body bytes": await series(False),
            "chat stream: first chunk": await series(True),
        }

    return asyncio.run(both())


def _measure(url: str) -> dict[str, dict[str, float]]:
    oai = openai.OpenAI(base_url=url + "/v1", api_key="bench", max_retries=0)
    claude = anthropic.Anthropic(base_url=url, api_key="bench", max_retries=0)
    http = httpx.Client()
    try:
        return {
            "raw httpx chat (non-streaming)": _timed(
                lambda: http.post(
                    url + "/v1/chat/completions",
                    json={"model": "fake-gpt", "messages": MESSAGES},
                    headers=AUTH,
                ),
                REQUESTS,
            ),
            "raw httpx stream: first chunk": _raw_ttfc(http, url, STREAMS),
            "openai chat (non-streaming)": _timed(
                lambda: oai.chat.completions.create(model="fake-gpt", messages=MESSAGES),  # type: ignore[arg-type]
                REQUESTS,
            ),
            "anthropic messages (non-streaming)": _timed(
                lambda: claude.messages.create(
                    model="fake-gpt",
                    max_tokens=200,
                    system=MESSAGES[0]["content"],
                    messages=MESSAGES[1:],  # type: ignore[arg-type]
                ),
                REQUESTS,
            ),
            "openai chat stream: first chunk": _ttfc(oai, STREAMS),
        }
    finally:
        oai.close()
        claude.close()
        http.close()


def run() -> dict[str, Any]:
    """Run both setups, write the markdown table, return the numbers."""
    load = load_average()
    results: dict[str, Any] = {"ASGI only": _asgi(REQUESTS)}
    with FakeLLM() as fake:
        results["in-process"] = _measure(fake.url)
    with serve_process(stderr=subprocess.DEVNULL) as (_, url):
        results["labkit serve"] = _measure(url)
    meta = {
        "openai": openai.__version__,
        "anthropic": anthropic.__version__,
        "load_1min_at_start": round(load, 2),
        "date": utc_now(),
    }
    results["meta"] = meta
    _write(results, meta)
    return results


def _write(results: dict[str, Any], meta: dict[str, Any]) -> None:
    lines = [
        "# Fake provider latency (benchmarks/fakellm_bench.py)",
        "",
        f"Clients: the real openai {meta['openai']} / anthropic {meta['anthropic']} SDKs, one request "
        f"at a time over loopback; {REQUESTS} requests ({STREAMS} streams) after {WARMUP} warm-up calls. "
        f"{machine_line(meta['load_1min_at_start'], when=meta['date'])}.",
        "",
        "| setup | measurement | req/s | p50 ms | p99 ms | mean ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for setup in ("ASGI only", "in-process", "labkit serve"):
        for name, r in results[setup].items():
            lines.append(
                f"| {setup} | {name} | {r['per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['mean_ms']:.2f} |"
            )
    lines.append("")
    server = results["ASGI only"]["chat stream: first chunk"]
    lines.append(
        f"- the fake's own time to first chunk (ASGI only): p50 {server['p50_ms']:.3f} ms, "
        f"p99 {server['p99_ms']:.3f} ms ({'meets' if server['p50_ms'] <= TARGET_TTFC_P50_MS else 'MISSES'} "
        f"the {TARGET_TTFC_P50_MS:.0f} ms target)."
    )
    for setup in ("in-process", "labkit serve"):
        ttfc = results[setup]["openai chat stream: first chunk"]
        raw = results[setup]["raw httpx stream: first chunk"]
        verdict = "meets" if ttfc["p50_ms"] <= TARGET_TTFC_P50_MS else "MISSES"
        lines.append(
            f"- {setup}: time to first chunk p50 {ttfc['p50_ms']:.2f} ms through the openai SDK "
            f"({verdict} the {TARGET_TTFC_P50_MS:.0f} ms target), {raw['p50_ms']:.2f} ms with plain "
            f"httpx; whole stream p50 {ttfc['stream_p50_ms']:.2f} ms."
        )
    lines += [
        "",
        "ASGI only: the app called directly, no sockets: what the fake itself costs. The raw-httpx",
        "rows add loopback HTTP; the difference to the SDK rows is the SDK's client-side work",
        "(request transformation, response parsing). In-process, client and server",
        "share one interpreter, so each waits for the other's GIL; under a high load average every",
        "cross-process wake-up also waits for a CPU. Re-run `make bench` on an idle machine for",
        "representative numbers.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    out = run()
    print(RESULTS.read_text(encoding="utf-8"))
