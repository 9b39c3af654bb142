"""The fallback reply: always answers, shaped by the system persona and the earlier turns."""

from __future__ import annotations

import re
from collections.abc import Sequence

from labkit import lexical
from labkit.fakellm.schema.context import first_sentence
from labkit.fakellm.types import ChatRequest, Message, Reply

_PERSONA_RE = re.compile(r"\byou are\s+([^.!?\n]{1,160})", re.IGNORECASE)
_ACT_AS_RE = re.compile(r"\b(?:act as|play the role of|role:)\s+([^.!?\n]{1,160})", re.IGNORECASE)
_YOUR_NAME_RE = re.compile(r"\b(?i:your name is)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)")
_USER_NAME_RE = re.compile(
    r"\b(?:my name is|call me|i am|i'm)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)", re.IGNORECASE
)


def persona_of(system: str) -> str | None:
    """The persona a system prompt sets: the words after "You are" (or "Act as") up to the end
    of that sentence, at most 12 words; prefixed with "<Name>, " when the prompt also says
    "Your name is <Name>" and the name is not already there."""
    m = _PERSONA_RE.search(system) or _ACT_AS_RE.search(system)
    persona = " ".join(m.group(1).split()[:12]).rstrip(",;: ") if m else None
    named = _YOUR_NAME_RE.search(system)
    if named:
        name = named.group(1)
        if persona is None:
            return name
        if name not in persona:
            return f"{name}, {persona}"
    return persona


class Conversational:
    """The fallback reply: deterministic, and visibly shaped by the persona and the history.

    The reply is built from up to four parts, in this order:

    - ``As <persona>: `` when the system prompt sets one (see :func:`persona_of`); else, when
      there is a system prompt, ``Following the instructions "<its first sentence>": ``;
    - ``You said: "<last user message, clipped to 200 characters>".``;
    - when there were earlier user turns: `` This is message <k> of our conversation; before
      that you said: "<previous user message, clipped to 120 characters>".`` (k counts user
      messages, this one included);
    - when an earlier user message said "my name is X" / "call me X" / "I'm X" (X capitalised):
      `` Your name is X.``
    """

    blocking = False  # pure and fast: may run on the server's event loop

    def respond(self, request: ChatRequest) -> Reply:
        """Always a text reply."""
        users = [m for m in request.messages if m.role == "user"]
        prefix = ""
        if request.system.strip():
            persona = persona_of(request.system)
            if persona:
                prefix = f"As {persona}: "
            else:
                prefix = f'Following the instructions "{lexical.clip(first_sentence(request.system, 20), 100)}": '
        last = users[-1].text.strip() if users else ""
        body = (
            f'You said: "{lexical.clip(last, 200)}".'
            if last
            else "You sent a message without text."
        )
        memory = ""
        if len(users) > 1:
            previous = lexical.clip(users[-2].text.strip(), 120)
            memory = (
                f" This is message {len(users)} of our conversation; before that you said: "
                f'"{previous}".'
            )
        name = _remembered_name(users[:-1])
        if name:
            memory += f" Your name is {name}."
        return Reply(text=prefix + body + memory)


def _remembered_name(earlier: Sequence[Message]) -> str | None:
    for message in reversed(earlier):
        m = _USER_NAME_RE.search(message.text)
        if (
            m
            and m.group(1)[0].isupper()
            and m.group(1).split()[0].lower() not in lexical.STOP_WORDS
        ):
            return m.group(1)
    return None
