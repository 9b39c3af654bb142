"""Our own retry loop: exponential backoff with jitter, honouring the server's ``retry-after``.

The SDK can retry for us, but then we cannot see, test or budget the retries: here the SDK's
retries are off (``max_retries=0``) and every retry is a decision this module makes and can explain.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import openai

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. GIVEN. Tests use tiny delays so a whole retry sequence takes milliseconds.

    Attributes:
        max_attempts: attempts per request in total (the first one included).
        base_delay: seconds; the backoff ceiling before retry n is ``base_delay * 2**n``...
        max_delay: ...but never more than this many seconds.
        max_retry_after: cap, in seconds, on a delay the server asks for with ``retry-after``.
        timeout: seconds one request may take before it counts as failed (and retryable).
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    timeout: float = 30.0


class RetriesExhaustedError(Exception):
    """Every attempt failed with a retryable error. GIVEN.

    ``attempts`` is how many requests were made; the last error is ``last_error`` (and
    ``__cause__``, when raised with ``raise ... from last_error``).
    """

    def __init__(self, attempts: int, last_error: BaseException) -> None:
        super().__init__(f"gave up after {attempts} attempts; last error: {last_error!r}")
        self.attempts = attempts
        self.last_error = last_error


def backoff_delay(retry_number: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds to wait before retry ``retry_number`` (0 for the first retry), with full jitter.

    Args:
        retry_number: 0 before the first retry, 1 before the second, ...
        policy: supplies ``base_delay`` and ``max_delay``.
        rng: the only source of randomness (a seeded ``random.Random`` makes delays repeatable).

    Returns:
        A delay drawn uniformly from ``[0, min(max_delay, base_delay * 2**retry_number)]``.
    """
    raise NotImplementedError("not implemented yet — see task 3")


def retry_after_seconds(error: BaseException) -> float | None:
    """The delay the server asked for in an error response, in seconds.

    Args:
        error: any exception; only ``openai.APIStatusError`` carries response headers.

    Returns:
        ``retry-after-ms`` / 1000 if present, else ``retry-after`` (seconds, or an HTTP date),
        else None. Unparseable or negative values count as absent.
    """
    raise NotImplementedError("not implemented yet — see task 3")


def is_retryable(error: BaseException) -> bool:
    """Whether trying the same request again could succeed.

    Args:
        error: the exception a request raised.

    Returns:
        True for connection errors and timeouts, and for HTTP 408, 409, 429 and 5xx;
        False for everything else (400, 401, 403, 404, 422: the request itself is wrong).
    """
    raise NotImplementedError("not implemented yet — see task 3")


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn`` until it succeeds, retrying retryable errors up to ``policy.max_attempts``.

    Args:
        fn: makes one request (no arguments); its exceptions decide what happens next.
        policy: attempts, delays and caps.
        sleep: waits between attempts (tests pass a recorder).
        rng: randomness for the jitter (default: a fresh, unseeded ``random.Random``).

    Returns:
        What ``fn`` returned on the first successful attempt.

    Raises:
        The original exception, unchanged, when it is not retryable.
        RetriesExhaustedError: after ``policy.max_attempts`` retryable failures.
    """
    raise NotImplementedError("not implemented yet — see task 3")
