"""Is configuration B really better than A? A paired bootstrap confidence interval.

Both configurations answered the same questions, so compare them question by question: the
per-question differences keep what the questions have in common (some are just hard) out of the
noise. Resample the questions with replacement many times, recompute the mean difference each
time, and read the interval off the percentiles.
"""

from __future__ import annotations

import numpy as np


def paired_bootstrap(
    a: list[float],
    b: list[float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """The mean of ``b - a`` and its percentile bootstrap confidence interval.

    Args:
        a: per-question scores of configuration A.
        b: per-question scores of configuration B, same questions, same order.
        n_resamples: how many bootstrap resamples of the questions.
        confidence: the interval's coverage (0.95: the 2.5th and 97.5th percentiles).
        seed: seeds ``numpy.random.default_rng`` so the interval is reproducible.

    Returns:
        ``{"diff": mean(b - a), "low": ..., "high": ...}`` as floats.
    """
    if len(a) != len(b) or not a:
        raise ValueError("paired_bootstrap needs two non-empty lists of the same length")
    diffs = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(diffs), size=(n_resamples, len(diffs)))
    means = diffs[picks].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"diff": float(diffs.mean()), "low": float(low), "high": float(high)}


def noise_band(
    values: list[float], *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> float:
    """Half the width of the bootstrap confidence interval of the mean of ``values``: how much
    the mean moves by chance alone, for a regression gate's tolerance."""
    if not values:
        raise ValueError("noise_band needs at least one value")
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(n_resamples, len(data)))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float((high - low) / 2)
