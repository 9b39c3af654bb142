"""Extract tickets from the support-emails dataset and print the records and a cost report. GIVEN.

    python run_extraction.py                     # all 32 emails
    python run_extraction.py --limit 5           # the first five
    python run_extraction.py --ids se-004,se-012 --max-reasks 1

Talks to whatever ``labkit.config`` points at (the fake provider by default: start it with
``make serve``). Field accuracy against the gold records is printed too, so you can compare models.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import openai
from costs import PRICES, Usage, build_report, format_report
from extract import ExtractionError, extract_ticket, make_client
from retry import RetriesExhaustedError, RetryPolicy

from labkit import config

DEFAULT_DATASET = (
    Path(__file__).resolve().parents[2] / "datasets" / "support-emails" / "emails.jsonl"
)


def load_emails(path: Path) -> list[dict]:
    """The dataset rows: {"id", "text", "gold"}."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--limit", type=int, default=None, help="only the first N emails")
    parser.add_argument("--ids", default="", help="comma-separated ids, e.g. se-001,se-007")
    parser.add_argument("--max-reasks", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--seed", type=int, default=None, help="seed for the retry jitter")
    args = parser.parse_args(argv)

    rows = load_emails(args.dataset)
    if args.ids:
        wanted = {i.strip() for i in args.ids.split(",") if i.strip()}
        rows = [row for row in rows if row["id"] in wanted]
    if args.limit is not None:
        rows = rows[: args.limit]

    policy = RetryPolicy(timeout=args.timeout)
    client = make_client(policy)
    model = config.chat_model()
    rng = random.Random(args.seed)
    usages: dict[str, Usage] = {}
    fields_right = fields_total = failures = 0

    for row in rows:
        try:
            result = extract_ticket(
                row["text"],
                client=client,
                model=model,
                policy=policy,
                max_reasks=args.max_reasks,
                rng=rng,
            )
        except ExtractionError as exc:
            usages[row["id"]] = exc.usage
            failures += 1
            print(
                f"{row['id']}  FAILED after {exc.replies} replies: {exc.last_error.errors()[0]['msg']}"
            )
            continue
        except (RetriesExhaustedError, openai.APIError) as exc:
            usages[row["id"]] = Usage()
            failures += 1
            print(f"{row['id']}  FAILED: {exc}")
            continue
        usages[row["id"]] = result.usage
        got = result.record.model_dump(mode="json")
        right = sum(got[k] == v for k, v in row["gold"].items())
        fields_right += right
        fields_total += len(row["gold"])
        note = "" if result.replies == 1 else f"  ({result.replies} replies)"
        print(
            f"{row['id']}  {right}/{len(row['gold'])} fields right{note}  {json.dumps(got, ensure_ascii=False)}"
        )

    print()
    if fields_total:
        print(
            f"field accuracy: {fields_right}/{fields_total} = {fields_right / fields_total:.0%} "
            f"on {len(rows) - failures} extracted emails; {failures} failed"
        )
    try:
        print(format_report(build_report(usages, model, PRICES)))
    except KeyError as exc:
        print(f"no cost report: {exc.args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
