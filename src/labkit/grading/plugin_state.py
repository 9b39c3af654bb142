"""The judge's session state (what the plugin observed about each test) and how it is set up:
from the runner's one-shot spec pipe, or, for a lab author's plain pytest run, from the grader
folder; plus the judge's own hardening and the zygote it starts while pytest collects.

The classes keep their names ``_State`` and ``_Record``: the adversarial fixtures look for them.
"""

from __future__ import annotations

import faulthandler
import importlib
import json
import os
import platform
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from labkit.grading import guard, prctl, zygote
from labkit.grading.api import PartialCredit
from labkit.grading.channel import ChannelWriter
from labkit.grading.hints import HINTS_FILE, load_hints
from labkit.grading.learner import Learner
from labkit.grading.spec import RunSpec, TestMeta, judge_warm, worker_warm


@dataclass
class _Record:
    """What the plugin itself observed about one test."""

    meta: TestMeta
    function: Callable[..., Any] | None
    code: CodeType | None
    called: bool = False
    returned: bool = False
    failed_phase: str = ""
    reason: str = ""
    skipped: bool = False
    output: str = ""
    credit: PartialCredit | None = None
    outcome: str = ""
    stuck_at: str = ""
    started: float = 0.0
    blocked_at_start: int = 0


@dataclass
class _State:
    """Per-session plugin state; ``spec`` is None outside a grading run."""

    spec: RunSpec | None
    channel: ChannelWriter | None
    learner_dir: Path
    display_dir: str
    seed: int
    default_timeout: float
    output_limit: int
    hidden_dir: Path | None = None
    judge_warm: list[str] = field(default_factory=list)
    worker_warm: list[str] = field(default_factory=list)
    records: dict[str, _Record] = field(default_factory=dict)
    collect_errors: list[str] = field(default_factory=list)
    learner: Learner | None = None
    hints: dict[Path, dict[str, list[str]]] = field(default_factory=dict)

    def hints_of(self, folder: Path) -> dict[str, list[str]]:
        """The hints.toml of a test folder, read once per run (LabkitError if malformed)."""
        if folder not in self.hints:
            self.hints[folder] = load_hints(folder, self.hints_file_name(folder))
        return self.hints[folder]

    def hints_file_name(self, folder: Path) -> str:
        """The hints.toml of a test folder as its author knows it: the judge reads a copy of
        ``graders/<id>/`` (or of the hidden tests' folder) in the attempt folder."""
        spec = self.spec
        if spec is not None:
            for copy, original in (
                (spec.tests_dir, f"graders/{spec.lab_id}"),
                (spec.hidden_dir, "the hidden tests' folder"),
            ):
                if copy and folder.is_relative_to(copy):
                    return str(Path(original, folder.relative_to(copy), HINTS_FILE))
        return str(folder / HINTS_FILE)

    def send(self, kind: str, **payload: Any) -> None:
        if self.channel is not None:
            self.channel.send(kind, **payload)


def runner_state(config: pytest.Config, spec_fd: int) -> _State:
    """Read the spec from its one-shot pipe, open the channel, configure (not freeze) the guard."""
    chunks = []
    while True:
        piece = os.read(spec_fd, 65536)
        if not piece:
            break
        chunks.append(piece)
    os.close(spec_fd)
    spec = RunSpec.from_dict(json.loads(b"".join(chunks)))
    channel_fd = config.getoption("labkit_channel_fd")
    if channel_fd is None:
        raise pytest.UsageError("--labkit-channel-fd is required with --labkit-spec-fd")
    guard.configure(guard.GuardConfig.from_json(spec.guard))
    register_stack_dump(config.getoption("labkit_trace_fd"))
    prctl.not_dumpable()
    # platform.processor() runs `uname -p` once and caches it; SDKs (openai) ask for it, and after
    # the freeze that subprocess would be blocked (harmlessly, but noisily), so ask first.
    platform.processor()
    return _State(
        spec=spec,
        channel=ChannelWriter(channel_fd, spec.token),
        learner_dir=Path(spec.learner_dir),
        display_dir=spec.display_dir,
        seed=spec.seed,
        default_timeout=max(1.0, spec.test_timeout - 1.0),
        output_limit=spec.output_limit,
        hidden_dir=Path(spec.hidden_dir) if spec.hidden_dir else None,
        judge_warm=list(spec.judge_warm),
        worker_warm=list(spec.worker_warm),
    )


def start_zygote(config: pytest.Config, state: _State) -> None:
    """Start importing the SDKs for learner processes now, while pytest collects (zygote.py).

    Not for a collection-only run (nothing of the learner's runs), and not with
    ``LABKIT_NO_ZYGOTE=1`` (every learner process then starts a fresh interpreter, as before)."""
    collect_only = state.spec.collect_only if state.spec is not None else config.option.collectonly
    if collect_only or os.environ.get("LABKIT_NO_ZYGOTE") or not state.learner_dir.is_dir():
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    pooled = state.spec.zygote_fd if state.spec is not None else None
    try:
        warm = zygote.start(state.learner_dir, env, also=state.worker_warm, attach=pooled)
    except OSError:
        return  # learner processes start fresh interpreters instead
    # The judge needs the same SDKs (to check what went over the wire): import them while pytest
    # collects and the zygote boots. A lab's [extra] judge_warm names what else the judge will
    # need (the fake provider's MiniLM: seconds of torch import). The tests wait for it to finish
    # (pytest_runtestloop): two threads importing one package at once can see it half-initialised
    # (mcp.server.mcpserver did, in agent-02).
    # worker_warm is for learner processes only: the judge never runs the lab's recipes.
    for_judge = [name for name in warm.preload if name not in state.worker_warm]
    thread = threading.Thread(target=warm_judge, args=(for_judge, state.judge_warm), daemon=True)
    thread.start()
    WARMING.append(thread)


def warm_judge(modules: list[str], warmers: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # a broken package fails where the test imports it, with its message
            pass
    if "labkit.tokens" in modules:
        # Graders that count tokens recompute the learner's chunks (rag-01): load the tokenizer's
        # vocabulary (~0.1 s) while pytest collects, not inside the first test's time.
        from labkit.grading import warmup

        warmup.warm(["labkit.tokens"])
    if "embedder" in warmers:
        try:
            from labkit.models.embedder import get_embedder

            get_embedder().warm()
        except Exception:  # e.g. the model package is missing: the test that needs it says so
            pass


def register_stack_dump(fd: int | None) -> None:
    """On SIGUSR1, write every thread's stack to ``fd``: the runner asks for it just before it
    kills a timed-out test, to tell the learner which line of theirs was running."""
    if fd is None or not hasattr(signal, "SIGUSR1"):
        return
    faulthandler.register(signal.SIGUSR1, file=fd, all_threads=True, chain=False)


def standalone_state(config: pytest.Config) -> _State:
    """A lab author's pytest run: find the learner folder and seed from the grader folder."""
    lab_dir_opt = config.getoption("lab_dir") or os.environ.get("LABKIT_LAB_DIR")
    grader_dir = grader_dir_from_args(config)
    seed = config.getoption("lab_seed")
    if lab_dir_opt:
        lab_dir = Path(lab_dir_opt)
    elif grader_dir is not None:
        lab_dir = grader_dir.parent.parent / "labs" / grader_dir.name
    else:
        lab_dir = Path.cwd()
    timeout = 30.0
    warm: list[str] = []
    for_worker: list[str] = []
    if grader_dir is not None and (grader_dir / "lab.toml").is_file():
        from labkit.grading.manifest import load_manifest

        manifest = load_manifest(grader_dir / "lab.toml")
        timeout = max(1.0, manifest.limits.test_timeout - 1.0)
        warm = judge_warm(manifest.extra)
        for_worker = worker_warm(manifest.extra)
        if seed is None:
            seed = manifest.seed
    try:
        display = os.path.relpath(lab_dir)
    except ValueError:
        display = str(lab_dir)
    return _State(
        spec=None,
        channel=None,
        learner_dir=lab_dir.resolve(),
        display_dir=display,
        seed=seed if seed is not None else 0,
        default_timeout=timeout,
        output_limit=4096,
        judge_warm=warm,
        worker_warm=for_worker,
    )


def grader_dir_from_args(config: pytest.Config) -> Path | None:
    for arg in config.args:
        path = Path(arg.split("::", 1)[0]).resolve()
        for candidate in (path, *path.parents):
            if (candidate / "lab.toml").is_file():
                return candidate
    return None


WARMING: list[threading.Thread] = []
