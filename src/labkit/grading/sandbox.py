"""Entry point of a learner CLI launched by ``learner.run``: apply the guard, then run the target.

Invoked as ``python -I -B -m labkit.grading.sandbox -- <module-or-script> [args...]`` with the
frozen policy in ``LABKIT_SANDBOX``. The guard is frozen before the learner's module is even
located, so the CLI runs under exactly the same rules as learner code inside the grading child
(no processes, no network but the fake provider, no writes outside the grading folder).
"""

from __future__ import annotations

import os
import runpy
import sys

from labkit.grading.guard import SANDBOX_ENV, install_sandbox_from_env


def main(argv: list[str]) -> None:
    """Run ``argv[0]`` (a module name, or a ``.py`` path relative to the lab folder) as __main__."""
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise SystemExit("labkit sandbox: nothing to run")
    learner_dir = os.getcwd()
    if os.environ.get(SANDBOX_ENV):  # absent only outside a grading run (a lab author's pytest)
        learner_dir = install_sandbox_from_env().learner_dir or learner_dir
    sys.path.insert(0, learner_dir)
    target, args = argv[0], argv[1:]
    if target.endswith(".py"):
        path = target if os.path.isabs(target) else os.path.join(learner_dir, target)
        sys.argv = [path, *args]
        runpy.run_path(path, run_name="__main__")
    else:
        sys.argv = [target, *args]
        runpy.run_module(target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
