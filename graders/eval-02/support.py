"""Shared by the eval-02 tests: the request set, the tracing harness and span dicts.

Loaded by file path at collection time (pytest's importlib mode puts no test folder on sys.path;
the grader's files are deleted before learner code runs).

Learner code runs in the worker process, so the live objects these tests need are built there:

- :func:`tracing`: the span exporter lives where the spans are made. A ``SpanRecorder`` (an
  in-memory exporter, ``make.span_recorder()``) is attached to the learner's own
  ``make_tracer_provider`` (test 1.1) or to a plain SDK provider (``make.tracer_provider``, every
  later test, so their points do not hinge on task 1); the tests hand its tracer to learner
  functions as a handle, and finished spans come back only as plain dicts (``Tracing.spans()``);
- :func:`openai_client`: the SDK client, built in the worker from a recipe (``make.client``);
- the learner's ``SemanticCache``, ``ExactCache``, ``ServiceConfig`` and ``CallResult`` are made by
  calling the learner's classes: they stay in the worker and the tests hold handles (a dataclass
  comes back as a record whose fields are data); passed back to learner code, the worker gets the
  original object.

The fake provider's ``Fleet`` (and ``Fleet.served``, its record of every call) stays in the judge.
Every other argument and result is plain data (dicts, lists, numbers, strings).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labkit.fakellm.fleet import PRICES, Fleet
from labkit.grading import make
from labkit.grading.toolkit import dataset_rows

ROWS: list[dict[str, Any]] = dataset_rows("llmops", "requests.jsonl")
ORIGINALS = [r for r in ROWS if r["variant"] == "original"]
CHAT = "/v1/chat/completions"
# The models a request's calls go to, by the route the service took (made-up records use it).
ROUTE_MODELS: dict[str, list[str]] = {
    "cache": [],
    "cheap": ["fleet-small"],
    "escalated": ["fleet-small", "fleet-large"],
    "strong": ["fleet-large"],
}


@dataclass
class Tracing:
    """Handles to a tracer provider, its tracer and a span recorder, all in the worker."""

    provider: Any
    tracer: Any
    recorder: Any
    jsonl: Path | None = None

    def spans(self) -> list[dict[str, Any]]:
        """The finished spans, in end order, as dicts (``labkit.grading.spans.span_dict``)."""
        return list(self.recorder.span_dicts())

    @contextmanager
    def span(self, name: str, attributes: dict[str, Any] | None = None) -> Iterator[None]:
        """A grader span, current in the worker while the block runs: spans the learner's code
        starts meanwhile are its children."""
        self.recorder.open_span(self.tracer, name, attributes or {})
        with _cleanup(self.recorder.close_span):
            yield


@contextmanager
def _cleanup(action: Callable[[], Any]) -> Iterator[None]:
    """Run ``action`` after the block; after a failure (a timeout may have stopped the worker)
    only if it can, so the learner sees the first failure, not this one."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception, pytest.fail.Exception):
            action()
        raise
    action()


@contextmanager
def tracing(
    learner: Any, jsonl: Path | None = None, *, learners: bool = False
) -> Iterator[Tracing]:
    """A tracer provider with an in-memory exporter, and its tracer, in the worker.

    ``learners=True``: the learner's own ``make_tracer_provider(jsonl, exporters=[recorder])``
    (test 1.1 grades it); otherwise a plain SDK provider, so the later tasks do not depend on
    task 1.1 being done. The provider is shut down after the block.
    """
    recorder = learner.new(make.span_recorder())
    if learners:
        telemetry = learner.import_module("telemetry")
        provider = telemetry.make_tracer_provider(jsonl, exporters=[recorder])
        assert provider is not None, "make_tracer_provider returned None: return the provider"
    else:
        provider = learner.new(make.tracer_provider(recorder))
    with _cleanup(provider.shutdown):
        yield Tracing(provider, provider.get_tracer("grader"), recorder, jsonl)


def openai_client(learner: Any) -> Any:
    """A handle to one OpenAI client for the fake provider (labkit.config), without SDK retries,
    built in the worker."""
    return learner.new(make.client("openai", max_retries=0))


def add_fleet(fake_llm: Any, seed: int) -> Fleet:
    """A fresh fleet (empty prompt cache, no delay) first in the fake's chain."""
    fleet = Fleet(seed=seed, time_scale=0.0)
    fake_llm.behaviours.insert(0, fleet)
    return fleet


def expected_cost(model: str, prompt: int, cached: int, completion: int) -> float:
    price = PRICES[model]
    return (
        (prompt - cached) * price["input"]
        + cached * price["cached_input"]
        + completion * price["output"]
    ) / 1_000_000


def expected_cost_per_1k(records: list[dict[str, Any]], by: str) -> dict[str, float]:
    """Cost per 1,000 requests as the README defines it: by "route", what a route's requests cost
    over how many there were; by "model", what a model's calls cost (in every request) over ALL
    the requests. Used by task 2's test and by task 6's, whose summary holds both."""
    if by == "route":
        per_route: dict[str, float] = {}
        for route in {r["route"] for r in records}:
            mine = [r for r in records if r["route"] == route]
            per_route[route] = sum(r["cost_usd"] for r in mine) / len(mine) * 1000
        return per_route
    assert by == "model", f"grader bug: no cost per 1k by {by!r}"
    calls = [c for r in records for c in r["calls"]]
    return {
        model: sum(c["cost_usd"] for c in calls if c["model"] == model) / len(records) * 1000
        for model in {c["model"] for c in calls}
    }


def request_stream(seed: int, n: int) -> list[dict[str, Any]]:
    """``n`` requests drawn from the request set: distinct questions (3/8 of them hard), then a
    quarter of ``n`` asked again with different case and spacing (which an exact cache must
    serve)."""
    rng = random.Random(seed)
    distinct = n - n // 4
    hard = [r for r in ORIGINALS if r["difficulty"] == "hard"]
    easy = [r for r in ORIGINALS if r["difficulty"] == "easy"]
    picked = rng.sample(hard, distinct * 3 // 8) + rng.sample(easy, distinct - distinct * 3 // 8)
    rng.shuffle(picked)
    stream = [{"id": r["id"], "question": r["question"]} for r in picked]
    for i in range(n // 4):
        pos = rng.randrange(len(stream) // 2, len(stream) + 1)
        q = rng.choice(stream[:pos])["question"]
        variant = rng.choice([q.upper(), "  " + q.lower(), q.replace(" ", "   ") + "  "])
        stream.insert(pos, {"id": f"again-{i}", "question": variant})
    return stream


def normal(question: str) -> str:
    return " ".join(question.lower().split())
