"""chat-03, task 3: our own retry loop (SDK retries off), backoff with jitter, retry-after, timeouts.

Every wait goes through the ``sleep`` the test injects, so the tests know exactly what was waited;
where timing matters the recorder really sleeps and the gaps are also measured between the
requests in the fake provider's journal. Randomness comes from ``random.Random(lab_seed)``.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from typing import Any

import openai
import pytest
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)
from support import CHAT

from labkit import config
from labkit.fakellm import reply
from labkit.grading import assert_same, lab_test, make

TOLERANCE = 0.003  # seconds: clock granularity between the test and the server thread


class Sleeper:
    """Records every requested wait; really sleeps only when ``real`` (for journal timings)."""

    def __init__(self, real: bool = False) -> None:
        self.real = real
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.real:
            time.sleep(min(seconds, 0.5))  # a wrong unit (ms as s) should fail fast, not hang


def _row(seed: int) -> dict[str, Any]:
    return random.Random(seed).choice(support.ROWS)


def _policy(learner: Any, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "max_attempts": 4,
        "base_delay": 0.01,
        "max_delay": 0.04,
        "timeout": 5.0,
    }
    values.update(overrides)
    return learner.import_module("retry").RetryPolicy(**values)


def _ping(client: Any) -> Any:
    """One chat request, the way any caller of call_with_retries would make it (built in the
    worker, around the client the learner's make_client returned)."""
    return make.chat_call(client, config.chat_model())


def _status_error(status: int, headers: dict[str, str] | None = None) -> Any:
    """The OpenAI SDK's exception for an HTTP status (built in the worker: it holds a response)."""
    return make.status_error(status, headers or {})


def _assert_no_sdk_retries(entries: list[Any]) -> None:
    counts = [e.retry_count for e in entries]
    assert all(c == 0 for c in counts), (
        "every request should be a first attempt for the SDK (x-stainless-retry-count 0): build "
        f"the client with max_retries=0 and retry yourself; saw retry counts {counts}"
    )


def _gaps(entries: list[Any]) -> list[float]:
    return [b.monotonic - a.monotonic for a, b in itertools.pairwise(entries)]


@lab_test(points=2, number="3.1")
def test_backoff_delay_grows_with_jitter(learner: Any, lab_seed: int) -> None:
    """backoff_delay doubles, is capped, and has jitter."""
    retry = learner.import_module("retry")
    base = 0.01 + (lab_seed % 7) / 1000
    policy = _policy(learner, base_delay=base, max_delay=base * 16)
    rng = random.Random(lab_seed)
    backoff_delay = retry.backoff_delay  # one handle: each attribute read is a round trip
    for n in range(7):
        ceiling = min(policy.max_delay, base * 2**n)
        samples = [backoff_delay(n, policy, rng) for _ in range(300)]
        assert all(type(s) in (float, int) for s in samples), "backoff_delay must return a number"
        low, high = min(samples), max(samples)
        assert low >= 0, (
            f"retry {n}: delays must lie in [0, min(max_delay, base_delay*2**{n})] = [0, {ceiling:.4f}]; "
            f"saw [{low:.4f}, {high:.4f}]"
        )
        assert high <= ceiling + 1e-12, (
            f"retry {n}: delays must lie in [0, min(max_delay, base_delay*2**{n})] = [0, {ceiling:.4f}]; "
            f"saw [{low:.4f}, {high:.4f}]"
        )
        assert high >= 0.8 * ceiling, (
            f"retry {n}: the delay should reach up to the ceiling {ceiling:.4f}; the largest of 300 was {high:.4f}"
        )
        assert high - low >= 0.25 * ceiling, (
            f"retry {n}: no jitter: 300 delays all lie in [{low:.4f}, {high:.4f}]"
        )
    seq_a = [
        backoff_delay(n % 4, policy, rng) for rng in [random.Random(lab_seed)] for n in range(12)
    ]
    seq_b = [
        backoff_delay(n % 4, policy, rng) for rng in [random.Random(lab_seed)] for n in range(12)
    ]
    assert seq_a == seq_b, (
        "two rngs with the same seed must give the same delays: draw randomness only from the "
        f"rng argument; got {seq_a[:3]}... and {seq_b[:3]}..."
    )


@lab_test(points=1, number="3.2")
def test_retry_after_seconds_reads_the_headers(learner: Any, lab_seed: int) -> None:
    """retry_after_seconds reads retry-after-ms and retry-after."""
    retry = learner.import_module("retry")
    ms = 20 + lab_seed % 80
    seconds = 1 + lab_seed % 5
    # An exception, or a recipe (make.*) the worker builds one from.
    cases: list[tuple[str, Any, float | None]] = [
        (
            f"429 with retry-after-ms: {ms}",
            _status_error(429, {"retry-after-ms": str(ms)}),
            ms / 1000,
        ),
        (
            f"503 with retry-after: {seconds}",
            _status_error(503, {"retry-after": str(seconds)}),
            float(seconds),
        ),
        (
            f"429 with retry-after-ms: {ms} and retry-after: {seconds}",
            _status_error(429, {"retry-after-ms": str(ms), "retry-after": str(seconds)}),
            ms / 1000,
        ),
        ("500 without headers", _status_error(500), None),
        ("a connection error", make.connection_error(), None),
        ("a ValueError", ValueError("not an HTTP error"), None),
    ]
    for label, error, expected in cases:
        got = retry.retry_after_seconds(error)
        if expected is None:
            assert got is None, f"{label}: expected None, got {got!r}"
        else:
            assert type(got) in (float, int), f"{label}: expected {expected} seconds, got {got!r}"
            assert got == pytest.approx(expected, abs=1e-9), (
                f"{label}: expected {expected} seconds, got {got!r}"
            )


@lab_test(points=1, number="3.3")
def test_is_retryable_classifies_errors(learner: Any) -> None:
    """is_retryable: 429, 5xx and connection errors only."""
    retry = learner.import_module("retry")
    cases: list[tuple[str, Any, bool]] = [  # exceptions, or recipes the worker builds them from
        *[(f"HTTP {s}", _status_error(s), True) for s in (408, 409, 429, 500, 502, 503, 504, 529)],
        *[(f"HTTP {s}", _status_error(s), False) for s in (400, 401, 403, 404, 422)],
        ("APIConnectionError", make.connection_error(), True),
        ("APITimeoutError", make.connection_error(timeout=True), True),
        ("ValueError", ValueError("a bug in our code"), False),
    ]
    wrong = [
        f"{label}: expected {expected}, got {got!r}"
        for label, error, expected in cases
        if (got := retry.is_retryable(error)) is not expected
    ]
    assert not wrong, "is_retryable is wrong for: " + "; ".join(wrong)


@lab_test(points=3, number="3.4")
def test_429_waits_for_retry_after(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """A 429 is retried after exactly its retry-after-ms."""
    ext = learner.import_module("extract")
    row = _row(lab_seed)
    wait_ms = 30 + lab_seed % 50
    fake_llm.script(reply.rate_limited(retry_after_ms=wait_ms), reply.text(json.dumps(row["gold"])))
    policy = _policy(learner)
    sleeper = Sleeper(real=True)
    result = ext.extract_ticket(
        row["text"],
        client=ext.make_client(policy),
        policy=policy,
        sleep=sleeper,
        rng=random.Random(lab_seed),
    )

    entries = fake_llm.journal.requests(CHAT)
    assert len(entries) == 2, f"expected 2 requests (a 429, then success); saw {len(entries)}"
    _assert_no_sdk_retries(entries)
    assert len(sleeper.calls) == 1, (
        f"expected one sleep of {wait_ms / 1000} s (retry-after-ms: {wait_ms}); sleeps were {sleeper.calls}"
    )
    assert sleeper.calls[0] == pytest.approx(wait_ms / 1000, abs=1e-6), (
        f"expected one sleep of {wait_ms / 1000} s (retry-after-ms: {wait_ms}); sleeps were {sleeper.calls}"
    )
    (gap,) = _gaps(entries)
    assert gap >= wait_ms / 1000 - TOLERANCE, (
        f"the retry came {gap * 1000:.1f} ms after the 429; the server asked for {wait_ms} ms"
    )
    assert_same(result.record.model_dump(mode="json"), row["gold"], "the record after the retry")


@lab_test(points=2, number="3.5")
def test_retry_after_seconds_are_honoured_and_capped(
    learner: Any, fake_llm: Any, lab_seed: int
) -> None:
    """A retry-after in seconds is honoured, and capped."""
    retry = learner.import_module("retry")
    ext = learner.import_module("extract")
    seconds = 1 + lab_seed % 4
    policy = _policy(learner, max_retry_after=30.0)
    fake_llm.script(reply.error(429, "slow down", retry_after=seconds), reply.text("ok"))
    sleeper = Sleeper()  # records only: nobody waits seconds in a test
    retry.call_with_retries(
        _ping(ext.make_client(policy)), policy, sleep=sleeper, rng=random.Random(lab_seed)
    )
    assert sleeper.calls == [pytest.approx(float(seconds))], (
        f"retry-after: {seconds} should give one sleep of {seconds} s; sleeps were {sleeper.calls}"
    )

    cap = 0.02 + (lab_seed % 5) / 100
    policy = _policy(learner, max_retry_after=cap)
    fake_llm.script(reply.error(503, "busy", retry_after_ms=600_000), reply.text("ok"))
    sleeper = Sleeper()
    retry.call_with_retries(
        _ping(ext.make_client(policy)), policy, sleep=sleeper, rng=random.Random(lab_seed)
    )
    assert sleeper.calls == [pytest.approx(cap)], (
        f"a server asking for 600 s should get the cap, max_retry_after={cap} s; sleeps were {sleeper.calls}"
    )
    _assert_no_sdk_retries(fake_llm.journal.requests(CHAT))


@lab_test(points=2, number="3.6")
def test_5xx_are_retried_with_backoff(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """500 and 503 are retried with jittered backoff."""
    retry = learner.import_module("retry")
    ext = learner.import_module("extract")
    policy = _policy(learner, base_delay=0.01, max_delay=0.04)
    fake_llm.script(reply.error(500), reply.error(503), reply.text("ok"))
    sleeper = Sleeper(real=True)
    completion = retry.call_with_retries(
        _ping(ext.make_client(policy)), policy, sleep=sleeper, rng=random.Random(lab_seed)
    )
    assert completion.choices[0].message.content == "ok", (
        "call_with_retries should return fn()'s result"
    )

    entries = fake_llm.journal.requests(CHAT)
    assert [e.status for e in entries] == [500, 503, 200], (
        f"expected requests answered 500, 503, 200; saw {[e.status for e in entries]}"
    )
    _assert_no_sdk_retries(entries)
    replay = random.Random(lab_seed)
    expected = [retry.backoff_delay(n, policy, replay) for n in range(2)]
    assert sleeper.calls == pytest.approx(expected, abs=1e-9), (
        f"expected sleeps backoff_delay(0..1, policy, rng) = {expected}; sleeps were {sleeper.calls}"
    )
    for n, (gap, wanted) in enumerate(zip(_gaps(entries), expected, strict=True)):
        assert gap >= wanted - TOLERANCE, (
            f"retry {n} came after {gap * 1000:.1f} ms, not after {wanted * 1000:.1f} ms"
        )


@lab_test(points=1, number="3.7")
def test_dropped_connection_is_retried(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """A dropped connection is retried."""
    retry = learner.import_module("retry")
    ext = learner.import_module("extract")
    policy = _policy(learner)
    fake_llm.script(reply.dropped('{"customer_name": "Ma'), reply.text("ok"))
    sleeper = Sleeper()
    completion = retry.call_with_retries(
        _ping(ext.make_client(policy)), policy, sleep=sleeper, rng=random.Random(lab_seed)
    )
    entries = fake_llm.journal.requests(CHAT)
    assert len(entries) == 2, (
        f"expected a dropped request, then a retry; saw {len(entries)} request(s)"
    )
    assert entries[0].dropped, (
        f"expected a dropped request, then a retry; saw {len(entries)} request(s)"
    )
    _assert_no_sdk_retries(entries)
    assert completion.choices[0].message.content == "ok", (
        "call_with_retries should return fn()'s result"
    )
    assert len(sleeper.calls) == 1, (
        f"expected one backoff sleep in [0, base_delay={policy.base_delay}]; sleeps were {sleeper.calls}"
    )
    assert 0 <= sleeper.calls[0] <= policy.base_delay + 1e-12, (
        f"expected one backoff sleep in [0, base_delay={policy.base_delay}]; sleeps were {sleeper.calls}"
    )


@lab_test(points=2, number="3.8")
def test_slow_reply_times_out_and_is_retried(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """A reply slower than the timeout is retried."""
    ext = learner.import_module("extract")
    row = _row(lab_seed + 1)
    gold = json.dumps(row["gold"])
    timeout = 0.25 + (lab_seed % 5) / 100
    slow_by = 1.5
    fake_llm.script(reply.slow(slow_by, gold), reply.text(gold))
    policy = _policy(learner, timeout=timeout)
    result = ext.extract_ticket(
        row["text"],
        client=ext.make_client(policy),
        policy=policy,
        sleep=Sleeper(),
        rng=random.Random(lab_seed),
    )
    entries = fake_llm.journal.requests(CHAT)
    assert len(entries) == 2, (
        f"expected 2 requests (one slower than the {timeout} s timeout, then a retry); saw {len(entries)}"
    )
    _assert_no_sdk_retries(entries)
    (gap,) = _gaps(entries)
    assert timeout - TOLERANCE <= gap < slow_by - 0.2, (
        f"the retry should come once the {timeout} s timeout expired; it came after {gap:.3f} s"
    )
    assert_same(result.record.model_dump(mode="json"), row["gold"], "the record after the retry")


@lab_test(points=2, number="3.9")
def test_client_errors_are_not_retried(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """400, 401 and 422 are not retried."""
    retry = learner.import_module("retry")
    ext = learner.import_module("extract")
    policy = _policy(learner)
    client = ext.make_client(policy)
    expected_types = {
        400: openai.BadRequestError,
        401: openai.AuthenticationError,
        422: openai.UnprocessableEntityError,
    }
    for status, error_type in expected_types.items():
        before = fake_llm.journal.count(CHAT)
        fake_llm.script(reply.error(status, f"grader says {status}"))  # a retry would succeed
        sleeper = Sleeper()
        with pytest.raises(Exception) as info:
            retry.call_with_retries(
                _ping(client), policy, sleep=sleeper, rng=random.Random(lab_seed)
            )
        sent = fake_llm.journal.count(CHAT) - before
        assert sent == 1, (
            f"HTTP {status} must not be retried; saw {sent} requests and sleeps {sleeper.calls}"
        )
        assert not sleeper.calls, (
            f"HTTP {status} must not be retried; saw {sent} requests and sleeps {sleeper.calls}"
        )
        assert type(info.value) is error_type, (
            f"HTTP {status} should raise the SDK's {error_type.__name__} unchanged; got {type(info.value).__name__}"
        )


@lab_test(points=2, number="3.10")
def test_gives_up_after_max_attempts(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """Gives up after max_attempts with RetriesExhaustedError."""
    retry = learner.import_module("retry")
    ext = learner.import_module("extract")
    attempts = 2 + lab_seed % 3
    policy = _policy(learner, max_attempts=attempts, base_delay=0.001, max_delay=0.002)
    fake_llm.script(reply.error(503, "down for maintenance"), times=attempts + 3)
    sleeper = Sleeper()
    with pytest.raises(retry.RetriesExhaustedError) as info:
        retry.call_with_retries(
            _ping(ext.make_client(policy)), policy, sleep=sleeper, rng=random.Random(lab_seed)
        )
    entries = fake_llm.journal.requests(CHAT)
    assert len(entries) == attempts, (
        f"max_attempts={attempts}: expected {attempts} requests; saw {len(entries)}"
    )
    _assert_no_sdk_retries(entries)
    assert len(sleeper.calls) == attempts - 1, (
        f"{attempts} attempts need {attempts - 1} waits between them; sleeps were {sleeper.calls}"
    )
    exc = info.value
    assert exc.attempts == attempts, (
        f"RetriesExhaustedError.attempts={exc.attempts!r}, expected {attempts}"
    )
    assert isinstance(exc.last_error, openai.APIStatusError), (
        f"RetriesExhaustedError.last_error should be the last 503; got {exc.last_error!r}"
    )
    assert exc.last_error.status_code == 503, (
        f"RetriesExhaustedError.last_error should be the last 503; got {exc.last_error!r}"
    )
