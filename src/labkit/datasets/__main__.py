"""``python -m labkit.datasets export-beir {knowledge-base,wiki} OUT_DIR``: write a BEIR folder."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from labkit.datasets.beir import export_knowledge_base_beir, export_wiki_beir, load_beir
from labkit.errors import LabkitError

EXPORTERS = {"knowledge-base": export_knowledge_base_beir, "wiki": export_wiki_beir}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.datasets")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export-beir", help="write a course data set as a BEIR folder")
    export.add_argument("dataset", choices=sorted(EXPORTERS))
    export.add_argument("out_dir")
    args = parser.parse_args(argv)
    try:
        folder = EXPORTERS[args.dataset](args.out_dir)
        for split in ("dev", "test"):
            data = load_beir(folder, split)
            print(
                f"{folder}: {split}: {len(data.queries)} judged queries, {len(data.corpus)} documents"
            )
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
