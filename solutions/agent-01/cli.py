"""The agent in a terminal. GIVEN: you do not need to change this file.

Run it from this folder::

    python cli.py "What does a full year of the Pro plan cost at the 2024 monthly price, in dollars?"
    python cli.py --native "What is the e-mail address of the customer who placed order O-5042?"
    python cli.py --trace runs.jsonl --max-steps 4 "What is 17 * 23?"
    python cli.py --compare dev              # both agents on the dev tasks: success, steps, tokens

Every step is printed as it was recorded: the action and its input, then the observation (cut to
one line), then the final answer or why the run stopped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # find agent.py even under `python -I`

import anthropic
import openai
from agent import MAX_STEPS, Trace, answer, summary_line
from native import compare, run_agent_native, table
from tools import default_tools

from labkit import config
from labkit.datasets import load_agent_tasks
from labkit.errors import LabkitError


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description="Ask the ReAct agent (it answers with tools).")
    parser.add_argument("question", nargs="*", help="the question")
    parser.add_argument("--sdk", choices=["openai", "anthropic"], default=None)
    parser.add_argument("--native", action="store_true", help="use native tool calling (OpenAI)")
    parser.add_argument("--max-steps", type=int, default=MAX_STEPS, help="most model calls")
    parser.add_argument("--db", type=Path, default=None, help="the shop database")
    parser.add_argument("--trace", type=Path, default=None, help="append the trace (JSON lines)")
    parser.add_argument(
        "--compare", choices=["dev", "test"], default=None, help="compare both agents on a split"
    )
    return parser.parse_args(argv)


def show(trace: Trace) -> None:
    """Print a run step by step."""
    for step in trace.steps:
        if step.action is not None:
            print(f"  {step.step}. [{step.kind}] {step.action}({step.input!r})")
        else:
            print(f"  {step.step}. [{step.kind}]")
        if step.observation is not None:
            line = " ".join(step.observation.split())
            print(f"     → {line[:110]}{'…' if len(line) > 110 else ''}")
    if trace.answer is not None:
        print(f"answer> {trace.answer}")
    else:
        print(f"(stopped: {trace.stop_reason})")
    print(f"        {summary_line(trace)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Answer the question(s), or compare the two agents."""
    args = parse_args(argv)
    try:
        if args.compare:
            client = config.openai_client()
            tasks = load_agent_tasks(split=args.compare)
            print(
                table(
                    compare(
                        client,
                        tasks,
                        default_tools(args.db),
                        model=config.chat_model(),
                        max_steps=args.max_steps,
                    )
                )
            )
            return 0
        question = " ".join(args.question).strip()
        if not question:
            print('usage: python cli.py "your question" (or --compare dev)', file=sys.stderr)
            return 2
        if args.native:
            trace = run_agent_native(
                config.openai_client(),
                question,
                default_tools(args.db),
                model=config.chat_model(),
                max_steps=args.max_steps,
            )
        else:
            trace = answer(question, db_path=args.db, sdk=args.sdk, max_steps=args.max_steps)
        show(trace)
        if args.trace:
            trace.write_jsonl(args.trace)
        return 0
    except (openai.APIConnectionError, anthropic.APIConnectionError):
        print(
            f"cannot reach the model at {config.settings().base_url}: start it with `make serve` "
            "(or set LABKIT_PROVIDER)",
            file=sys.stderr,
        )
        return 1
    except LabkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
