"""The chatbot's terminal front end. GIVEN: you do not need to change this file.

Run it from this folder::

    python cli.py                      # the SDK from LABKIT_SDK (default: the provider's own)
    python cli.py --sdk anthropic --temperature 0.2 --budget 800

Type a message and press Enter. ``/reset`` starts a new conversation (same persona), ``/quit``
or Ctrl-D leaves. Replies are printed piece by piece as ``ChatSession.send`` yields them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from chatbot import PERSONA, ChatSession, friendly_error

from labkit import config
from labkit.errors import LabkitError

PROMPT = "you> "
BOT = "bot> "


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description="A streaming terminal chatbot.")
    parser.add_argument(
        "--sdk",
        choices=["openai", "anthropic"],
        default=None,
        help="which SDK to use (default: LABKIT_SDK or the provider's own)",
    )
    parser.add_argument("--system", default=PERSONA, help="the system prompt (persona)")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--max-tokens", type=int, default=300, help="longest reply, in tokens")
    parser.add_argument(
        "--budget",
        type=int,
        default=1500,
        help="most tokens a request may use (older turns are dropped)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Read lines from stdin until /quit or end of input; stream each reply to stdout."""
    args = parse_args(argv)
    try:
        sdk = args.sdk or config.default_sdk()
        session = ChatSession(
            config.client(sdk),
            sdk=sdk,
            system_prompt=args.system,
            model=config.chat_model(),
            budget_tokens=args.budget,
            temperature=args.temperature,
            top_p=args.top_p,
            max_tokens=args.max_tokens,
        )
    except LabkitError as exc:
        print(f"chatbot: {exc}", file=sys.stderr)
        return 2
    print(f"Chatting through the {sdk} SDK with {session.model}. /reset starts over, /quit leaves.")
    while True:
        try:
            line = input(PROMPT)
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        text = line.strip()
        if not text:
            continue
        if text == "/quit":
            return 0
        if text == "/reset":
            session.reset()
            print("(conversation cleared)")
            continue
        print(BOT, end="", flush=True)
        try:
            for piece in session.send(text):
                print(piece, end="", flush=True)
            print()
        except KeyboardInterrupt:
            print("\n(interrupted)")
        except Exception as exc:
            message = friendly_error(exc)
            if message is None:
                raise  # not a provider failure: a bug, keep its traceback
            print()
            print(f"[error] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
