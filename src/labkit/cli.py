"""The ``labkit`` command. Each area registers its own sub-commands; this module only dispatches.

Errors a person must fix (:class:`labkit.errors.LabkitError`) are printed as one line and exit 2;
everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from labkit import __version__
from labkit.errors import LabkitError

# Modules that expose ``register(subparsers)``; each sub-command sets ``func`` via set_defaults.
_COMMAND_MODULES = (
    "labkit.grading.cli",  # grade, grade-all, list
    "labkit.grading.learner_cli",  # hint, watch, reset
    "labkit.fakellm.cli",  # serve
    "labkit.retrieval.cli",  # eval-retrieval
    "labkit.grading.instructor_cli",  # export, autograde, classroom-result, gradebook, similarity
    "labkit.mcp_testing.cli",  # mcp-serve
    "labkit.scaffold.cli",  # new-lab
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (sub-commands registered by their own modules)."""
    parser = argparse.ArgumentParser(
        prog="labkit", description="Offline AI-engineering labs: grade, serve the fake provider."
    )
    parser.add_argument("--version", action="version", version=f"labkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an area not built yet must not break the others
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``labkit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("labkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
