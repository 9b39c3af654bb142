"""Ask the agent one question from the command line (given; nothing to write here).

::

    python cli.py "What does the refund policy say about damaged items?"
    python cli.py --sdk anthropic "How many orders are still pending?"
    python cli.py --server http://127.0.0.1:8788/mcp "Refund order O-5004, it arrived broken."

Without ``--server`` it builds YOUR server (course_server.build_server) in memory over a
temporary copy of the shop database. Destructive tools ask you on the terminal first.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from typing import Any

from agent import Guardrails, run_agent
from course_server import build_server

from labkit.mcp_testing.fixtures import copy_shop


def ask_user(name: str, arguments: dict[str, Any]) -> bool:
    """The approval hook: a human says yes or no."""
    answer = input(f"The agent wants to run {name}({json.dumps(arguments)}). Allow? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ask the agent-02 agent one question.")
    parser.add_argument("question")
    parser.add_argument("--sdk", choices=["openai", "anthropic"], default=None)
    parser.add_argument("--server", default=None, help="a streamable HTTP URL (default: in memory)")
    parser.add_argument("--trace", action="store_true", help="print every state transition")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="agent02-") as folder:
        server: Any = args.server or build_server(copy_shop(folder))
        try:
            result = run_agent(
                args.question,
                server=server,
                sdk=args.sdk,
                guardrails=Guardrails(),
                approve=ask_user,
            )
        except Exception as exc:  # connection refused, usually: say what to start
            print(
                f"error: {type(exc).__name__}: {exc}. Is the model provider running (make serve)"
                + (f" and the MCP server at {args.server}?" if args.server else "?"),
                file=sys.stderr,
            )
            return 1
    if args.trace:
        for step in result.trace:
            extra = {k: v for k, v in step.items() if k not in ("from", "to")}
            print(f"  {step['from']:>7} -> {step['to']:<7} {extra}")
    for call in result.tool_calls:
        print(
            f"  -> {call['name']}({json.dumps(call['arguments'])}) "
            f"{'ERROR' if call['is_error'] else 'ok'} after {call['attempts']} attempt(s)"
        )
    print(f"[{result.status}] {result.answer}")
    print(f"({result.steps} model calls, {result.tokens} tokens, ${result.cost_usd:.6f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
