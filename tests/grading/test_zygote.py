"""The zygote (grading/zygote.py): learner processes forked from a warm interpreter must behave
exactly like fresh ones — own stdio, environment, folder and exit code, nothing carried from one
run to the next — and only allow-listed packages are imported ahead."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.grading import warmup, zygote
from labkit.grading.guard import SANDBOX_MODULE


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "cli.py").write_text(
        "import os, sys\n"
        "import openai\n"
        "print('warm' if getattr(openai, 'touched', False) else 'pristine')\n"
        "openai.touched = True  # a later run must not see this\n"
        "print(os.environ.get('WHO'), os.getcwd(), sys.argv[1:], input())\n"
        "sys.exit(int(os.environ.get('CODE', '0')))\n",
        encoding="utf-8",
    )
    yield tmp_path
    zygote.stop_all()


def _run(z: zygote.Zygote, folder: Path, env: dict[str, str]) -> tuple[int, str]:
    pipes = [os.pipe() for _ in range(3)]
    child = [pipes[0][0], pipes[1][1], pipes[2][1]]
    proc = z.spawn(SANDBOX_MODULE, ["--", "cli.py", "arg"], cwd=folder, env=env, stdio=child)
    for fd in child:
        os.close(fd)
    os.write(pipes[0][1], b"typed\n")
    os.close(pipes[0][1])
    out = b""
    while chunk := os.read(pipes[1][0], 4096):
        out += chunk
    os.close(pipes[1][0])
    os.close(pipes[2][0])
    return proc.wait(10), out.decode()


def test_forked_runs_are_like_fresh_processes(folder: Path) -> None:
    z = zygote.start(folder, dict(os.environ))
    assert z.preload == ["openai"]
    env = {**os.environ, "WHO": "first", "CODE": "3"}
    code, out = _run(z, folder, env)
    assert code == 3
    assert out.splitlines() == ["pristine", f"first {folder} ['arg'] typed"]
    code, out = _run(z, folder, {**os.environ, "WHO": "second"})
    assert code == 0
    assert out.splitlines()[0] == "pristine", "a run saw what the previous run changed"
    assert "second" in out


def test_only_allow_listed_packages_are_imported_ahead(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import antigravity, openai\nfrom anthropic import Anthropic\n")
    (tmp_path / "b.py").write_text("import numpy\nfrom . import a\n")
    (tmp_path / "numpy.py").write_text("# the learner's own module shadows the package\n")
    (tmp_path / "broken.py").write_text("def (:\n")
    assert zygote.preload_for(tmp_path) == ["openai", "anthropic"]
    (tmp_path / "c.py").write_text("from labkit.tokens import count_tokens\n")
    assert zygote.preload_for(tmp_path) == ["openai", "anthropic", "labkit.tokens"]


def test_the_warm_up_runs_each_sdk_past_first_use() -> None:
    """A failed warm-up only costs speed, so nothing else would notice it broke (an SDK release
    that changed a response shape): this test does."""
    assert warmup.warm(["openai", "anthropic", "labkit.tokens", "numpy"]) == []


def test_the_worker_warm_up_of_ft_01_imports_cleanly() -> None:
    """worker_warm's warmers (ft-01: transformers, peft, scipy) only import; none may fail."""
    assert warmup.warm(["transformers", "peft", "scipy"]) == []


def test_a_dead_zygote_is_not_used(folder: Path) -> None:
    z = zygote.start(folder, dict(os.environ))
    assert zygote.shared(folder) is z
    assert z.proc is not None
    z.proc.kill()
    z.proc.wait(5)
    deadline = time.monotonic() + 5
    while zygote.shared(folder) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert zygote.shared(folder) is None  # learner processes fall back to fresh interpreters


_PROBE = (
    "import os, stat, sys, tempfile, time\n"
    "socks = [fd for fd in os.listdir('/proc/self/fd')\n"
    "         if os.path.exists(f'/proc/self/fd/{fd}') and stat.S_ISSOCK(os.stat(f'/proc/self/fd/{fd}').st_mode)]\n"
    "print(len(socks), tempfile.gettempdir() == os.environ['TMPDIR'], input())\n"
    "sys.stdout.flush()\n"
    "if len(sys.argv) > 2: time.sleep(60)\n"
)


def test_a_pooled_zygote_serves_each_run_on_its_own_channel(tmp_path: Path) -> None:
    """ZygotePool: one zygote for many grading runs. Each run's children hold no channel to the
    zygote (a learner process must never ask it to fork), see their own TMPDIR (the zygote booted
    in the pool's), report their exit to their own run only, and die when their run's channel
    closes, as they would with the judge's own zygote."""
    (tmp_path / "cli.py").write_text(_PROBE, encoding="utf-8")
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    with zygote.ZygotePool() as pool:
        first = zygote.Zygote.attach(pool.connect("lab", ["openai"], env).detach(), [])
        second = zygote.Zygote.attach(pool.connect("lab", ["openai"], env).detach(), [])
        assert len(pool._zygotes) == 1, "two runs of one lab should share one zygote"
        # a run whose files import less (a broken copy of the reference) uses it too
        pool.connect("lab", [], env).close()
        assert len(pool._zygotes) == 1
        code, out = _run(first, tmp_path, env)
        assert (code, out.split()) == (0, ["0", "True", "typed"])
        code, out = _run(second, tmp_path, env)
        assert (code, out.split()) == (0, ["0", "True", "typed"])

        # a child still running when its run's channel closes is killed with it
        pipes = [os.pipe() for _ in range(3)]
        stdio = [pipes[0][0], pipes[1][1], pipes[2][1]]
        sleeper = second.spawn(
            SANDBOX_MODULE, ["--", "cli.py", "arg", "sleep"], cwd=tmp_path, env=env, stdio=stdio
        )
        for fd in stdio:
            os.close(fd)
        os.write(pipes[0][1], b"x\n")
        assert os.read(pipes[1][0], 100).split()[0] == b"0"
        assert first.exit_code(sleeper.pid, 0.2) is None, "another run was told of this child"
        second.close()
        deadline = time.monotonic() + 10
        while _alive(sleeper.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(sleeper.pid), "the run ended but its child kept running"
        code, out = _run(first, tmp_path, env)  # the other run is unaffected
        assert code == 0
        first.close()
        for fd in (pipes[0][1], pipes[1][0], pipes[2][0]):
            os.close(fd)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_a_channel_closed_before_the_zygote_answered_falls_back_at_once() -> None:
    """A judge whose pooled zygote went away must not wait out the boot timeout (60 s) on its
    first spawn: it falls back to a fresh interpreter right away."""
    import socket

    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    theirs.close()
    z = zygote.Zygote.attach(mine.detach(), [])
    started = time.monotonic()
    with pytest.raises(zygote.ZygoteError):
        z.spawn(SANDBOX_MODULE, [], cwd=Path("/"), env={}, stdio=[0, 1, 2])
    assert time.monotonic() - started < 5
    assert not z.alive()
