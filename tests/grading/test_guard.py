"""The in-process guard, exercised in a real child process (audit hooks cannot be removed, so it
must never be installed in the test session itself)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = textwrap.dedent(
    """
    import gc, json, os, resource, signal, socket, subprocess, sys
    from labkit.grading import guard

    work, protected, other_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lab = os.path.join(work, "lab")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    allowed = listener.getsockname()[1]
    guard.configure(guard.GuardConfig(work_dir=work, protected_roots=(protected,), learner_dir=lab))
    guard.allow_loopback_port(allowed)
    guard.freeze()
    results = {}

    def attempt(name, fn):
        try:
            fn()
            results[name] = "ok"
        except guard.GuardViolation:
            results[name] = "blocked"
        except BaseException as exc:
            results[name] = "raised " + type(exc).__name__

    def fork():
        if os.fork() == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    def sandbox(env):
        done = subprocess.run(
            guard.sandbox_argv(["hello"]), env=env, cwd=lab, capture_output=True, text=True,
            timeout=30,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        results["sandbox_output"] = done.stdout.strip()

    def server_in_this_process():
        # servers started after the freeze, in this process (a lab's own), stay reachable
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=2).close()

    attempt("connect_allowed", lambda: socket.create_connection(("127.0.0.1", allowed), 2).close())
    attempt("connect_other", lambda: socket.create_connection(("127.0.0.1", other_port), 2).close())
    attempt("connect_own_server", server_in_this_process)
    attempt("dns", lambda: socket.getaddrinfo("example.com", 80))
    attempt("fork", fork)
    attempt("system", lambda: os.system("true"))
    attempt("popen", lambda: subprocess.run(["true"]))
    attempt("kill_parent", lambda: os.kill(os.getppid(), signal.SIGCONT))
    attempt("killpg", lambda: os.killpg(os.getpgid(0), signal.SIGCONT))
    attempt("pidfd", lambda: signal.pidfd_send_signal(os.pidfd_open(os.getppid()), signal.SIGCONT))
    attempt("write_inside", lambda: open(os.path.join(work, "ok.txt"), "w").close())
    attempt("write_outside", lambda: open(os.path.join(work, "..", "outside.txt"), "w").close())
    attempt("read_protected", lambda: open(os.path.join(protected, "secret.txt")).read())
    attempt("list_protected", lambda: os.listdir(protected))
    attempt("read_parent_environ", lambda: open(f"/proc/{os.getppid()}/environ", "rb").read())
    attempt("read_own_proc", lambda: open("/proc/self/status").read())
    attempt("gc_walk", gc.get_objects)
    attempt("settrace", lambda: sys.settrace(None))
    attempt("raise_rlimit", lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)))
    attempt("allow_after_freeze", lambda: guard.allow_loopback_port(other_port))
    attempt("swap_guard_code", lambda: setattr(guard.freeze, "__code__", (lambda: None).__code__))
    attempt("os_exit", lambda: os._exit(3))
    attempt("sandbox_launch", lambda: sandbox(guard.sandbox_env(os.environ)))
    attempt("sandbox_forged_policy", lambda: sandbox({**os.environ, "LABKIT_SANDBOX": "{}"}))
    print(json.dumps(results))
    """
)


def test_guard_blocks_what_learner_code_must_not_do(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "lab").mkdir(parents=True)
    (work / "lab" / "hello.py").write_text(
        "import os\ntry:\n    os.fork()\n    print('forked')\nexcept PermissionError:\n"
        "    print('fork blocked in the CLI too')\n"
    )
    protected = tmp_path / "graders"
    protected.mkdir()
    (protected / "secret.txt").write_text("expected answers")
    other = socket.socket()  # a service on this machine that submissions must not reach
    other.bind(("127.0.0.1", 0))
    other.listen()
    other.setblocking(False)
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-I",
                "-c",
                PROBE,
                str(work),
                str(protected),
                str(other.getsockname()[1]),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        results = json.loads(done.stdout.strip().splitlines()[-1])
        try:
            other.accept()
            reached = True
        except BlockingIOError:
            reached = False
    finally:
        other.close()
    assert not reached, "the guarded process reached a loopback port it was not given"
    assert results == {
        "connect_allowed": "ok",
        "connect_other": "blocked",
        "connect_own_server": "ok",
        "dns": "blocked",
        "fork": "blocked",
        "system": "blocked",
        "popen": "blocked",
        "kill_parent": "blocked",
        "killpg": "blocked",
        "pidfd": "blocked",
        "write_inside": "ok",
        "write_outside": "blocked",
        "read_protected": "blocked",
        "list_protected": "blocked",
        "read_parent_environ": "blocked",
        "read_own_proc": "ok",
        "gc_walk": "blocked",
        "settrace": "blocked",
        "raise_rlimit": "blocked",
        "allow_after_freeze": "blocked",
        "swap_guard_code": "blocked",
        "os_exit": "raised LearnerExit",
        "sandbox_launch": "ok",
        "sandbox_output": "fork blocked in the CLI too",
        "sandbox_forged_policy": "blocked",
    }
    assert not (tmp_path / "outside.txt").exists()
