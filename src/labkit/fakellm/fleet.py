"""A fleet of fake models with different price, latency and quality: what LLMOps labs measure.

Real deployments choose between models: a cheap fast one that is right on easy questions and
often wrong on hard ones, and a strong slow one that costs ten times more. This module makes the
fake provider serve such a fleet (:data:`FLEET`, the one price table for it is :data:`PRICES`).
It answers arithmetic questions ("What is 17 plus 25?", "What is (12 + 7) * 3 - 4?") because their
right answer is computable, so quality can be measured without a judge:

- **difficulty** is derived from the question: one operator is ``easy``, two or more ``hard``
  (:func:`difficulty`);
- **outcome**: whether the model answers right is a seeded draw, a pure function of ``seed``, the
  model, the system prompt and the question (:func:`outcome`): the same request always gets the
  same answer (like temperature 0), different requests are independent draws with the model's
  accuracy for that difficulty. A system prompt that asks to think "step by step" raises accuracy
  on hard questions (:data:`STEP_BY_STEP_BONUS`) and costs more output tokens — an effect for an
  A/B test to find. A wrong answer is a near miss with a lower self-reported confidence, or now
  and then a refusal ("I am not sure.") with no answer at all;
- **reply format**: ``Answer: <int>`` then ``Confidence: <0.00-1.00>`` (after a ``Reasoning:``
  line for step-by-step prompts);
- **latency**: ``latency_ms`` (lognormal spread) plus ``ms_per_output_token``, slept for real by the
  server after scaling by ``time_scale`` (default ``LABKIT_FLEET_TIME_SCALE`` or 0.1), so span
  durations show the fleet's shape while a test suite stays fast;
- **prompt caching**: a prompt of at least :data:`CACHE_MIN_TOKENS` tokens that repeats the start
  of an earlier prompt to the same model reports the repeated part (in blocks of
  :data:`CACHE_BLOCK_TOKENS`, as OpenAI does) as cached: ``prompt_tokens_details.cached_tokens``
  on OpenAI, ``cache_read_input_tokens`` on Anthropic (where ``input_tokens`` then counts only the
  uncached rest, as the real API does).

Every call served is appended to :attr:`Fleet.served` (model, tokens, outcome), which is how a
grader checks a learner's token accounting against what the provider billed. Requests for other
model ids, or without an arithmetic question, fall through to the next behaviour.
"""

from __future__ import annotations

import ast
import hashlib
import math
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from labkit.fakellm.completion import prompt_tokens
from labkit.fakellm.types import ChatRequest, Reply, Usage
from labkit.tokens import count_tokens, encode

__all__ = [
    "CACHE_BLOCK_TOKENS",
    "CACHE_MIN_TOKENS",
    "FLEET",
    "PRICES",
    "STEP_BY_STEP_BONUS",
    "Fleet",
    "ModelProfile",
    "Outcome",
    "ServedCall",
    "difficulty",
    "evaluate",
    "expression_of",
    "outcome",
]

CACHE_MIN_TOKENS = 1024
CACHE_BLOCK_TOKENS = 128


@dataclass(frozen=True)
class ModelProfile:
    """One model of the fleet: prices in US dollars per 1M tokens, latency, accuracy."""

    id: str
    input: float
    cached_input: float
    output: float
    latency_ms: float
    ms_per_output_token: float
    accuracy: Mapping[str, float]


FLEET: dict[str, ModelProfile] = {
    p.id: p
    for p in (
        ModelProfile("fleet-small", 0.10, 0.025, 0.40, 250.0, 4.0, {"easy": 0.95, "hard": 0.30}),
        ModelProfile("fleet-medium", 0.60, 0.15, 2.40, 600.0, 10.0, {"easy": 0.97, "hard": 0.65}),
        ModelProfile("fleet-large", 3.00, 0.75, 12.00, 1500.0, 20.0, {"easy": 0.99, "hard": 0.92}),
    )
}

# The price table, in the shape labs use: model -> {"input", "cached_input", "output"} $ per 1M.
PRICES: dict[str, dict[str, float]] = {
    p.id: {"input": p.input, "cached_input": p.cached_input, "output": p.output}
    for p in FLEET.values()
}

# Added to P(correct) when the system prompt asks to think step by step (capped at 0.99).
STEP_BY_STEP_BONUS: dict[str, float] = {"easy": 0.0, "hard": 0.25}

_WORDS = [
    (re.compile(r"\bmultiplied by\b|\btimes\b", re.I), "*"),
    (re.compile(r"\bplus\b|\badded to\b", re.I), "+"),
    (re.compile(r"\bminus\b", re.I), "-"),
]
_EXPR = re.compile(r"[\d(][\d\s+\-*()]*[\d)]|\d")


def expression_of(question: str) -> str | None:
    """The arithmetic expression in a question (``plus``/``minus``/``times`` become operators),
    the longest run of digits, operators and parentheses; None when there is none."""
    text = question
    for pattern, op in _WORDS:
        text = pattern.sub(op, text)
    runs = [m.group(0).strip() for m in _EXPR.finditer(text)]
    runs = [r for r in runs if any(c.isdigit() for c in r)]
    return max(runs, key=len) if runs else None


def _eval(node: ast.AST) -> int:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult):
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        return left * right
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand)
    raise ValueError("not an integer expression of + - *")


def evaluate(question: str) -> int | None:
    """The right answer to an arithmetic question (None when it has no valid expression)."""
    expr = expression_of(question)
    if expr is None:
        return None
    try:
        return _eval(ast.parse(expr, mode="eval"))
    except (SyntaxError, ValueError, RecursionError):
        return None


def difficulty(question: str) -> str:
    """``easy`` for at most one operator, ``hard`` for two or more (what the fleet's accuracy
    depends on)."""
    expr = expression_of(question) or ""
    ops = sum(expr.count(op) for op in "+-*")
    return "easy" if ops <= 1 else "hard"


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _uniforms(*parts: object, n: int = 3) -> list[float]:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return [int.from_bytes(digest[8 * i : 8 * i + 8], "big") / 2**64 for i in range(n)]


@dataclass(frozen=True)
class Outcome:
    """What a fleet model answers to one question: the text and how it was drawn."""

    model: str
    difficulty: str
    correct: bool
    refused: bool
    answer: int | None
    confidence: float
    text: str
    simulated_ms: float


def step_by_step(system: str) -> bool:
    """Whether a system prompt asks the model to think step by step."""
    return "step by step" in system.lower()


def outcome(seed: int, model: str, system: str, question: str) -> Outcome | None:
    """The fleet's answer to ``question`` under ``system`` on ``model`` (None: not a fleet
    model, or no arithmetic in the question). A pure function: graders call it to know what
    the provider answered."""
    profile = FLEET.get(model)
    right = evaluate(question)
    if profile is None or right is None:
        return None
    level = difficulty(question)
    u_correct, u_conf, u_lat = _uniforms(seed, model, _normal(system), _normal(question))
    p = profile.accuracy[level]
    thinks = step_by_step(system)
    if thinks:
        p = min(0.99, p + STEP_BY_STEP_BONUS[level])
    correct = u_correct < p
    refused = False
    if correct:
        answer: int | None = right
        confidence = 0.62 + 0.37 * u_conf
    else:
        # a near miss; one wrong answer in five is a refusal instead
        miss = 1 + int(u_conf * 1000) % 9
        answer = right + (miss if int(u_conf * 10_000) % 2 else -miss)
        confidence = 0.15 + 0.6 * u_conf
        refused = int(u_conf * 100_000) % 5 == 0
        if refused:
            answer = None
    lines = []
    if thinks:
        expr = expression_of(question) or question
        lines.append(f"Reasoning: I evaluate {expr} one operation at a time, left to right.")
    lines.append("I am not sure." if answer is None else f"Answer: {answer}")
    lines.append(f"Confidence: {confidence:.2f}")
    text = "\n".join(lines)
    out_tokens = count_tokens(text)
    spread = math.exp(0.35 * math.sqrt(2) * _erfinv(2 * u_lat - 1)) if 0 < u_lat < 1 else 1.0
    simulated = profile.latency_ms * spread + profile.ms_per_output_token * out_tokens
    return Outcome(
        model, level, correct, refused, answer, round(confidence, 2), text, round(simulated, 3)
    )


def _erfinv(y: float) -> float:
    """Inverse error function (Winitzki's approximation, refined by two Newton steps)."""
    y = max(-0.999999, min(0.999999, y))
    a = 0.147
    ln = math.log(1 - y * y)
    first = 2 / (math.pi * a) + ln / 2
    x = math.copysign(math.sqrt(math.sqrt(first * first - ln / a) - first), y)
    for _ in range(2):
        x -= (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
    return x


@dataclass(frozen=True)
class ServedCall:
    """One request the fleet answered: what it billed and what it answered."""

    model: str
    question: str
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    outcome: Outcome


def _time_scale() -> float:
    try:
        return float(os.environ.get("LABKIT_FLEET_TIME_SCALE", "0.1"))
    except ValueError:
        return 0.1


@dataclass
class Fleet:
    """The behaviour serving :data:`FLEET` (put it first in the chain; see module doc).

    ``seed`` draws the outcomes (a lab's ``lab_seed``); ``time_scale`` multiplies the simulated
    latency into a real delay (0 for none). Prompt-cache state and :attr:`served` live on the
    instance: make a new Fleet for a fresh provider.
    """

    seed: int = 0
    time_scale: float = field(default_factory=_time_scale)
    served: list[ServedCall] = field(default_factory=list)
    _prefixes: dict[str, set[bytes]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def respond(self, request: ChatRequest) -> Reply | None:
        """Answer a fleet model's arithmetic question (None for anything else)."""
        if request.model not in FLEET or request.endpoint == "embeddings":
            return None
        drawn = outcome(self.seed, request.model, request.system, request.last_user_text)
        if drawn is None:
            return None
        prompt = prompt_tokens(request)
        completion = count_tokens(drawn.text)
        cached = min(self._cached(request), prompt)
        with self._lock:
            self.served.append(
                ServedCall(request.model, request.last_user_text, prompt, cached, completion, drawn)
            )
        return Reply(
            text=drawn.text,
            usage=Usage(prompt, completion, cached),
            delay=drawn.simulated_ms / 1000 * max(self.time_scale, 0.0),
        )

    def _cached(self, request: ChatRequest) -> int:
        """Tokens of this prompt's start already seen by the same model (0 below the minimum),
        remembering this prompt's prefixes for the next request."""
        tokens = encode("\n".join(request.prompt_texts()))
        if len(tokens) < CACHE_MIN_TOKENS:
            return 0
        digest = hashlib.sha256()
        keys: list[tuple[int, bytes]] = []
        done = 0
        for end in range(CACHE_MIN_TOKENS, len(tokens) + 1, CACHE_BLOCK_TOKENS):
            digest.update(repr(tokens[done:end]).encode("ascii"))
            done = end
            keys.append((end, digest.copy().digest()))
        with self._lock:
            seen = self._prefixes.setdefault(request.model, set())
            hit = max((end for end, key in keys if key in seen), default=0)
            seen.update(key for _, key in keys)
        return hit

    def reset(self) -> None:
        """Forget the prompt cache and the served calls."""
        with self._lock:
            self._prefixes.clear()
            self.served.clear()
