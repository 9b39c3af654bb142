"""The shop assistant's terminal front end. GIVEN: you do not need to change this file.

Run it from this folder::

    python cli.py "List the delivered orders of C-1019."
    python cli.py --sdk anthropic            # no question: ask several, one per line
    python cli.py --db /tmp/copy.sqlite --max-calls 3

Each question is answered on its own (no memory between questions). The tool calls the model made
are printed before the answer, with a ✗ when a call came back as an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # find assistant.py even under `python -I`

import anthropic
import openai
from assistant import MAX_MODEL_CALLS, Answer, answer

from labkit import config
from labkit.datasets import datasets_dir
from labkit.errors import LabkitError

PROMPT = "you> "


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description="Ask the shop assistant (it answers with tools).")
    parser.add_argument(
        "question", nargs="*", help="the question (none: read questions from stdin)"
    )
    parser.add_argument(
        "--sdk",
        choices=["openai", "anthropic"],
        default=None,
        help="which SDK to use (default: LABKIT_SDK or the provider's own)",
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="the shop database (default: the committed one)"
    )
    parser.add_argument(
        "--max-calls", type=int, default=MAX_MODEL_CALLS, help="most model calls per question"
    )
    return parser.parse_args(argv)


def show(result: Answer) -> None:
    """Print the tool calls, then the answer."""
    for record in result.tool_calls:
        args = (
            record.arguments if isinstance(record.arguments, str) else json.dumps(record.arguments)
        )
        mark = "✗" if record.result.is_error else "→"
        print(f"  {mark} {record.name}({args})  {record.result.content[:100]}")
    print(f"bot> {result.text}")
    if not result.complete:
        print(f"  (stopped at the limit of {result.model_calls} model calls)", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Answer the question on the command line, or each line read from stdin."""
    args = parse_args(argv)
    try:
        sdk = args.sdk or config.default_sdk()
        client = config.client(sdk)
        db = Path(args.db or datasets_dir() / "shop" / "shop.sqlite")
        if not db.is_file():
            raise LabkitError(f"no shop database at {db}; pass --db PATH")
    except LabkitError as exc:
        print(f"shop: {exc}", file=sys.stderr)
        return 2

    def ask(question: str) -> bool:
        try:
            show(
                answer(question, db_path=db, client=client, sdk=sdk, max_model_calls=args.max_calls)
            )
        except (openai.APIConnectionError, anthropic.APIConnectionError):
            hint = " (is `make serve` running?)" if config.provider() == "fake" else ""
            print(f"[error] cannot reach the model provider{hint}", file=sys.stderr)
            return False
        except (openai.APIError, anthropic.APIError) as exc:
            print(f"[error] the model provider failed: {exc}", file=sys.stderr)
            return False
        return True

    if args.question:
        return 0 if ask(" ".join(args.question)) else 1
    print(f"Shop assistant through the {sdk} SDK with {config.chat_model()}. Ctrl-D leaves.")
    while True:
        try:
            line = input(PROMPT).strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line:
            ask(line)


if __name__ == "__main__":
    sys.exit(main())
