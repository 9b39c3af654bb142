"""An LLM-as-judge with a rubric and a JSON verdict, calibrated against human labels.

A judge is a model call like any other: it can be wrong (noise), swayed by things that do not
matter (a long answer, the first of two answers) and it can answer in a shape your parser does not
accept. So: ask for a JSON verdict, count the replies you cannot parse *apart* (a parse failure is
neither a pass nor a fail: it is a broken measurement), and measure the judge against labels a
person trusts before trusting its numbers — with Cohen's kappa, which discounts the agreement two
raters would reach by chance.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sklearn.metrics import cohen_kappa_score, confusion_matrix

from labkit import config

LABELS = ["pass", "fail"]

# GIVEN: the first rubric anyone writes. It names no criteria, defines no scale, asks for no format.
RUBRIC_V1 = (
    "You are a judge. Decide whether the answer to the question is good, given the context. "
    "Give your verdict."
)

# Task 3: an explicit rubric (criteria, an anchored scale, a JSON verdict).
RUBRIC_V2 = RUBRIC_V1  # TODO: rewrite it (README task 3)

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL | re.IGNORECASE)


def build_judge_messages(item: dict[str, Any], rubric: str) -> list[dict[str, str]]:
    """The judge's chat messages for one item.

    Args:
        item: ``{"question", "contexts", "answer", ...}`` (a labelled item as a dict).
        rubric: the instructions (the system message).

    Returns:
        ``[{"role": "system", "content": rubric}, {"role": "user", "content": ...}]`` where the
        user message is ``Question: <question>``, a blank line, ``Context:`` then one context per
        line, a blank line, and ``Answer: <answer>``.
    """
    raise NotImplementedError("not implemented yet — see task 2")


def parse_verdict(text: str) -> str | None:
    """``"pass"`` or ``"fail"`` from a judge's reply, or None when it cannot be parsed.

    The reply must be a JSON object (a surrounding ```json fence is allowed) whose ``verdict``
    is ``pass`` or ``fail`` in any case. Anything else — prose, truncated JSON, another value
    ("mostly correct") — is a parse failure, never guessed into a pass or a fail.
    """
    raise NotImplementedError("not implemented yet — see task 2")


def judge_item(item: dict[str, Any], rubric: str, client: Any = None) -> dict[str, Any]:
    """Ask the configured model (``labkit.config``) to judge one item.

    Args:
        item: the labelled item as a dict.
        rubric: the judge's instructions.
        client: an ``openai.OpenAI`` client to reuse (None: ``config.openai_client()``).

    Returns:
        ``{"verdict": "pass" | "fail" | None, "raw": <the reply text>}``.
    """
    raise NotImplementedError("not implemented yet — see task 2")


def judge_all(items: list[dict[str, Any]], rubric: str) -> dict[str, Any]:
    """Judge every item, in order, with one client.

    Returns:
        ``{"verdicts": [...], "parse_failures": <how many verdicts are None>}``.
    """
    raise NotImplementedError("not implemented yet — see task 2")


def agreement(human: list[str], judged: list[str | None]) -> dict[str, Any]:
    """How well the judge agrees with the human labels; parse failures counted apart.

    Args:
        human: the human labels (``pass`` / ``fail``), one per item.
        judged: the judge's verdicts, same items; None where the reply could not be parsed.

    Returns:
        ``{"n": items with a verdict, "parse_failures": items without one, "accuracy": share of
        those where judge and human agree, "kappa": Cohen's kappa on those (scikit-learn),
        "confusion": 2x2 list, rows = human [pass, fail], columns = judge [pass, fail]}``.
    """
    raise NotImplementedError("not implemented yet — see task 2")
