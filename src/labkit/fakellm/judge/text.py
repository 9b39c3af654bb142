"""Text judgements the judges share: is an answer a refusal, what are its statements, does a
context support a statement (words, exact names and numbers, then MiniLM for paraphrases), is a
context useful for a reference, and the honest verdict on one answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from labkit import lexical
from labkit.fakellm.extractive import mentions
from labkit.lexical import exact_terms

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
    return _numbers(text) | {t.lower() for t in exact_terms(text) if not t[0].isdigit()}


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
