"""The fixture lab ``ask``: learner code reaches the fake provider (``fake_llm``) under the guard,
and nothing else on loopback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from labkit.grading.manifest import LabManifest, load_manifest
from labkit.grading.runner import GradeOptions, grade

pytest.importorskip("labkit.testing")


@pytest.fixture(scope="module")
def ask(course: Path) -> LabManifest:
    return load_manifest(course / "graders" / "ask" / "lab.toml")


def test_reference_reaches_the_fake_provider_and_starter_fails(
    ask: LabManifest, course: Path
) -> None:
    good = grade(ask, course / "solutions" / "ask", GradeOptions(mode="learner"))
    assert good.score == good.max_score == 4, [(t.meta.number, t.reason) for t in good.tests]
    assert all(not t.blocked for t in good.tests)
    starter = grade(ask, course / "labs" / "ask", GradeOptions(mode="learner"))
    assert starter.score == 0


def test_only_the_fake_providers_port_is_reachable(
    ask: LabManifest, course: Path, tmp_path: Path
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    sub = tmp_path / "sub"
    sub.mkdir()
    reference = (course / "solutions" / "ask" / "ask.py").read_text()
    sneaky = (
        "\n\nimport socket as _socket\n\n_real_ask = ask\n\n\ndef ask(question):\n"
        f"    try:\n        _socket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'hi')\n"
        "    except OSError:\n        pass\n    return _real_ask(question)\n"
    )
    (sub / "ask.py").write_text(reference + sneaky)
    try:
        result = grade(ask, sub, GradeOptions(mode="instructor"))
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    assert result.score == 4  # the fake provider answered...
    blocked = [b for t in result.tests for b in t.blocked]
    assert blocked
    assert all(f"127.0.0.1:{port}" in b for b in blocked)  # ...the listener did not
