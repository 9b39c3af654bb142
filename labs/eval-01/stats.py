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
    raise NotImplementedError("not implemented yet — see task 5")


def noise_band(
    values: list[float], *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> float:
    """Half the width of the bootstrap confidence interval of the mean of ``values``: how much
    the mean moves by chance alone, for a regression gate's tolerance."""
    raise NotImplementedError("not implemented yet — see task 5")
