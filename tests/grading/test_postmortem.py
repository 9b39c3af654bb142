"""labkit.grading.postmortem: where a stuck learner process was, and how a process ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from labkit.grading.postmortem import ended, innermost_frame, read_dump


def test_a_real_dump_names_the_learners_innermost_line(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "slow.py").write_text(
        "def spin():\n    print('ready', flush=True)\n    while True:\n        pass\n"
    )
    dump_r, dump_w = os.pipe()
    script = (
        "import faulthandler, signal, sys\n"
        f"faulthandler.register(signal.SIGUSR1, file={dump_w}, all_threads=True)\n"
        f"sys.path.insert(0, {str(lab)!r})\n"
        "import slow\nslow.spin()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], pass_fds=(dump_w,), stdout=subprocess.PIPE, text=True
    )
    os.close(dump_w)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGUSR1)
        dump = read_dump(dump_r, wait=5.0)
    finally:
        proc.kill()
        proc.wait()
        os.close(dump_r)
    where = innermost_frame(dump, lab, "labs/demo")
    assert where.startswith("labs/demo/slow.py line "), dump
    assert where.endswith(" (in spin)"), dump
    assert innermost_frame(dump, tmp_path / "elsewhere", "labs/demo") == ""


def test_how_a_process_ended() -> None:
    assert ended(None) == "still running"
    assert ended(0) == "exit code 0"
    assert ended(3) == "exit code 3"
    assert ended(-signal.SIGKILL) == "killed by SIGKILL"
    assert ended(-200) == "killed by signal 200"
