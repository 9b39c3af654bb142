"""Course-authoring sub-commands: ``labkit new-lab <id>``."""

from __future__ import annotations

import argparse

from labkit.grading.manifest import repo_root
from labkit.scaffold.new_lab import DEFAULT_TITLE, new_lab


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``new-lab`` to the ``labkit`` parser."""
    parser = subparsers.add_parser(
        "new-lab",
        help="scaffold a new lab: labs/<id>, solutions/<id>, graders/<id>",
        description="Create a new lab's starter, reference and grader from the course's template "
        "(see CONTRIBUTING.md). Refuses an id that exists or is not like chat-01.",
    )
    parser.add_argument("lab", help="the new lab's id: a lowercase topic, a dash, two digits")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="the lab's title")
    parser.set_defaults(func=cmd_new_lab)


def cmd_new_lab(args: argparse.Namespace) -> int:
    root = repo_root()
    lab = new_lab(root, args.lab, title=args.title)
    print(f"new lab {lab.lab_id} (phase {lab.phase}, order {lab.order}):")
    for path in lab.files:
        print(f"  {path}")
    print(
        f"next: make grade LAB={lab.lab_id} (every test fails), "
        f"make grade LAB={lab.lab_id} DIR=solutions/{lab.lab_id} (every test passes), "
        "then write the real tasks: CONTRIBUTING.md"
    )
    return 0
