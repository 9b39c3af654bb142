"""An A/B test of two prompts you can trust: size it first, test once, no peeking.

The classic way to fool yourself: watch the p-value while the data comes in and stop the moment
it dips under 0.05. With enough looks, a difference that does not exist "wins" far more often
than 5% of the time. So: decide the sample size from the smallest effect you care about, collect
exactly that much, run one test, and only then read the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from llm import parse_answer
from openai import OpenAI
from scipy import stats
from service import SYSTEM_PROMPT, build_messages, retrieve_examples

# The two prompts under test. GIVEN.
PROMPT_A = SYSTEM_PROMPT
PROMPT_B = SYSTEM_PROMPT + "\nThink step by step before you answer."


def sample_size(p_a: float, p_b: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Requests per arm to detect success rates ``p_a`` vs ``p_b`` with a two-sided test.

    The normal-approximation formula for two proportions::

        n = (z(1 - alpha/2) * sqrt(2 * p * (1 - p)) + z(power) * sqrt(p_a(1-p_a) + p_b(1-p_b)))**2
            / (p_a - p_b)**2,    p = (p_a + p_b) / 2,  z = scipy.stats.norm.ppf

    rounded UP to an integer.

    Raises:
        ValueError: ``p_a == p_b`` (no effect to detect), or a rate outside (0, 1).
    """
    raise NotImplementedError("not implemented yet — see task 5")


def compare(
    successes_a: int, n_a: int, successes_b: int, n_b: int, alpha: float = 0.05
) -> dict[str, Any]:
    """Fisher's exact test (two-sided) on the 2x2 table [[sa, n_a - sa], [sb, n_b - sb]].

    Returns:
        ``{"rate_a", "rate_b", "p_value", "winner"}``: ``winner`` is "A" or "B" (the higher rate)
        when ``p_value < alpha``, else None.
    """
    raise NotImplementedError("not implemented yet — see task 5")


def run_experiment(
    outcomes_a: Sequence[bool], outcomes_b: Sequence[bool], n_per_arm: int, alpha: float = 0.05
) -> dict[str, Any]:
    """The pre-registered decision: test the first ``n_per_arm`` outcomes of each arm, once.

    Outcomes arrive in order (True = answered right). Whatever the early data looks like, the
    decision uses exactly ``n_per_arm`` outcomes per arm and one call of ``compare``.

    Returns:
        ``compare(...)``'s dict plus ``"n_per_arm"``.

    Raises:
        ValueError: an arm has fewer than ``n_per_arm`` outcomes (the experiment is not finished:
        say so, do not decide).
    """
    raise NotImplementedError("not implemented yet — see task 5")


def collect_outcomes(
    client: OpenAI, requests: Sequence[dict[str, Any]], system_prompt: str, model: str
) -> list[bool]:
    """Ask ``model`` each request's question under ``system_prompt``; True where the parsed
    answer equals the request's ``answer``. GIVEN (used by run_ab.py)."""
    outcomes = []
    for request in requests:
        messages = build_messages(
            system_prompt, retrieve_examples(request["question"], 2), request["question"]
        )
        reply = client.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
        answer, _ = parse_answer(reply.choices[0].message.content or "")
        outcomes.append(answer == request["answer"])
    return outcomes
