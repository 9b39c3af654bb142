"""In-process defences for the grading child, installed before any learner code runs.

The grading child is a pytest process that imports the learner's modules, so learner code runs with
the child's privileges. This module narrows what that code can do, using ``sys.addaudithook``
(hooks cannot be removed once added) plus a few patches for operations CPython does not audit:

- network: ``connect``/``sendto`` only to loopback ports the grader allowed (the fake provider)
  or that a socket of this same process listens on; name lookups only for loopback names;
- processes: no ``fork``/``exec``/``system``/``posix_spawn``; ``subprocess`` only for the grader's
  own launcher of learner CLIs (:func:`sandbox_argv`), which re-applies this guard in the new process;
- signals: ``os.kill`` only to this process or its own children (so ``os.kill(os.getppid(), 9)``
  fails), never ``killpg``;
- files: writes only inside the grading work folder (and the system temp folder, which some
  libraries insist on); no reads, listings or writes of the grader's sources, hidden tests, other
  grading folders, the batch's output, or other processes' ``/proc`` entries;
- self-defence: no new audit hooks, no ``sys.settrace``/``setprofile``, no ``gc`` object walks, no
  rewriting of ``__code__``, no raising of resource limits.

Lifecycle: :func:`configure` (grading child only) records the policy; :func:`allow_loopback_port`
adds the fake provider's port; :func:`freeze` — called when learner code is first imported or run —
installs the enforcing hook with the policy baked into a closure nothing else references. After the
freeze the allow-list cannot grow. Outside a grading child (a lab author running pytest directly)
nothing is installed and these functions only record.

This is defence in depth, not a security boundary: code that uses ``ctypes`` or walks interpreter
memory can get around it. docs/THREAT-MODEL.md says what is and is not covered.

Modules: this one (the lifecycle and the public names), :mod:`.guard_policy` (the policy and the
violation error), :mod:`.guard_hook` (the enforcing hook, installed by :func:`freeze`) and
:mod:`.guard_patches` (what CPython does not audit).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from labkit.grading.guard_hook import install
from labkit.grading.guard_patches import LearnerExit
from labkit.grading.guard_policy import SANDBOX_ENV, SANDBOX_MODULE, GuardConfig, GuardViolation

__all__ = [
    "SANDBOX_ENV",
    "SANDBOX_MODULE",
    "GuardConfig",
    "GuardViolation",
    "LearnerExit",
    "allow_loopback_port",
    "allowed_ports",
    "configure",
    "current_policy",
    "freeze",
    "install_sandbox_from_env",
    "is_active",
    "is_frozen",
    "note_child",
    "sandbox_argv",
    "sandbox_env",
    "violations",
]


@dataclass
class _Registry:
    ports: set[int] = field(default_factory=set)
    config: GuardConfig | None = None
    frozen: bool = False
    frozen_config: GuardConfig | None = None
    violations: list[str] = field(default_factory=list)
    children: set[int] = field(default_factory=set)


_registry = _Registry()


# --- public API ----------------------------------------------------------------------------------


def allow_loopback_port(port: int) -> None:
    """Let learner code reach ``127.0.0.1:port`` (the fake provider calls this before it starts).

    Must be called before the freeze; afterwards it raises, because a port added after learner code
    ran could have been requested by that code. (Servers started later in this same process are
    reachable anyway: the guard allows connections to ports its own sockets listen on.)
    """
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"not a TCP port: {port!r}")
    if _registry.frozen:
        if port in allowed_ports():
            return
        raise GuardViolation(
            f"the grader's network allow-list is frozen (learner code already ran); port {port} "
            "must be allowed before learner code is imported"
        )
    _registry.ports.add(port)


def allowed_ports() -> frozenset[int]:
    """The loopback ports currently allowed (those of the frozen policy once frozen)."""
    if _registry.frozen and _registry.frozen_config is not None:
        return frozenset(_registry.frozen_config.ports)
    return frozenset(_registry.ports)


def configure(config: GuardConfig) -> None:
    """Record the policy for this grading process (the plugin calls this in runner mode only)."""
    if _registry.frozen:
        raise GuardViolation("the guard is already frozen")
    _registry.config = config
    _registry.ports.update(config.ports)


def is_active() -> bool:
    """True in a grading child (a policy was configured), False in a plain pytest session."""
    return _registry.config is not None


def is_frozen() -> bool:
    """True once the enforcing hook is installed."""
    return _registry.frozen


def violations() -> list[str]:
    """What the guard blocked so far (for the report; informational, not used for scoring)."""
    return list(_registry.violations)


def freeze() -> None:
    """Install the enforcing audit hook now (idempotent; a no-op outside a grading child)."""
    if _registry.frozen or _registry.config is None:
        return
    config = _with_ports(_registry.config)
    _registry.frozen_config = config
    _registry.frozen = True
    install(config, _registry.violations.append, _registry.children)


def current_policy() -> str | None:
    """The policy a learner process (the worker, a CLI) must apply, as JSON; None outside a
    grading run. Ports are those allowed so far (frozen: those of the frozen policy)."""
    if _registry.frozen_config is not None:
        return _registry.frozen_config.to_json()
    base = _registry.config
    if base is None:
        return None
    return _with_ports(base).to_json()


def _with_ports(base: GuardConfig) -> GuardConfig:
    """The configured policy with the loopback ports allowed so far."""
    return dataclasses.replace(base, ports=tuple(sorted(_registry.ports)))


def sandbox_argv(target: Sequence[str]) -> list[str]:
    """The command line that runs a learner module/script under this guard (see sandbox.py)."""
    return [sys.executable, "-I", "-B", "-m", SANDBOX_MODULE, "--", *target]


def sandbox_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` plus the frozen policy, which the launched process re-applies before learner code."""
    policy = current_policy()
    if policy is None:
        raise GuardViolation("learner CLIs can only be launched in a grading run")
    env = {k: v for k, v in base.items() if not k.startswith("LD_")}
    env[SANDBOX_ENV] = policy
    return env


def note_child(pid: int) -> None:
    """Remember a learner CLI launched by the grader (used where /proc is unavailable)."""
    _registry.children.add(pid)


def install_sandbox_from_env() -> GuardConfig:
    """In a learner CLI process: apply the policy handed down by :func:`sandbox_env`, frozen."""
    raw = os.environ.get(SANDBOX_ENV)
    if not raw:
        raise SystemExit("labkit sandbox: no policy given (run learner CLIs through learner.run)")
    config = GuardConfig.from_json(raw)
    configure(config)
    freeze()
    return config
