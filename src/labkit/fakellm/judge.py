"""The fake provider as an evaluation judge: RAGAS's prompts, and a learner's LLM-as-judge rubric.

Two behaviours, placed in the default chain before :class:`~labkit.fakellm.schema.filler.SchemaFiller`
(which would otherwise echo the prompt into the schema: faithfulness 1.0, recall 0.0):

:class:`RagasJudge` answers the five prompts of ``ragas.metrics.collections`` (0.4.x), recognised
by the output schema embedded in the prompt (or sent as ``response_format``), with judgements
computed from the texts, so the metrics move the right way:

==============================  =====================================  ===============================
output schema                   prompt                                 answer
==============================  =====================================  ===============================
``{statements: [str]}``         statement generation (Faithfulness)    the answer's sentences,
                                                                       ``[n]`` citations removed
``{statements: [{statement,     NLI verdicts (Faithfulness)            ``verdict`` = :func:`supported`
reason, verdict}]}``                                                   (statement, context)
``{reason, verdict}``           context precision (one context)        1 when the context supports a
                                                                       statement of the reference
                                                                       (:func:`useful`)
``{classifications: [{state-    context recall                         one item per reference
ment, reason, attributed}]}``                                          sentence, ``attributed`` =
                                                                       :func:`supported`
``{question, noncommittal}``    answer relevance                       the response's first statement
                                                                       as a question; noncommittal 1
                                                                       for a refusal ("I don't know")
==============================  =====================================  ===============================

The prompt's input is the last JSON object in the user text that has the keys the prompt needs
(``statements``/``context``, ``question``/``context``/``answer``, ``response``...).

:class:`RubricJudge` grades one (question, context, answer) for a learner's own judge prompt, with
deterministic, seeded flaws that shrink when the rubric is explicit (see its docstring).

Both are pure functions of the request (the flaws are drawn from a hash of the judged texts and the
request's ``seed``), and use the packaged MiniLM only through the embedder's disk cache.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from labkit import lexical
from labkit.fakellm.extractive import identifiers, mentions
from labkit.fakellm.schema.prompt import json_objects
from labkit.fakellm.types import ChatRequest, Reply

__all__ = [
    "RagasJudge",
    "Rubric",
    "RubricJudge",
    "judge_answer",
    "rubric_of",
    "statements_of",
    "supported",
    "useful",
]

_CITATION = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_REFUSAL = re.compile(
    r"\b(?:i\s+(?:don['’]t|do\s+not)\s+know|(?:sources?|context|documents?|knowledge base)\s+"
    r"(?:does|do)\s+not\s+(?:say|contain|mention)|cannot\s+answer|can['’]t\s+answer|not\s+enough\s+information)",
    re.IGNORECASE,
)

# How much of a statement's content words the context must hold (see supported()).
MIN_COVERAGE = 0.7
# A paraphrase: fewer shared words, but a context sentence close in meaning (MiniLM cosine).
PARAPHRASE_COVERAGE = 0.4
PARAPHRASE_SIMILARITY = 0.7
# A context is useful for a reference statement with this coverage (context precision).
USEFUL_COVERAGE = 0.5
# A context passage is about the question (a refusal is then wrong) with this coverage/similarity.
ANSWERS_COVERAGE = 0.75
ANSWERS_SIMILARITY = 0.5


# --------------------------------------------------------------------------- text judgements


def is_refusal(text: str) -> bool:
    """Whether ``text`` declines to answer ("I don't know", "the sources do not say"...)."""
    return _REFUSAL.search(text) is not None


def statements_of(answer: str) -> list[str]:
    """The statements of an answer: its sentences (:func:`labkit.lexical.sentences`),
    ``[n]`` citation markers removed, empty ones dropped."""
    out = []
    for sentence in lexical.sentences(answer):
        clean = _CITATION.sub("", sentence).strip()
        clean = re.sub(r"\s+([.!?,;:])", r"\1", clean)
        if lexical.words(clean):
            out.append(clean)
    return out


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def _exact(text: str) -> set[str]:
    """Numbers (commas dropped) and exact names (``ERR-4130``, ``query.max_rows``) of a text."""
    return _numbers(text) | {t.lower() for t in identifiers(text) if not t[0].isdigit()}


def _missing_exact(statement: str, context: str) -> list[str]:
    context_numbers = _numbers(context)
    missing = []
    for token in sorted(_exact(statement)):
        if token[0].isdigit():
            if token not in context_numbers:
                missing.append(token)
        elif not mentions(context, token):
            missing.append(token)
    return missing


def coverage(statement: str, context: str) -> float:
    """The share of the statement's content words (stemmed, stop words out) the context holds."""
    words = lexical.content_set(_CITATION.sub("", statement))
    if not words:
        return 1.0
    return len(words & lexical.content_set(context)) / len(words)


def _similarity(statement: str, context: str) -> float:
    """The best MiniLM cosine between ``statement`` and a sentence of ``context`` (0 without the
    model package)."""
    pieces = [s for s in lexical.sentences(context) if lexical.words(s)][:60]
    if not pieces:
        return 0.0
    from labkit.errors import LabkitError
    from labkit.models.embedder import get_embedder

    try:
        vectors = get_embedder().embed([statement, *pieces])
    except LabkitError:
        return 0.0
    return round(float((vectors[1:] @ vectors[0]).max()), 3)


@dataclass(frozen=True)
class Support:
    """Whether the context supports a statement, and why (what a careful reader would say)."""

    verdict: bool
    reason: str


def supported(statement: str, context: str) -> Support:
    """Entailment as support in the context.

    A statement is supported when every number (``25``, ``$300``, ``1,048,576``) and exact name
    (``ERR-4130``) in it occurs in the context, and either at least ``MIN_COVERAGE`` (70 %) of its
    content words occur in the context, or at least ``PARAPHRASE_COVERAGE`` (40 %) do and some
    context sentence has a MiniLM cosine similarity of at least ``PARAPHRASE_SIMILARITY`` (0.7)
    to it. A refusal is never supported (it states nothing the context says).
    """
    if is_refusal(statement):
        return Support(
            False, "The statement declines to answer; it asserts nothing from the context."
        )
    missing = _missing_exact(statement, context)
    if missing:
        return Support(False, f"The context never mentions {', '.join(missing[:3])}.")
    cov = coverage(statement, context)
    if cov >= MIN_COVERAGE:
        return Support(True, f"The context states this ({cov:.0%} of its words, same figures).")
    if cov >= PARAPHRASE_COVERAGE:
        sim = _similarity(statement, context)
        if sim >= PARAPHRASE_SIMILARITY:
            return Support(
                True, f"The context says the same in other words (similarity {sim:.2f})."
            )
    return Support(False, f"The context does not say this (only {cov:.0%} of its words appear).")


def useful(reference: str, context: str) -> Support:
    """Whether a context helps to arrive at the reference answer (context precision): some
    statement of the reference has at least ``USEFUL_COVERAGE`` (50 %) of its content words in
    the context and, when it holds numbers or exact names, at least one of them is there too."""
    for statement in statements_of(reference) or [reference]:
        exact = _exact(statement)
        found = exact - set(_missing_exact(statement, context))
        if coverage(statement, context) >= USEFUL_COVERAGE and (not exact or found):
            return Support(True, f"The context supports: {lexical.clip(statement, 120)}")
    return Support(False, "The context does not contain what the reference answer states.")


def context_answers(question: str, context: str) -> bool:
    """Whether some context passage (line) is about what ``question`` asks: it holds at least
    ``ANSWERS_COVERAGE`` (75 %) of the question's content words, or has a MiniLM cosine
    similarity of at least ``ANSWERS_SIMILARITY`` (0.5) to it."""
    for passage in (line for line in context.splitlines() if line.strip()):
        if coverage(question, passage) >= ANSWERS_COVERAGE:
            return True
        if _similarity(question, passage) >= ANSWERS_SIMILARITY:
            return True
    return False


def judge_answer(question: str, context: str, answer: str) -> tuple[bool, str]:
    """The judge's honest verdict on one answer (before any flaw), and its reason.

    - a refusal passes when no context passage is about the question (:func:`context_answers`),
      and fails when one is;
    - otherwise every statement must be :func:`supported` by the context or the question itself
      (a year or a plan the question names). Completeness is not checked: a partly correct
      answer whose statements are all true passes (the benchmark shows what that costs).
    """
    if is_refusal(answer):
        if context_answers(question, context):
            return False, "The answer refuses, but the context answers the question."
        return True, "The context does not answer the question, and the answer says so."
    statements = statements_of(answer)
    if not statements:
        return False, "The answer is empty."
    premise = (
        f"{context}\n{question}"  # what the question itself says (the year asked about) counts
    )
    for statement in statements:
        support = supported(statement, premise)
        if not support.verdict:
            return False, f"Unsupported: {lexical.clip(statement, 100)} {support.reason}"
    return True, "Every statement is supported by the context and the question is answered."


# --------------------------------------------------------------------------- RAGAS


def _schema_shape(schema: dict[str, Any]) -> str | None:
    """Which RAGAS prompt an output schema belongs to (by its properties), or None."""
    props = schema.get("properties") or {}
    defs = schema.get("$defs") or schema.get("definitions") or {}

    def item_props(prop: dict[str, Any]) -> set[str]:
        items = prop.get("items") or {}
        ref = items.get("$ref", "")
        if ref:
            items = defs.get(ref.rsplit("/", 1)[-1], {})
        return set((items.get("properties") or {}).keys())

    keys = set(props)
    if keys == {"statements"}:
        inner = item_props(props["statements"])
        if not inner and (props["statements"].get("items") or {}).get("type") == "string":
            return "statements"
        if {"statement", "verdict"} <= inner:
            return "nli"
    if keys == {"classifications"} and {"statement", "attributed"} <= item_props(
        props["classifications"]
    ):
        return "recall"
    if keys == {"reason", "verdict"}:
        return "precision"
    if keys == {"question", "noncommittal"}:
        return "relevance"
    return None


_INPUT_KEYS = {
    "statements": {"answer"},
    "nli": {"context", "statements"},
    "precision": {"context", "answer"},
    "recall": {"context", "answer"},
    "relevance": {"response"},
}


class RagasJudge:
    """Answer RAGAS's judge prompts with real judgements (rules in the module docstring)."""

    # Not ``blocking = False``: paraphrases are checked with MiniLM.

    def shape(self, request: ChatRequest) -> tuple[str, dict[str, Any]] | None:
        """(prompt kind, its input object), or None when this is not a RAGAS prompt."""
        schemas: list[dict[str, Any]] = []
        if isinstance(request.response_schema, dict):
            schemas.append(request.response_schema)
        for text in [request.system, *(m.text for m in request.messages)]:
            if "properties" in text:
                schemas.extend(v for _, _, v in json_objects(text) if isinstance(v, dict))
        kind = next((k for k in map(_schema_shape, schemas) if k), None)
        if kind is None:
            return None
        needed = _INPUT_KEYS[kind]
        for text in reversed([m.text for m in request.messages if m.role == "user"]):
            objects = [v for _, _, v in json_objects(text) if isinstance(v, dict)]
            for value in reversed(objects):
                if needed <= set(value):
                    return kind, value
        return None

    def respond(self, request: ChatRequest) -> Reply | None:
        """The judgement as JSON text; None when the request is not a RAGAS prompt."""
        found = self.shape(request)
        if found is None:
            return None
        kind, data = found
        return Reply(text=json.dumps(self.judge(kind, data)))

    def judge(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """The output object for one prompt kind and its input."""
        if kind == "statements":
            return {"statements": statements_of(str(data.get("answer", "")))}
        context = str(data.get("context", ""))
        if kind == "nli":
            out = []
            for statement in data.get("statements") or []:
                s = supported(str(statement), context)
                out.append(
                    {"statement": str(statement), "reason": s.reason, "verdict": int(s.verdict)}
                )
            return {"statements": out}
        if kind == "precision":
            s = useful(str(data.get("answer", "")), context)
            return {"reason": s.reason, "verdict": int(s.verdict)}
        if kind == "recall":
            reference = str(data.get("answer", ""))
            out = []
            for statement in statements_of(reference) or [reference]:
                s = supported(statement, context)
                out.append(
                    {"statement": statement, "reason": s.reason, "attributed": int(s.verdict)}
                )
            return {"classifications": out}
        response = str(data.get("response", ""))
        statements = statements_of(response) or [response]
        question = statements[0].rstrip(".!?") + "?"
        return {"question": question, "noncommittal": int(is_refusal(response))}


# --------------------------------------------------------------------------- rubric judge

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


def judge_behaviours() -> Sequence[Any]:
    """The judges, in the order the default chain asks them."""
    return [RagasJudge(), RubricJudge()]
