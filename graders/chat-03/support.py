"""Shared by the chat-03 tests: the support e-mails with their gold tickets, and a fast way to run
the learner's extraction."""

from __future__ import annotations

import random
from typing import Any

from labkit.grading.toolkit import dataset_rows

CHAT = "/v1/chat/completions"

# Read at collection, before any learner code runs.
ROWS: list[dict[str, Any]] = dataset_rows("support-emails", "emails.jsonl")


def sample(seed: int, k: int) -> list[dict[str, Any]]:
    """``k`` different e-mails, chosen by the seed."""
    return random.Random(seed).sample(ROWS, k)


def extract(learner: Any, text: str, **kwargs: Any) -> Any:
    """Run the learner's extract_ticket with fast retries and no real sleeping."""
    ext = learner.import_module("extract")
    policy = learner.import_module("retry").RetryPolicy(
        base_delay=0.001, max_delay=0.004, timeout=5.0
    )
    return ext.extract_ticket(text, policy=policy, sleep=lambda _s: None, **kwargs)
