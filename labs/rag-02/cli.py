"""The knowledge-base assistant's command line. GIVEN: you do not need to change this file.

Run it from this folder (the database lives in ``.chroma/`` here unless you pass ``--db``)::

    python cli.py ingest                         # chunk, embed and store the knowledge base
    python cli.py ask "How many days of annual leave do I get?"
    python cli.py ask "What is the lodging cap?" --kind policy --version 2024
    python cli.py delete policy-leave            # remove one document's chunks
    python cli.py evaluate --split dev           # score the pipeline on the golden questions

``ingest`` is safe to repeat: it reports what it added, kept and removed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # find rag.py even under `python -I`

import anthropic
import openai
from rag import MIN_SIMILARITY, K, RagAnswer, answer, make_where
from store import chunks_per_document, delete_document, ingest, open_collection

from labkit.datasets.knowledge_base import Question, load_documents, load_questions
from labkit.errors import LabkitError

DEFAULT_DB = Path(__file__).resolve().parent / ".chroma"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description="Ask the Tessaline knowledge base.")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="Chroma database folder")
    commands = parser.add_subparsers(dest="command", required=True)

    add = commands.add_parser("ingest", help="chunk, embed and store the knowledge base")
    add.add_argument(
        "--kb", type=Path, default=None, help="knowledge-base folder (default: the course's)"
    )

    ask = commands.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question", help="the question")
    ask.add_argument("-k", type=int, default=K, help=f"sources per question (default {K})")
    ask.add_argument("--kind", help="only documents of this kind (policy, manual, api ...)")
    ask.add_argument("--version", help="only documents of this version (2024, v2 ...)")
    ask.add_argument("--since", help="only documents dated on or after this ISO date")
    ask.add_argument("--sdk", choices=["openai", "anthropic"], default=None)

    drop = commands.add_parser("delete", help="remove one document's chunks")
    drop.add_argument("doc_id", help="the document id (the file name without .md)")

    score = commands.add_parser("evaluate", help="score the pipeline on the golden questions")
    score.add_argument("--split", choices=["dev", "test"], default="dev")
    score.add_argument("--show", action="store_true", help="print every failed question")
    return parser.parse_args(argv)


def correct(question: Question, result: RagAnswer) -> bool:
    """The grader's rule: an answerable question is answered with every fact (any case) and cites
    at least one gold document; an unanswerable one is refused."""
    if not question.answerable:
        return result.refused
    text = result.text.lower()
    has_facts = all(fact.lower() in text for fact in question.facts)
    return not result.refused and has_facts and bool(set(result.citations) & set(question.doc_ids))


def show_answer(result: RagAnswer) -> None:
    """Print an answer and the sources it was given."""
    print(result.text)
    if result.refused:
        print("(refused)")
    if result.citations:
        print("cited: " + ", ".join(result.citations))
    for number, hit in enumerate(result.sources, start=1):
        print(f"  [{number}] {hit.doc_id}  {hit.score:.3f}  {hit.chunk_id}")


def run(args: argparse.Namespace) -> int:
    """Carry out one command."""
    collection = open_collection(args.db)
    if args.command == "ingest":
        started = time.monotonic()
        report = ingest(collection, load_documents(args.kb))
        print(
            f"added {report.added}, unchanged {report.unchanged}, removed {report.removed} chunks "
            f"in {time.monotonic() - started:.1f} s; the collection holds {collection.count()} "
            f"chunks of {len(chunks_per_document(collection))} documents"
        )
    elif args.command == "ask":
        where = make_where(kind=args.kind, version=args.version, since=args.since)
        show_answer(answer(collection, args.question, k=args.k, where=where, sdk=args.sdk))
    elif args.command == "delete":
        print(f"removed {delete_document(collection, args.doc_id)} chunks of {args.doc_id}")
    else:
        questions = load_questions(split=args.split)
        by_type: dict[str, list[int]] = {}
        for question in questions:
            ok = correct(question, answer(collection, question.question))
            tally = by_type.setdefault(question.type, [0, 0])
            tally[0] += ok
            tally[1] += 1
            if args.show and not ok:
                print(f"✗ {question.id} [{question.type}] {question.question}")
        total = sum(t[0] for t in by_type.values())
        for kind, (good, count) in sorted(by_type.items()):
            print(f"  {kind:<15} {good:>3}/{count}")
        print(
            f"{total}/{len(questions)} = {total / len(questions):.1%} correct ({args.split} split, "
            f"min similarity {MIN_SIMILARITY})"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: one line on stderr and exit 2 for the errors a user can fix."""
    args = parse_args(argv)
    try:
        return run(args)
    except LabkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (openai.APIConnectionError, anthropic.APIConnectionError):
        print(
            "error: the model provider is unreachable (is `make serve` running?)", file=sys.stderr
        )
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
