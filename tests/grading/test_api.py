"""The lab-test author's API (lab_test, assert_same, PartialCredit) and the result channel."""

from __future__ import annotations

import json
import os

import pytest

from labkit.grading import PartialCredit, assert_same, lab_test, same
from labkit.grading.channel import ChannelReader, ChannelWriter
from labkit.grading.spec import clean_text


class AlwaysEqual:
    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


class SneakyInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


def test_assert_same_rejects_objects_that_fake_equality() -> None:
    for fake in (AlwaysEqual(), SneakyInt(0)):
        assert fake == 5  # what a naive `assert result == 5` would accept
        with pytest.raises(AssertionError, match=r"add\(2, 3\) is an? \w+, expected an int"):
            assert_same(fake, 5, "add(2, 3)")
    with pytest.raises(AssertionError):
        assert_same([1, AlwaysEqual()], [1, 2], "pair")
    with pytest.raises(AssertionError):
        assert_same({"a": AlwaysEqual()}, {"a": 1}, "mapping")


def test_assert_same_messages_say_what_was_expected() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_same(6, 5, "add(2, 3)")
    assert str(caught.value) == "add(2, 3) was 6, expected 5"
    with pytest.raises(AssertionError, match=r"scores\[1\] was 3, expected 4"):
        assert_same([1, 3], [1, 4], "scores")
    with pytest.raises(AssertionError, match="missing keys"):
        assert_same({"a": 1}, {"a": 1, "b": 2}, "counts")


def test_same_accepts_equal_builtins_and_tolerances() -> None:
    assert same({"a": [1, 2.0, "x"], "b": (None, True)}, {"a": [1, 2.0, "x"], "b": (None, True)})
    assert same(2, 2.0)  # an int where a float is expected is a fine answer
    assert not same(2.0, 2)
    assert same(0.1 + 0.2, 0.3, rel_tol=1e-9)
    assert not same(0.1 + 0.2, 0.3)
    assert not same(True, 1)


def test_partial_credit_is_clipped_to_the_tests_points() -> None:
    credit = PartialCredit(4)
    credit.award(1)
    credit.award_fraction(0.5)
    assert credit.points == 3
    credit.award(10)
    assert credit.points == 4
    credit.award(-10)
    assert credit.points == 0
    with pytest.raises(TypeError):
        credit.award("1")  # type: ignore[arg-type]


def test_lab_test_validates_its_arguments() -> None:
    @lab_test(points=2, number="1.1")
    def test_x() -> None: ...

    mark = test_x.pytestmark[0]  # type: ignore[attr-defined]
    assert mark.name == "lab_test"
    assert mark.kwargs == {"points": 2.0, "number": "1.1", "visibility": "visible", "name": None}
    with pytest.raises(TypeError, match="points"):
        lab_test(points=-1, number="1")
    # the hint lives in hints.toml now; the old keyword says where to put it, ready to paste
    with pytest.raises(TypeError, match=r'hints.toml beside the test file: add "1" = \["Add\."\]'):
        lab_test(points=1, number="1", hint="Add.")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="visibility"):
        lab_test(points=1, number="1", visibility="secret")  # type: ignore[arg-type]


def test_channel_accepts_only_tokened_in_sequence_messages() -> None:
    read_fd, write_fd = os.pipe()
    writer = ChannelWriter(write_fd, "tok123")
    writer.send("collected", tests=[])
    os.write(write_fd, b"===== 5 passed =====\n")
    os.write(write_fd, json.dumps({"tok": "guess", "seq": 1, "kind": "result"}).encode() + b"\n")
    writer.send("start", id="t1")
    writer.close()
    reader = ChannelReader("tok123")
    data = b""
    while chunk := os.read(read_fd, 4096):
        data += chunk
    os.close(read_fd)
    messages = reader.feed(data)
    assert [(m.seq, m.kind) for m in messages] == [(0, "collected"), (1, "start")]
    assert reader.stray == 2
    assert not reader.out_of_sequence
    forged = json.dumps({"tok": "tok123", "seq": 7, "kind": "result"}).encode() + b"\n"
    assert reader.feed(forged) == []
    assert reader.out_of_sequence


def test_clean_text_removes_addresses_and_caps_length() -> None:
    assert clean_text("<function f at 0x7f3a2b>", 100) == "<function f>"
    long = "a" * 5000
    cut = clean_text(long, 1000)
    assert len(cut) < 1100
    assert "characters cut" in cut
