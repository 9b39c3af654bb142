"""The fake LLM provider: a real HTTP server speaking the OpenAI and Anthropic wire protocols.

::

    from labkit.fakellm import FakeLLM, reply

    fake = FakeLLM().start()                       # uvicorn on 127.0.0.1, a free port
    fake.script(reply.rate_limited(), reply.text("Hi!"))
    ...                                            # point an SDK at fake.url (+ "/v1" for openai)
    fake.journal.last(path="/v1/chat/completions").body

What answers a request, in order: the script (``fake.script``), the handler (``fake.on``), the
behaviour chain (:mod:`labkit.fakellm.behaviours`). See docs/DESIGN.md for how the pieces fit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.fakellm import reply
    from labkit.fakellm.app import create_app
    from labkit.fakellm.behaviours import Behaviour, default_behaviours
    from labkit.fakellm.conversational import Conversational
    from labkit.fakellm.extractive import ExtractiveAnswerer
    from labkit.fakellm.journal import Journal, JournalEntry
    from labkit.fakellm.schema.filler import SchemaFiller
    from labkit.fakellm.server import FakeLLM
    from labkit.fakellm.state import ProviderState
    from labkit.fakellm.tool_policy import ToolPolicy
    from labkit.fakellm.types import (
        ChatRequest,
        HttpError,
        Message,
        Reply,
        StreamError,
        ToolCall,
        ToolResult,
        ToolSpec,
        Usage,
    )

# Names resolve lazily (PEP 562): `labkit --help`, `make grade` and `make list` import this
# package only to register `serve`, and should not pay for starlette, uvicorn and numpy.
_HOMES = {
    "reply": "labkit.fakellm.reply",
    "create_app": "labkit.fakellm.app",
    "Behaviour": "labkit.fakellm.behaviours",
    "Conversational": "labkit.fakellm.conversational",
    "ExtractiveAnswerer": "labkit.fakellm.extractive",
    "SchemaFiller": "labkit.fakellm.schema.filler",
    "ToolPolicy": "labkit.fakellm.tool_policy",
    "default_behaviours": "labkit.fakellm.behaviours",
    "Journal": "labkit.fakellm.journal",
    "JournalEntry": "labkit.fakellm.journal",
    "FakeLLM": "labkit.fakellm.server",
    "ProviderState": "labkit.fakellm.state",
    **{
        name: "labkit.fakellm.types"
        for name in (
            "ChatRequest",
            "HttpError",
            "Message",
            "Reply",
            "StreamError",
            "ToolCall",
            "ToolResult",
            "ToolSpec",
            "Usage",
        )
    },
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'labkit.fakellm' has no attribute {name!r}")
    module = importlib.import_module(home)
    value = module if name == "reply" else getattr(module, name)
    globals()[name] = value
    return value


__all__ = [
    "Behaviour",
    "ChatRequest",
    "Conversational",
    "ExtractiveAnswerer",
    "FakeLLM",
    "HttpError",
    "Journal",
    "JournalEntry",
    "Message",
    "ProviderState",
    "Reply",
    "SchemaFiller",
    "StreamError",
    "ToolCall",
    "ToolPolicy",
    "ToolResult",
    "ToolSpec",
    "Usage",
    "create_app",
    "default_behaviours",
    "reply",
]
