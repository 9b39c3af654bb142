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
    metrics = {}
    for name in sorted(scores):
        values = [float(v) for v in scores[name]]
        metrics[name] = {"value": sum(values) / len(values), "band": noise_band(values, seed=seed)}
    return {"metrics": metrics}


def check(baseline: dict[str, Any], current: dict[str, float]) -> list[dict[str, Any]]:
    """Compare today's means with the baseline, one row per baseline metric (sorted by name).

    A metric *regressed* when ``current < value - band`` or it is missing from ``current``;
    *improved* when ``current > value + band``; else it is ``ok`` (within the noise).

    Returns:
        Rows ``{"metric", "baseline", "band", "current", "delta", "status"}``; for a missing
        metric ``current`` and ``delta`` are None.
    """
    rows = []
    for name in sorted(baseline["metrics"]):
        ref = baseline["metrics"][name]
        value, band = float(ref["value"]), float(ref["band"])
        now = current.get(name)
        if now is None:
            rows.append(
                {
                    "metric": name,
                    "baseline": value,
                    "band": band,
                    "current": None,
                    "delta": None,
                    "status": "regressed",
                }
            )
            continue
        delta = float(now) - value
        status = "regressed" if delta < -band else "improved" if delta > band else "ok"
        rows.append(
            {
                "metric": name,
                "baseline": value,
                "band": band,
                "current": float(now),
                "delta": delta,
                "status": status,
            }
        )
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    """A markdown table of :func:`check`'s rows, one line per metric, for a person to read."""
    lines = [
        "| metric | baseline | noise band | current | change | status |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        current = "missing" if row["current"] is None else f"{row['current']:.3f}"
        delta = "" if row["delta"] is None else f"{row['delta']:+.3f}"
        status = "REGRESSED" if row["status"] == "regressed" else row["status"]
        lines.append(
            f"| {row['metric']} | {row['baseline']:.3f} | ±{row['band']:.3f} | {current} "
            f"| {delta} | {status} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """The command: print the report; exit 1 on any regression, 2 on unreadable input."""
    parser = argparse.ArgumentParser(
        description="Fail when a metric regresses beyond its noise band."
    )
    parser.add_argument("--baseline", required=True, help="baseline JSON written by make_baseline")
    parser.add_argument("--current", required=True, help="JSON object: metric -> current mean")
    args = parser.parse_args(argv)
    try:
        baseline = json.loads(Path(args.baseline).read_text(encoding="utf-8"))
        current = json.loads(Path(args.current).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"gate: cannot read the inputs: {exc}", file=sys.stderr)
        return 2
    rows = check(baseline, current)
    print(report(rows))
    regressed = [r["metric"] for r in rows if r["status"] == "regressed"]
    if regressed:
        print(f"FAIL: {', '.join(regressed)} regressed beyond the noise band")
        return 1
    print("OK: no metric regressed beyond its noise band")
    return 0


if __name__ == "__main__":
    sys.exit(main())
