"""The report a person reads: latency percentiles, cost, cache and route mix, a trace waterfall."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from costs import cost_per_1k
from rich.console import Console
from rich.table import Table


def percentiles(latencies_ms: Sequence[float]) -> dict[str, float]:
    """``{"p50", "p90", "p99"}`` of the latencies (``numpy.percentile``, its default linear
    method), as floats. Means hide the slow tail your users feel: report percentiles.

    Raises:
        ValueError: no latencies.
    """
    raise NotImplementedError("not implemented yet — see task 6")


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The numbers of a run of ``service.handle_request`` records.

    Returns:
        ``{"requests": n, "total_cost_usd", "cost_per_1k" (total / n * 1000),
        "cost_per_1k_by_route", "cost_per_1k_by_model" (``costs.cost_per_1k``),
        "cache_hit_rate" (records with route "cache" / n), "saved_usd" (sum of ``saved_usd``),
        "route_mix" ({route: count}), "latency_ms" (``percentiles`` of ``latency_ms``)}``.
    """
    raise NotImplementedError("not implemented yet — see task 6")


def waterfall_rows(spans: Sequence[dict[str, Any]], trace_id: str) -> list[dict[str, Any]]:
    """The rows of one trace's waterfall, from span dicts (``telemetry.span_to_dict``).

    Only the spans of ``trace_id``; depth-first from the root (parents before their children,
    siblings by start time). Each row: ``{"name", "depth" (root 0), "offset_ms" (start minus the
    root's start), "duration_ms"}``.
    """
    raise NotImplementedError("not implemented yet — see task 6")


def render_waterfall(rows: Sequence[dict[str, Any]], width: int = 40) -> Table:
    """A rich table of waterfall rows: indented names and a bar placed on a shared time axis.
    GIVEN."""
    total = max((r["offset_ms"] + r["duration_ms"] for r in rows), default=0.0) or 1.0
    table = Table(title="trace waterfall", show_lines=False)
    table.add_column("span")
    table.add_column("start ms", justify="right")
    table.add_column("ms", justify="right")
    table.add_column("timeline")
    for r in rows:
        start = int(r["offset_ms"] / total * width)
        length = max(1, int(r["duration_ms"] / total * width))
        bar = " " * start + "█" * min(length, width - start)
        colour = "green" if r["name"].startswith("chat") else "cyan"
        table.add_row(
            "  " * r["depth"] + r["name"],
            f"{r['offset_ms']:.1f}",
            f"{r['duration_ms']:.1f}",
            f"[{colour}]{bar}[/]",
        )
    return table


def print_report(summary: dict[str, Any], rows: Sequence[dict[str, Any]]) -> None:
    """Print the summary and one waterfall with rich. GIVEN."""
    console = Console()
    table = Table(title=f"{summary['requests']} requests")
    table.add_column("metric")
    table.add_column("value", justify="right")
    lat = summary["latency_ms"]
    table.add_row(
        "latency p50 / p90 / p99 (ms)", f"{lat['p50']:.1f} / {lat['p90']:.1f} / {lat['p99']:.1f}"
    )
    table.add_row("total cost (USD)", f"{summary['total_cost_usd']:.6f}")
    table.add_row("cost per 1,000 requests (USD)", f"{summary['cost_per_1k']:.4f}")
    for route, value in sorted(summary["cost_per_1k_by_route"].items()):
        table.add_row(f"  per 1,000 on route {route}", f"{value:.4f}")
    for model, value in sorted(summary["cost_per_1k_by_model"].items()):
        table.add_row(f"  per 1,000 from model {model}", f"{value:.4f}")
    table.add_row("cache hit rate", f"{summary['cache_hit_rate']:.1%}")
    table.add_row("saved by the cache (USD)", f"{summary['saved_usd']:.6f}")
    mix = ", ".join(f"{k} {v}" for k, v in sorted(summary["route_mix"].items()))
    table.add_row("route mix", mix)
    console.print(table)
    if rows:
        console.print(render_waterfall(rows))
