"""What the requests cost: a price table, one call's cost, cost per 1,000 requests.

Providers bill input and output tokens at different prices, and input tokens read from their
prompt cache at a discount (OpenAI reports them in ``prompt_tokens_details.cached_tokens``,
Anthropic in ``cache_read_input_tokens``). "Cost per 1,000 requests" is the number a team budgets
with: it is comparable across models, routes and months.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from labkit.fakellm.fleet import PRICES as FLEET_PRICES

# US dollars per 1 million tokens. GIVEN: the fake fleet's own table, plus two real snapshots.
PRICES: dict[str, dict[str, float]] = {
    **FLEET_PRICES,
    "gpt-4o-mini": {"input": 0.15, "cached_input": 0.075, "output": 0.60},
    "gpt-4o": {"input": 2.50, "cached_input": 1.25, "output": 10.00},
}


@dataclass(frozen=True)
class Usage:
    """Tokens of one call. ``cached_tokens`` is the part of ``input_tokens`` read from the
    provider's prompt cache (OpenAI counts it inside prompt_tokens). GIVEN."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0


def cost_usd(model: str, usage: Usage, prices: Mapping[str, Mapping[str, float]] = PRICES) -> float:
    """What one call cost, in US dollars.

    Uncached input tokens at ``input``, cached ones at ``cached_input`` (the ``input`` price when
    the table has no ``cached_input``), output tokens at ``output``; all per 1,000,000 tokens.

    Raises:
        KeyError: the model is not in the table (never price a call at $0 by accident).
    """
    raise NotImplementedError("not implemented yet — see task 2")


def cost_per_1k(records: Iterable[Mapping[str, Any]], by: str) -> dict[str, float]:
    """Cost per 1,000 requests, grouped by ``"route"`` or by ``"model"``.

    Each record is what ``service.handle_request`` returns (``route``, ``cost_usd`` and ``calls``,
    a list of ``{"model", "cost_usd", ...}``).

    - ``by="route"``: for each route, the records on that route: their summed ``cost_usd`` / their
      number * 1000 (what a request on that route costs, per thousand).
    - ``by="model"``: for each model called, the summed ``cost_usd`` of its calls / the number of
      ALL records * 1000 (what that model adds to the bill per thousand requests; these add up to
      the overall cost per 1,000).

    Raises:
        ValueError: ``by`` is neither "route" nor "model".
    """
    raise NotImplementedError("not implemented yet — see task 2")
