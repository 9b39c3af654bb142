"""The two providers' dialects (error shape, request-id header) and what every route reads from a
Starlette request: its headers, its JSON body, its journal entry, OpenAI's bearer auth."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from labkit.fakellm.anthropic import errors as anthropic_errors
from labkit.fakellm.journal import JournalEntry
from labkit.fakellm.openai import errors as openai_errors
from labkit.fakellm.transport import json_response
from labkit.fakellm.types import Api, HttpError, RequestError


@dataclass(frozen=True)
class Dialect:
    """How one endpoint renders errors and request ids."""

    api: Api
    request_id_header: str

    def error(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """An error response in this provider's shape."""
        if self.api == "anthropic":
            if param and not message.startswith(param.split(".")[0]):
                message = f"{param}: {message}"
            body = anthropic_errors.error_body(status, message, type=type)
        else:
            body = openai_errors.error_body(status, message, type=type, param=param)
        return json_response(body, status, headers)

    def scripted_error(self, error: HttpError, headers: dict[str, str]) -> Response:
        """A scripted HTTP error (its headers merged over the request-id header)."""
        body = (
            anthropic_errors.http_error_body(error)
            if self.api == "anthropic"
            else openai_errors.http_error_body(error)
        )
        return json_response(body, error.status, {**headers, **dict(error.headers)})


OPENAI = Dialect("openai", "x-request-id")
ANTHROPIC = Dialect("anthropic", "request-id")


def dialect_for(request: Request) -> Dialect:
    """Anthropic's when the request carries ``anthropic-version`` (its SDK always does)."""
    return ANTHROPIC if request.headers.get("anthropic-version") else OPENAI


def headers_of(request: Request) -> dict[str, str]:
    """The request headers, names lower-cased."""
    return {k.lower(): v for k, v in request.headers.items()}


async def json_body(request: Request) -> Any:
    """The parsed JSON body (None when empty), or a 400 in OpenAI's words."""
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise RequestError(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
            "using your HTTP library correctly. The API expects a JSON payload.)"
        ) from exc


def check_openai_auth(headers: dict[str, str]) -> None:
    """A 401 unless there is a non-empty ``Authorization: Bearer`` key."""
    auth = headers.get("authorization", "")
    if not auth.lower().startswith("bearer ") or not auth[7:].strip():
        raise RequestError(
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            status=401,
        )


def journal_entry(request: Request) -> JournalEntry | None:
    """The journal entry the middleware recorded for this request."""
    found = request.scope.get("state", {}).get("journal_entry")
    return found if isinstance(found, JournalEntry) else None
