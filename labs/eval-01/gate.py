"""A regression gate for CI: fail when a metric drops beyond its noise band against a baseline.

    python gate.py --baseline baseline.json --current current.json

``baseline.json`` is what :func:`make_baseline` wrote from a trusted run:
``{"metrics": {"faithfulness": {"value": 0.91, "band": 0.04}, ...}}``; ``current.json`` maps each
metric to today's mean: ``{"faithfulness": 0.88, ...}``. The command prints a table and exits 1
when any metric regressed (or is missing), 0 otherwise, 2 when it cannot read its inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from stats import noise_band


def make_baseline(scores: dict[str, list[float]], *, seed: int = 0) -> dict[str, Any]:
    """A baseline from per-question scores of a trusted run.

    Args:
        scores: metric name -> per-question scores.
        seed: passed to :func:`stats.noise_band`.

    Returns:
        ``{"metrics": {name: {"value": mean, "band": noise_band(scores)}}}``, names sorted.
    """
    raise NotImplementedError("not implemented yet — see task 6")


def check(baseline: dict[str, Any], current: dict[str, float]) -> list[dict[str, Any]]:
    """Compare today's means with the baseline, one row per baseline metric (sorted by name).

    A metric *regressed* when ``current < value - band`` or it is missing from ``current``;
    *improved* when ``current > value + band``; else it is ``ok`` (within the noise).

    Returns:
        Rows ``{"metric", "baseline", "band", "current", "delta", "status"}``; for a missing
        metric ``current`` and ``delta`` are None.
    """
    raise NotImplementedError("not implemented yet — see task 6")


def report(rows: list[dict[str, Any]]) -> str:
    """A markdown table of :func:`check`'s rows, one line per metric, for a person to read."""
    raise NotImplementedError("not implemented yet — see task 6")


def main(argv: list[str] | None = None) -> int:
    """The command: print the report; exit 1 on any regression, 2 on unreadable input."""
    raise NotImplementedError("not implemented yet — see task 6")


if __name__ == "__main__":
    sys.exit(main())
