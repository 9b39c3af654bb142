"""The tool-using policy: call the tool that best matches the user's words, with arguments
filled from them; answer from tool results once they come back (rules in :class:`ToolPolicy`)."""

from __future__ import annotations

import json
import re

from labkit import lexical
from labkit.fakellm import extract
from labkit.fakellm.extractive import ExtractiveAnswerer
from labkit.fakellm.schema.filler import SchemaFiller
from labkit.fakellm.sources import find_sources
from labkit.fakellm.types import ChatRequest, Reply, ToolCall, ToolSpec

# Words that say "do something" rather than "what": ignored when matching a request to a tool.
TOOL_STOP_WORDS = frozenset(
    """get fetch lookup look find retrieve call run tool tools function use using return returns
    given specified provided user data information current api make do check""".split()
)
# Cues that add words to the request before matching, so "What is 17 * 23?" finds a calculator.
_EXPRESSION_WORDS = {"calcul", "math", "arithmetic", "expression", "comput", "evaluat"}
_WEATHER_CUES = {
    "weather",
    "temperatur",
    "rain",
    "sunny",
    "forecast",
    "wind",
    "snow",
    "hot",
    "cold",
}
_WEATHER_WORDS = {"weather", "forecast", "temperatur"}
_QUESTION_WORDS = {"search", "queri", "knowledg", "lookup", "retriev", "doc", "wiki", "kb"}
_WH = re.compile(r"^\s*(?:what|who|when|where|which|why|how)\b", re.IGNORECASE)


class ToolPolicy:
    """Call tools the way a sensible model would — deterministically.

    **Tool results came back** (the conversation ends with tool results): answer in text. If the
    results contain numbered sources, the :class:`ExtractiveAnswerer` answers the last user
    question from them. Otherwise the reply is ``Based on the tool results: <name> returned
    <content>.`` for each result (``<name> failed: <content>.`` for an error result; content
    clipped to 400 characters). So an agent loop always ends after one round of tools — unless
    ``tool_choice`` is ``required``, which forces another call.

    **The last message is a user turn and tools are offered** (``tool_choice`` not ``none``):
    each tool is scored against the user text's content words (stemmed; stop words and generic
    verbs like get/fetch/lookup/tool removed): 3 × words shared with the tool NAME + 1 × words
    shared with its description + 1 × words shared with its parameter names. Cue words are added
    to the user words first: an arithmetic expression adds calculator/math/expression words
    (weight as user words); a weather word adds weather/forecast; a question (``?`` or a
    wh-word) adds search/knowledge/lookup words at weight 2 for names and 1 for descriptions.
    The best tool (ties: the earlier one) is called when its score is at least 2, or whatever
    its score when ``tool_choice`` is ``required`` (Anthropic ``any``).

    Arguments are filled from the user text by the JSON-schema rules of
    :mod:`labkit.fakellm.schema.fill` (quoted strings, numbers, ids like ``C-1001``, emails,
    dates, names, places; ``query``-like parameters get the search phrase). When the text holds
    several ids or emails and the tool's first required string parameter takes that kind of
    value, one call per value is made in parallel (unless ``parallel_tool_calls`` is false).
    """

    # Not ``blocking = False``: free-text answers come from ExtractiveAnswerer, which runs MiniLM.

    MIN_SCORE = 2

    def __init__(self, answerer: ExtractiveAnswerer | None = None) -> None:
        self.answerer = answerer or ExtractiveAnswerer()
        self._filler = SchemaFiller(self.answerer)

    def respond(self, request: ChatRequest) -> Reply | None:
        """Tool calls, or a text answer from tool results; None when neither applies."""
        last = request.last_message
        if last is None:
            return None
        if last.role == "tool" and request.tool_choice != "required":
            return self._answer_from_results(request)
        if not request.tools or request.tool_choice == "none":
            return None
        if last.role not in ("user", "tool"):
            return None
        tool = self.choose(request)
        if tool is None:
            return None
        return Reply(tool_calls=tuple(self._calls(tool, request)))

    def score(self, tool: ToolSpec, request: ChatRequest) -> int:
        """The match score of ``tool`` for the last user message (rules: class doc)."""
        text = request.last_user_text
        user = lexical.content_set(text, TOOL_STOP_WORDS)
        if extract.expressions(text):
            user |= _EXPRESSION_WORDS
        if user & _WEATHER_CUES:
            user |= _WEATHER_WORDS
        extra = _QUESTION_WORDS if ("?" in text or _WH.match(text)) else set()
        extra = extra - user
        name = {lexical.stem(w) for w in lexical.identifier_words(tool.name)} - {
            lexical.stem(w) for w in TOOL_STOP_WORDS | lexical.STOP_WORDS
        }
        description = lexical.content_set(tool.description, TOOL_STOP_WORDS)
        params = set()
        for pname in tool.parameters.get("properties") or {}:
            params |= {lexical.stem(w) for w in lexical.identifier_words(pname)}
        params -= {lexical.stem(w) for w in lexical.STOP_WORDS}
        return (
            3 * len(user & name)
            + len(user & description)
            + len(user & params)
            + 2 * len(extra & name)
            + len(extra & description)
        )

    def choose(self, request: ChatRequest) -> ToolSpec | None:
        """The tool to call, or None when no tool matches well enough under ``auto``."""
        best: ToolSpec | None = None
        best_score = -1
        for tool in request.tools:
            s = self.score(tool, request)
            if s > best_score:
                best, best_score = tool, s
        if best is None:
            return None
        if best_score >= self.MIN_SCORE or request.tool_choice == "required":
            return best
        return None

    def _calls(self, tool: ToolSpec, request: ChatRequest) -> list[ToolCall]:
        args = self._filler.fill(
            dict(tool.parameters) or {"type": "object", "properties": {}}, request
        )
        calls = [ToolCall(tool.name, json.dumps(args))]
        if not request.parallel_tool_calls or not isinstance(args, dict):
            return calls
        props = tool.parameters.get("properties") or {}
        required = [r for r in tool.parameters.get("required", list(props)) if r in props]
        target = next((r for r in required if (props[r] or {}).get("type") == "string"), None)
        if target is None:
            return calls
        text = request.last_user_text
        for kind in ("id", "email"):
            values = list(dict.fromkeys(f.value for f in extract.KINDS[kind](text)))
            if len(values) > 1 and args.get(target) in values:
                return [
                    ToolCall(tool.name, json.dumps({**args, target: value})) for value in values[:5]
                ]
        return calls

    def _answer_from_results(self, request: ChatRequest) -> Reply:
        results = request.trailing_tool_results
        if any(find_sources(r.content) for r in results):
            found = self.answerer.answer(request)
            if found is not None:
                return Reply(text=found.text)
        parts = []
        for r in results:
            name = r.tool_name or "the tool"
            content = lexical.clip(r.content, 400)
            parts.append(
                f"{name} failed: {content}" if r.is_error else f"{name} returned {content}"
            )
        return Reply(text="Based on the tool results: " + "; ".join(parts) + ".")
