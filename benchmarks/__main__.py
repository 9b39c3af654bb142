"""Run every benchmark module (``benchmarks/*_bench.py`` exposing ``run() -> dict``).

Each module writes its own human-readable table to ``benchmarks/results/<name>.md``; this runner
only sequences them (they are CPU-bound, and the machine has two cores, so never in parallel) and
prints where the tables went. ``python -m benchmarks fakellm grader`` runs a subset.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    """Run the selected (default: all) benchmarks in name order."""
    names = sorted(p.stem.removesuffix("_bench") for p in HERE.glob("*_bench.py"))
    if argv[:1] in (["-h"], ["--help"]):
        print(
            "usage: python -m benchmarks [NAME ...]  (default: all, in name order; each writes "
            f"benchmarks/results/<name>.md)\nbenchmarks: {', '.join(names)}"
        )
        return 0
    chosen = argv or names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}")
        return 2
    for name in chosen:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}_bench")
        module.run()
        # A module may add its section to another's table (worker -> grader.md): RESULTS says so.
        results = getattr(module, "RESULTS", HERE / "results" / f"{name}.md")
        shown = Path(results).relative_to(HERE.parent)
        print(f"   done in {time.perf_counter() - started:.1f} s -> {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
