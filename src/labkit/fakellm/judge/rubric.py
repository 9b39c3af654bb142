"""A learner's LLM-as-judge prompt: how explicit its rubric is (:class:`Rubric`) and the seeded,
deterministic grader that answers it (:class:`RubricJudge`)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from labkit import lexical
from labkit.fakellm.judge.text import judge_answer
from labkit.fakellm.types import ChatRequest, Reply

_SECTION = re.compile(
    r"^[ \t]*(?:#+\s*|\*\*)?(question|context|sources|retrieved context|answer a|answer b|answer"
    r"|response)(?:\*\*)?[ \t]*:[ \t]*(.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_JUDGE_WORDS = re.compile(r"\b(?:judge|grade|grader|evaluat\w*|rubric|verdict|assess\w*)\b", re.I)
CRITERIA = {
    "grounding": re.compile(
        r"\b(?:supported|unsupported|grounded|invent\w*|fabricat\w*|hallucinat\w*)\b", re.I
    ),
    "numbers": re.compile(r"\b(?:numbers?|numeric|figures?|amounts?|values?)\b", re.I),
    "refusals": re.compile(r"\b(?:refus\w*|declin\w*|don['’]t know|do not know)\b", re.I),
    "completeness": re.compile(r"\b(?:complete\w*|partial\w*|missing|incomplete)\b", re.I),
}
_ANCHOR = r"(?im)^\W*[\"'`]?{label}[\"'`]?\s*(?::|=|-|–|—|means\b|if\b|when\b)\s*\S"


@dataclass(frozen=True)
class Rubric:
    """What the fake reads in a judge prompt's instructions (everything but the judged texts).

    - ``criteria``: the instructions name at least three of the four checks of
      :data:`CRITERIA` — grounding (supported / grounded / invented / hallucinated...), numbers
      (number / figure / amount / value), refusals (refuse / decline / "don't know") and
      completeness (complete / partial / missing);
    - ``anchored``: both verdicts are defined on their own line: a line that starts (after list
      markers or quotes) with ``pass`` and one with ``fail``, followed by ``:``, ``=``, a dash,
      ``means``, ``if`` or ``when`` and a definition;
    - ``json_verdict``: the instructions say ``JSON`` and ``verdict``, or the request asks for
      ``response_format`` ``json_object`` / ``json_schema``.
    """

    criteria: bool
    anchored: bool
    json_verdict: bool
    json_mode: bool

    @property
    def explicit(self) -> bool:
        """All three: criteria, an anchored scale and a JSON verdict."""
        return self.criteria and self.anchored and self.json_verdict


def rubric_of(instructions: str, request: ChatRequest | None = None) -> Rubric:
    """How explicit the instructions of a judge prompt are (rules: :class:`Rubric`)."""
    named = sum(1 for pattern in CRITERIA.values() if pattern.search(instructions))
    anchored = all(
        re.search(_ANCHOR.format(label=label), instructions) for label in ("pass", "fail")
    )
    json_mode = request is not None and request.response_format in ("json_object", "json_schema")
    asks_json = (
        bool(re.search(r"\bjson\b", instructions, re.I)) and "verdict" in instructions.lower()
    )
    return Rubric(named >= 3, anchored, asks_json or json_mode, json_mode)


def _draw(key: str, what: str) -> float:
    """A deterministic uniform number in [0, 1) from ``key`` and the flaw's name."""
    digest = hashlib.sha256(f"{what}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class RubricJudge:
    """A learner's LLM-as-judge: grade one answer (or pick the better of two) against a rubric.

    **When it applies.** The prompt (system and user text) uses a judging word (judge, grade,
    evaluate, rubric, verdict, assess) and has labelled sections, each a line starting with its
    label and a colon (``Question:``, ``Context:`` or ``Sources:``, ``Answer:`` or
    ``Response:``); a section runs to the next label. With ``Answer A:`` and ``Answer B:`` it is
    a pairwise comparison. The *instructions* are the prompt without the sections' texts.

    **The honest verdict** is :func:`judge_answer` (support in the context, numbers, refusals;
    not completeness). Then four flaws, each drawn from a hash of the judged texts (and the
    request's ``seed``), so the same request always gets the same reply, and a more explicit
    rubric compares the same draws with smaller rates: its errors are (nearly) a subset of the
    vague rubric's:

    =====================  ===========================  =============  =========================
    flaw                   what happens                 vague rubric   shrinks to, when
    =====================  ===========================  =============  =========================
    noise                  the verdict is flipped       ``noise``      ``noise_explicit`` with
                                                        0.30           criteria (0.03)
    verbosity bias         a failing answer of 30+      ``verbosity``  ``verbosity_explicit``
                           words passes                 0.60           with an anchored scale (0.05)
    position bias          pairwise: answer A wins      ``position``   ``position_explicit``
                           whatever it says             0.35           with an anchored scale (0.05)
    malformed output       not valid JSON / off-scale   ``malformed``  ``malformed_explicit`` with
                                                        0.12           a JSON verdict (0.02); 0 in
                                                                       JSON mode
    =====================  ===========================  =============  =========================

    The reply is ``{"verdict": "pass" | "fail", "reason": "..."}`` (pairwise: ``{"winner": "A" |
    "B" | "tie", "reason": ...}``); malformed replies rotate between prose (``Verdict: PASS``),
    truncated JSON and an off-scale verdict (``"mostly correct"``). See :class:`Rubric` for what
    "criteria", "anchored scale" and "JSON verdict" mean to the fake.
    """

    LONG_ANSWER_WORDS = 30

    def __init__(
        self,
        *,
        noise: float = 0.30,
        noise_explicit: float = 0.03,
        verbosity: float = 0.60,
        verbosity_explicit: float = 0.05,
        position: float = 0.35,
        position_explicit: float = 0.05,
        malformed: float = 0.12,
        malformed_explicit: float = 0.02,
    ) -> None:
        self.noise, self.noise_explicit = noise, noise_explicit
        self.verbosity, self.verbosity_explicit = verbosity, verbosity_explicit
        self.position, self.position_explicit = position, position_explicit
        self.malformed, self.malformed_explicit = malformed, malformed_explicit

    def sections(self, request: ChatRequest) -> tuple[dict[str, str], str] | None:
        """(sections by label, instructions) of a judge prompt, or None."""
        text = "\n".join([request.system, *(m.text for m in request.messages if m.role == "user")])
        if not _JUDGE_WORDS.search(text):
            return None
        found: dict[str, str] = {}
        matches = list(_SECTION.finditer(text))
        spans: list[tuple[int, int]] = []
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            label = m.group(1).lower()
            label = {
                "sources": "context",
                "retrieved context": "context",
                "response": "answer",
            }.get(label, label)
            body = (m.group(2) + text[m.end() : end]).strip()
            found[label] = body
            spans.append((m.start(), end))
        if "question" not in found or "context" not in found:
            return None
        if "answer" not in found and not ("answer a" in found and "answer b" in found):
            return None
        instructions, pos = [], 0
        for start, end in spans:
            instructions.append(text[pos:start])
            pos = end
        instructions.append(text[pos:])
        return found, "".join(instructions)

    def respond(self, request: ChatRequest) -> Reply | None:
        """A JSON verdict (possibly flawed), or None when the request is not a judge prompt."""
        parsed = self.sections(request)
        if parsed is None:
            return None
        found, instructions = parsed
        rubric = rubric_of(instructions, request)
        key = json.dumps([found, request.seed], sort_keys=True)
        if "answer a" in found and "answer b" in found and "answer" not in found:
            body = self._pairwise(found, rubric, key)
        else:
            body = self._single(found, rubric, key)
        malformed = (
            0.0
            if rubric.json_mode
            else (self.malformed_explicit if rubric.json_verdict else self.malformed)
        )
        u = _draw(key, "malformed")
        if u < malformed:
            return Reply(text=_malformed(body, int(u * 1000) % 3))
        return Reply(text=json.dumps(body))

    def _single(self, found: dict[str, str], rubric: Rubric, key: str) -> dict[str, Any]:
        answer = found["answer"]
        verdict, reason = judge_answer(found["question"], found["context"], answer)
        verbosity = self.verbosity_explicit if rubric.anchored else self.verbosity
        if (
            not verdict
            and len(lexical.words(answer)) >= self.LONG_ANSWER_WORDS
            and _draw(key, "verbosity") < verbosity
        ):
            verdict, reason = True, "The answer is detailed and thorough."
        noise = self.noise_explicit if rubric.criteria else self.noise
        if _draw(key, "noise") < noise:
            verdict = not verdict
            reason = "On balance, " + (
                "the answer seems acceptable." if verdict else "the answer falls short."
            )
        return {"verdict": "pass" if verdict else "fail", "reason": reason}

    def _pairwise(self, found: dict[str, str], rubric: Rubric, key: str) -> dict[str, Any]:
        a, _ = judge_answer(found["question"], found["context"], found["answer a"])
        b, _ = judge_answer(found["question"], found["context"], found["answer b"])
        winner = "tie" if a == b else ("A" if a else "B")
        position = self.position_explicit if rubric.anchored else self.position
        if _draw(key, "position") < position:
            return {"winner": "A", "reason": "Answer A is better."}
        noise = self.noise_explicit if rubric.criteria else self.noise
        if winner != "tie" and _draw(key, "noise") < noise:
            winner = "B" if winner == "A" else "A"
        return {
            "winner": winner,
            "reason": f"Answer {winner} is better supported."
            if winner != "tie"
            else "Both are equally good.",
        }


def _malformed(body: dict[str, Any], which: int) -> str:
    verdict = str(body.get("verdict", body.get("winner", "pass")))
    if which == 0:
        return f"Verdict: {verdict.upper()}. {body.get('reason', '')}"
    if which == 1:
        return json.dumps(body)[: max(12, len(json.dumps(body)) // 2)]
    off = {**body}
    off["verdict" if "verdict" in body else "winner"] = "mostly correct"
    return json.dumps(off)
