"""Turn one support email into a validated ``SupportTicket``.

The model is asked for JSON that follows the ticket's JSON Schema (strict structured output); its
reply is validated with pydantic; when validation fails, the model is shown its reply and the
exact validation error and asked again, a bounded number of times. Every request goes through our
own retry loop (retry.py), and every reply's token usage is added up (costs.py).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai
from costs import Usage, usage_of
from pydantic import BaseModel, ValidationError
from retry import RetryPolicy, call_with_retries
from ticket import SupportTicket

from labkit import config

# GIVEN. The prompt is short on purpose: the JSON Schema (field names, enums, descriptions) carries
# most of the instructions, and the model sees it with every request.
SYSTEM_PROMPT = (
    "You turn customer-support emails into support tickets. Reply with one JSON object that "
    "follows the given schema and nothing else. Copy names, email addresses, order ids and product "
    "names exactly as written in the email. Use null for anything the email does not say; never "
    "invent a value. Write dates as YYYY-MM-DD. Urgency is high when the customer says it is "
    "urgent, names a deadline within a day or two or reports a safety risk, low when they say "
    "there is no rush, medium otherwise."
)

DEFAULT_MAX_REASKS = 2


@dataclass(frozen=True)
class Extraction:
    """A successful extraction. GIVEN.

    Attributes:
        record: the validated ticket.
        model: the model the requests were sent to.
        usage: tokens summed over every reply received for this email (re-asks included).
        replies: how many replies the model sent (1 + the number of re-asks).
    """

    record: SupportTicket
    model: str
    usage: Usage
    replies: int


class ExtractionError(Exception):
    """The model gave no valid record within the allowed re-asks. GIVEN.

    ``replies`` is how many replies were received, ``usage`` what they cost in tokens (a failure
    is billed too), ``last_error`` the validation error of the last reply.
    """

    def __init__(
        self, message: str, *, replies: int, usage: Usage, last_error: ValidationError
    ) -> None:
        super().__init__(message)
        self.replies = replies
        self.usage = usage
        self.last_error = last_error


def make_client(policy: RetryPolicy) -> openai.OpenAI:
    """An OpenAI client for the configured provider, with the SDK's own retries switched off.

    Args:
        policy: supplies the per-request ``timeout``.

    Returns:
        ``labkit.config.openai_client(...)`` with ``max_retries=0`` and ``timeout=policy.timeout``.
    """
    raise NotImplementedError("not implemented yet — see task 1")


def strict_json_schema(model_cls: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of ``model_cls``, tightened for strict structured output.

    Args:
        model_cls: a pydantic model class.

    Returns:
        ``model_cls.model_json_schema()`` in which every object schema — the root, nested
        models, ``$defs`` — has ``"additionalProperties": false`` and lists every one of its
        properties in ``required``.
    """
    raise NotImplementedError("not implemented yet — see task 1")


def response_format(model_cls: type[BaseModel]) -> dict[str, Any]:
    """The ``response_format`` request parameter asking for JSON that follows ``model_cls``.

    Args:
        model_cls: a pydantic model class.

    Returns:
        ``{"type": "json_schema", "json_schema": {"name": <the class name>, "schema":
        strict_json_schema(model_cls), "strict": True}}``.
    """
    raise NotImplementedError("not implemented yet — see task 1")


def build_messages(email_text: str) -> list[dict[str, str]]:
    """The first request's messages for one email.

    Args:
        email_text: the email, headers included.

    Returns:
        A system message with ``SYSTEM_PROMPT``, then a user message that contains the email text.
    """
    raise NotImplementedError("not implemented yet — see task 1")


def reask_messages(
    messages: list[dict[str, str]], reply_text: str, error: ValidationError
) -> list[dict[str, str]]:
    """The messages of the next request after a reply failed validation.

    Args:
        messages: the messages of the request that got the bad reply (not modified).
        reply_text: what the model replied.
        error: why the reply was rejected.

    Returns:
        ``messages`` + the model's reply as an assistant message + a user message that contains
        ``str(error)`` and asks for a corrected JSON object.
    """
    raise NotImplementedError("not implemented yet — see task 2")


def extract_ticket(
    email_text: str,
    *,
    client: openai.OpenAI | None = None,
    model: str | None = None,
    policy: RetryPolicy | None = None,
    max_reasks: int = DEFAULT_MAX_REASKS,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Extraction:
    """Extract a validated ticket from one email, re-asking on invalid replies.

    Args:
        email_text: the email.
        client: the client to use (default: ``make_client(policy)``).
        model: the model id (default: ``labkit.config.chat_model()``).
        policy: retry policy for every request (default: ``RetryPolicy()``).
        max_reasks: how many times to re-ask after an invalid reply (so at most
            ``1 + max_reasks`` replies).
        sleep: passed to ``call_with_retries``.
        rng: passed to ``call_with_retries``.

    Returns:
        The Extraction, with the usage of every reply received.

    Raises:
        ExtractionError: the last allowed reply was still invalid.
        RetriesExhaustedError, or a non-retryable openai error: from ``call_with_retries``.
    """
    raise NotImplementedError("not implemented yet — see task 1")
