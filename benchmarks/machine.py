"""What every benchmark table shares: the line about the machine it ran on, and its percentiles.

The course machine has two cores shared with other work, so a table always records the 1-minute
load average next to its numbers: read them as orders of magnitude when it is high.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np


def load_average() -> float:
    """The 1-minute load average (NaN where the OS keeps none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def utc_now() -> str:
    """The time as the tables print it: ``2026-01-31 14:05 UTC``."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_line(
    load: float,
    *,
    measured: str = "at start",
    load_end: float | None = None,
    extra: Iterable[str] = (),
    when: str | None = None,
) -> str:
    """``Python 3.11.7 on Linux x86_64 (AMD EPYC), 2 CPUs shared with other work (1-min load
    average 1.23 at start, 2.40 at the end), torch 2.5.1, 2026-01-31 14:05 UTC``.

    ``load_end`` adds the load when the run finished; ``extra`` (library versions, thread
    counts) comes before the time; ``when`` defaults to now."""
    loads = f"{load:.2f} {measured}" + ("" if load_end is None else f", {load_end:.2f} at the end")
    parts = [
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()} "
        f"({cpu_model()})",
        f"{os.cpu_count()} CPUs shared with other work (1-min load average {loads})",
        *extra,
        when or utc_now(),
    ]
    return ", ".join(parts)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ``values``, ``q`` a fraction (0.99 for p99), by nearest rank: the
    sample at position ``round(q * (n - 1))`` of the sorted values (numpy's ``"nearest"``
    method, ties to even), so a p99 is always a time that was measured, never one interpolated
    between two."""
    if not values:
        raise ValueError("percentile of no values")
    return float(np.percentile(values, q * 100, method="nearest"))
