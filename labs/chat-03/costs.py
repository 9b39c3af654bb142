"""Token usage and what it costs: per record, and for the whole run.

Every reply the model sends is billed, the rejected ones included: an extraction that needed two
re-asks costs three replies. Requests that failed before a reply (a 429, a timeout) carry no usage
in the response, so we cannot count them here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from openai.types.chat import ChatCompletion

# US dollars per 1 million tokens. GIVEN: a snapshot for the exercise, not a live price list.
PRICES: dict[str, dict[str, float]] = {
    "gpt-4o-mini": {"input": 0.15, "output": 0.60},
    "gpt-4o": {"input": 2.50, "output": 10.00},
    "gpt-4.1-mini": {"input": 0.40, "output": 1.60},
    "claude-3-5-haiku-latest": {"input": 0.80, "output": 4.00},
    # The fake provider bills like gpt-4o-mini, so the cost report shows realistic numbers offline.
    "fake-gpt": {"input": 0.15, "output": 0.60},
    # Models on your own machine cost electricity, not tokens.
    "smollm2-135m-instruct": {"input": 0.0, "output": 0.0},
    "llama3.2": {"input": 0.0, "output": 0.0},
}

TOKENS_PER_PRICE_UNIT = 1_000_000


@dataclass(frozen=True)
class Usage:
    """Tokens billed: ``input`` is the prompt, ``output`` the completion. GIVEN."""

    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )


@dataclass(frozen=True)
class RecordCost:
    """One record's line of the cost report. GIVEN."""

    record_id: str
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class CostReport:
    """Per-record costs and the totals of a run. GIVEN."""

    model: str
    records: list[RecordCost]
    total_input_tokens: int
    total_output_tokens: int
    total_cost_usd: float


def usage_of(completion: ChatCompletion) -> Usage:
    """The tokens one chat completion reports.

    Args:
        completion: a reply from ``client.chat.completions.create``.

    Returns:
        Its ``usage.prompt_tokens`` / ``usage.completion_tokens``; zeros when the reply has no usage.
    """
    raise NotImplementedError("not implemented yet — see task 4")


def cost_usd(model: str, usage: Usage, prices: Mapping[str, Mapping[str, float]] = PRICES) -> float:
    """What ``usage`` costs on ``model``, in US dollars.

    Args:
        model: a key of ``prices``.
        usage: the tokens to price.
        prices: model -> {"input": $ per 1M tokens, "output": $ per 1M tokens}.

    Returns:
        input_tokens * input price / 1M + output_tokens * output price / 1M.

    Raises:
        KeyError: the model has no price (never guess $0: a cost report must not under-report).
    """
    raise NotImplementedError("not implemented yet — see task 4")


def build_report(
    usages: Mapping[str, Usage],
    model: str,
    prices: Mapping[str, Mapping[str, float]] = PRICES,
) -> CostReport:
    """The cost report of a run: one line per record, in the order given, and the totals.

    Args:
        usages: record id -> the usage summed over every reply for that record.
        model: the model every request was sent to.
        prices: the price table (see ``cost_usd``).

    Returns:
        A CostReport whose totals are the sums of its lines.
    """
    raise NotImplementedError("not implemented yet — see task 4")


def format_report(report: CostReport) -> str:
    """The report as a plain-text table. GIVEN."""
    rows = [f"{'record':<12} {'input':>8} {'output':>8} {'cost (USD)':>12}"]
    rows += [
        f"{r.record_id:<12} {r.input_tokens:>8} {r.output_tokens:>8} {r.cost_usd:>12.6f}"
        for r in report.records
    ]
    rows.append(
        f"{'total':<12} {report.total_input_tokens:>8} {report.total_output_tokens:>8} "
        f"{report.total_cost_usd:>12.6f}"
    )
    per_1k = report.total_cost_usd / len(report.records) * 1000 if report.records else 0.0
    rows.append(f"model {report.model}: ${per_1k:.4f} per 1,000 emails at this rate")
    return "\n".join(rows)
