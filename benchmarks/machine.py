"""What every benchmark table shares: the line about the machine it ran on, and its percentiles.

The course machine has two cores shared with other work, so a table always records the 1-minute
load average next to its numbers: read them as orders of magnitude when it is high.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np


def load_average() -> float:
    """The 1-minute load average (NaN where the OS keeps none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def utc_now() -> str:
    """The time as the tables print it: ``2026-01-31 14:05 UTC``."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def machine_line(load: float, *, measured: str = "at start", when: str | None = None) -> str:
    """``Python 3.11.7, 2 CPUs shared with other work (1-min load average 1.23 at start),
    2026-01-31 14:05 UTC`` (``when`` defaults to now)."""
    return (
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs shared with other work "
        f"(1-min load average {load:.2f} {measured}), {when or utc_now()}"
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ``values``, ``q`` a fraction (0.99 for p99), by nearest rank: the
    sample at position ``round(q * (n - 1))`` of the sorted values (numpy's ``"nearest"``
    method, ties to even), so a p99 is always a time that was measured, never one interpolated
    between two."""
    if not values:
        raise ValueError("percentile of no values")
    return float(np.percentile(values, q * 100, method="nearest"))
