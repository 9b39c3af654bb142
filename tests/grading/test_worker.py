"""The judge/worker boundary on its own: codec round trips, refused types, proxies, streaming with
arrival times, exceptions with the learner's line, callbacks, recipes, timeouts and crashes.

One worker serves the whole module (starting one costs ~0.3 s); tests that kill it restart it.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import math
import os
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
from grader_fixtures import worker_fixtures

from labkit.datasets import Document
from labkit.grading.codec import Codec, CodecError
from labkit.grading.failures import LearnerCrash, LearnerError, LearnerTimeout, is_remote_error
from labkit.grading.learner import Learner
from labkit.grading.recipes import make
from labkit.grading.remote import Record, Remote, RemoteIterator, exact_type

CODE = """
import dataclasses, enum, itertools, os, time
from pathlib import Path
from typing import NamedTuple
from labkit.datasets import Document

@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: float
    def norm(self):
        return (self.x ** 2 + self.y ** 2) ** 0.5

class Pair(NamedTuple):
    a: int
    b: str

class Colour(str, enum.Enum):
    RED = "red"

class AlwaysEqual:
    def __eq__(self, other):
        return True
    def __getattr__(self, name):
        os.environ["TOUCHED"] = name
        return 1
    def __reduce__(self):
        return (os.system, ("true",))

class SneakyDoc(Document):
    def __eq__(self, other):
        return True
    __hash__ = Document.__hash__

class ShopError(Exception):
    pass

class Session:
    def __init__(self, n):
        self.n = n
        self.history = []
    def send(self, text):
        for word in text.split():
            time.sleep(0.05)
            yield word
        self.history.append(text)

def echo(value):
    return value

COUNT = 0

def bump():
    global COUNT
    COUNT += 1
    return COUNT

def point():
    return Point(1, 2.5)

def pair():
    return Pair(1, "x")

def colour():
    return Colour.RED

def always():
    return AlwaysEqual()

def sneaky():
    return SneakyDoc(id="d", title="t", kind="policy", version="1", date="2025-01-01", text="x", path=Path("/kb/d.md"))

def doc():
    return Document(id="d", title="t", kind="policy", version="1", date="2025-01-01", text="x", path=Path("/kb/d.md"))

def fail(kind):
    if kind == "zero":
        return 1 / 0
    raise ShopError("no such customer")

def twice(f, x):
    return f(f(x))

def hang():
    while True:
        pass

def endless():
    return itertools.count()

def die():
    os.abort()

def client_type(client):
    return type(client).__module__ + "." + type(client).__name__
"""


# What mod.doc() returns, built here by the judge.
KB_DOC = Document(
    id="d",
    title="t",
    kind="policy",
    version="1",
    date="2025-01-01",
    text="x",
    path=Path("/kb/d.md"),
)

learner, mod = worker_fixtures(
    {"mod.py": CODE, "broken.py": "def f(:\n    pass\n"}, "mod", timeout=10
)


VALUES: list[Any] = [
    None,
    True,
    0,
    -(2**80),
    1.5,
    "Ünïcödé ✓",
    "half a pair: \ud800",  # not valid UTF-8: the wire falls back to json (wire.dumps)
    2**63,  # just over what orjson writes
    b"\x00\xff",
    [1, [2, "x"]],
    (1, (2.0,)),
    {"a": 1, 2: [3], (4, 5): None},
    {1, 2},
    frozenset({"x"}),
    Path("/tmp/x"),
    datetime.date(2025, 7, 1),
    datetime.datetime(2025, 7, 1, 12, 30),
    datetime.timedelta(days=1, seconds=3),
    decimal.Decimal("1.10"),
]


@pytest.mark.parametrize("value", VALUES, ids=[type(v).__name__ for v in VALUES])
def test_data_round_trips_with_exact_types(mod: Any, value: Any) -> None:
    back = mod.echo(value)
    assert back == value
    assert type(back) is type(value)


def test_a_module_function_is_looked_up_once_and_its_data_every_time(
    learner: Any, mod: Any
) -> None:
    """``mod.f(x)`` in a loop costs one round trip a call once ``mod.f`` has been read; module
    data (a counter learner code changes) is read afresh each time."""
    mod.echo(0)
    calls = learner.worker.call_count
    for value in range(5):
        assert mod.echo(value) == value
    assert learner.worker.call_count - calls == 5
    first = mod.COUNT
    mod.bump()
    assert mod.COUNT == first + 1


def test_special_floats_and_numpy_round_trip(mod: Any) -> None:
    assert math.isnan(mod.echo(float("nan")))
    assert mod.echo(float("-inf")) == float("-inf")
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    back = mod.echo(array)
    assert back.dtype == np.float32
    assert back.shape == (2, 3)
    assert (back == array).all()
    scalar = mod.echo(np.int64(7))
    assert type(scalar) is np.int64
    assert scalar == 7


def test_codec_refuses_object_arrays_and_unknown_tags() -> None:
    codec = Codec()
    with pytest.raises(CodecError):
        codec.encode(np.array([object()]))
    with pytest.raises(CodecError):
        codec.decode({"$": "pickle", "v": "gASVAAAA"})
    with pytest.raises(CodecError):
        codec.decode({"$": "nd", "dtype": "|O", "shape": [1], "v": ""})


def test_learner_dataclass_is_a_record_compared_as_data(mod: Any) -> None:
    p = mod.point()
    assert isinstance(p, Record)
    assert p.x == 1
    assert type(p.y) is float
    assert p == mod.point()
    assert p.norm() == pytest.approx(2.6925824)
    assert isinstance(p, mod.Point)
    assert exact_type(p, mod.Point)
    assert mod.pair() == (1, "x")
    assert tuple(mod.pair()) == (1, "x")
    assert mod.colour() == "red"
    assert exact_type(mod.colour(), mod.Colour)


def test_judge_contract_types_are_rebuilt_by_the_judge(mod: Any) -> None:
    doc = mod.doc()
    assert type(doc) is Document
    assert doc == KB_DOC
    assert mod.echo(doc) == doc  # and sent by value the other way


def test_always_equal_objects_and_contract_subclasses_do_not_pass(mod: Any) -> None:
    always = mod.always()
    assert isinstance(always, Remote)
    assert always != 3
    assert always != always.__class__
    assert "TOUCHED" not in os.environ  # its __getattr__ never ran here
    sneaky = mod.sneaky()
    assert type(sneaky) is not Document
    assert sneaky != dataclasses.replace(KB_DOC, id="other")


def test_learner_objects_stay_in_the_worker_and_stream(mod: Any) -> None:
    session = mod.Session(3)
    assert session.n == 3
    pieces = session.send("one two three")
    assert isinstance(pieces, RemoteIterator)
    start = time.monotonic()
    got = [(word, time.monotonic() - start) for word in pieces]
    assert [w for w, _ in got] == ["one", "two", "three"]
    assert got[-1][1] - got[0][1] >= 0.08, "items must arrive as they are yielded"
    assert len(pieces.arrivals) == 3
    assert session.history == ["one two three"]


def test_exceptions_carry_type_message_and_line(mod: Any) -> None:
    with pytest.raises(ZeroDivisionError) as info:
        mod.fail("zero")
    assert type(info.value) is ZeroDivisionError
    assert is_remote_error(info.value)
    # The worker adds `where` to the builtin exception it re-raises here.
    assert info.value.where.startswith("labs/demo/mod.py line ")  # type: ignore[attr-defined]
    with pytest.raises(mod.ShopError, match="no such customer") as shop:
        mod.fail("shop")
    assert isinstance(shop.value, LearnerError)
    assert shop.value.type_name == "ShopError"


def test_callbacks_are_called_back_with_data(mod: Any) -> None:
    seen: list[int] = []

    def double(x: int) -> int:
        seen.append(x)
        return x * 2

    assert mod.twice(double, 5) == 20
    assert seen == [5, 10]


def test_recipes_build_live_objects_in_the_worker(mod: Any) -> None:
    import sqlite3

    import openai

    assert mod.client_type(make.client("openai", max_retries=0)) == "openai.OpenAI"
    # A client built in the test (today's tests do that) is rebuilt in the worker from its settings.
    built = openai.OpenAI(api_key="x", base_url="http://127.0.0.1:9/v1", max_retries=0)
    assert mod.client_type(built) == "openai.OpenAI"
    with pytest.raises(TypeError, match="recipe"):
        mod.echo(sqlite3.connect(":memory:"))


def test_a_syntax_error_is_one_line(learner: Learner) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"labs/demo/broken.py line 1: SyntaxError"):
        learner.import_module("broken")


def test_an_endless_iterator_is_cut(mod: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import labkit.grading.remote as remote

    monkeypatch.setattr(remote, "_MAX_ITEMS", 50)
    with pytest.raises(pytest.fail.Exception, match="endless"):
        for _ in mod.endless():
            pass


def test_a_hanging_call_is_stopped_and_named(learner: Learner, mod: Any) -> None:
    learner.test_deadline = time.monotonic() + 1.5
    start = time.monotonic()
    with pytest.raises(LearnerTimeout, match=r"labs/demo/mod.py line \d+ \(in hang\)"):
        mod.hang()
    assert time.monotonic() - start < 5
    learner.test_deadline = time.monotonic() + 10
    assert mod.echo(1) == 1  # a fresh worker; the module proxy re-imports itself


def test_a_crash_is_reported_and_the_next_call_gets_a_new_worker(mod: Any) -> None:
    with pytest.raises(LearnerCrash, match="SIGABRT"):
        mod.die()
    assert mod.echo("again") == "again"


@dataclasses.dataclass
class _Local:
    x: int


class _LocalPair(NamedTuple):
    a: int


def test_test_file_types_go_as_callbacks_not_by_value(mod: Any) -> None:
    # A type defined in a test file cannot be imported by the worker: it travels as a reference.
    local = _Local(3)
    assert mod.echo(local) is local
