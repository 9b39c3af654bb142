"""Word-level text rules: tokens, stop words, stemmers, sentence and passage splitters, one home
for all (labs import the ones they are given from here, rather than keeping copies).

Two families, each deliberately fixed because something depends on its exact output:

- the fake provider's (its default behaviours and judges): lower-case word tokens, a fixed English
  stop-word list, the tiny suffix-stripping :func:`stem` and :func:`sentences`. Fully specified
  (lab tests rely on the exact rules, and a learner can predict them): no dictionary, no model.
- the course reranker's training data (:mod:`labkit.models.reranker`): PyStemmer's English
  Snowball stemmer (:func:`snowball_stems`) and :func:`summary_sentences`. The trained model
  depends on every token they produce, so they are not merged with the rules above.

Stemming rules of :func:`stem`, applied to tokens of 4+ letters, first match wins:
``ies``/``ied``→``y``; ``ing``/``ed`` removed when at least 3 letters remain (then a doubled final
consonant other than l/s/z is undoubled: ``shipping``→``ship``); ``es`` removed after
s/x/z/ch/sh; a final ``s`` removed unless the word ends in ``ss``/``us``/``is``; finally a
trailing ``e`` is removed. So ``damaged``, ``damages`` and ``damage`` all become ``damag``, and
``refunds``/``refunded``/``refunding`` become ``refund``, and ``retries``/``retried`` ``retry``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

WORD_RE = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
# The reranker's: also splits before an opening quote or parenthesis whatever follows it.
SUMMARY_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")

STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't could couldn't did didn't do does doesn't
    doing don't down during each few for from further had hadn't has hasn't have haven't having he
    her here hers herself him himself his how i i'd i'm i've if in into is isn't it it's its itself
    just let's me might more most must my myself no nor not now of off on once only or other ought
    our ours ourselves out over own please same shall she should so some such than that that's the
    their theirs them themselves then there there's these they this those through to too under
    until up us very was wasn't we were weren't what what's when where which while who whom why
    will with won't would you you'd you'll you're your yours yourself yourselves tell give show
    know let get got may many much yes well ok okay hi hello thanks thank
    """.split()
)

# Words that say how to answer rather than what about: ignored when matching a question to sources.
INSTRUCTION_WORDS: frozenset[str] = frozenset(
    """
    answer answers question questions source sources cite citation citations context use using
    only provide provided based following below above given document documents passage passages
    information reply respond response explain brief briefly concise concisely sentence sentences
    number numbered bracket brackets format
    """.split()
)


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters/digits, with an inner apostrophe kept: ``don't``)."""
    return [w.lower() for w in WORD_RE.findall(text)]


def stem(word: str) -> str:
    """The suffix-stripped form of a lower-case word (rules in the module docstring)."""
    w = word.lower()
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) < 4 or w.isdigit():
        return w
    if w.endswith(("ies", "ied")) and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("ing") and len(w) - 3 >= 3:
        w = _undouble(w[:-3])
    elif w.endswith("ed") and len(w) - 2 >= 3:
        w = _undouble(w[:-2])
    elif w.endswith(("ses", "xes", "zes", "ches", "shes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


def _undouble(w: str) -> str:
    if len(w) >= 3 and w[-1] == w[-2] and w[-1] not in "aeiouylsz":
        return w[:-1]
    return w


def content_tokens(text: str, extra_stop: Iterable[str] = ()) -> list[str]:
    """Stemmed tokens of ``text`` without stop words (order kept, duplicates kept)."""
    stop = STOP_WORDS | frozenset(extra_stop)
    return [stem(w) for w in words(text) if w not in stop and stem(w) not in stop]


def content_set(text: str, extra_stop: Iterable[str] = ()) -> set[str]:
    """The set of :func:`content_tokens`."""
    return set(content_tokens(text, extra_stop))


def identifier_words(name: str) -> list[str]:
    """Words of an identifier: ``getOrderStatus`` / ``get_order-status`` → get, order, status."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def sentences(text: str) -> list[str]:
    """Split text into sentences at ., ! or ? followed by a capital letter/digit (and at newlines)."""
    out: list[str] = []
    for line in text.splitlines():
        out.extend(s.strip() for s in SENTENCE_RE.split(line) if s.strip())
    return out


def summary_sentences(text: str) -> list[str]:
    """Sentences of a Wikipedia summary, as the reranker's training data cuts them.

    Differs from :func:`sentences`: whitespace (line breaks included) is collapsed first, so only
    ., ! or ? ends a sentence, and a split also happens before an opening quote or parenthesis
    whatever follows it. A regex is enough for Wikipedia's edited prose.
    """
    parts = SUMMARY_SENTENCE_RE.split(" ".join(text.split()))
    return [p.strip() for p in parts if p.strip()]


@lru_cache(maxsize=1)
def _snowball() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def snowball_stems(words: Sequence[str]) -> list[str]:
    """``words`` stemmed by PyStemmer's English Snowball stemmer (the reranker's BM25 tokens).

    Differs from :func:`stem`: a real stemmer (``running`` → ``run``, ``policies`` → ``polici``),
    for ranking text, where the fake provider's rules must stay predictable instead.
    """
    return list(_snowball().stemWords(list(words)))


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


# A token that may name something exactly: a --flag, or words joined by . _ / - (ERR-4130,
# query.max_rows, v2.3). rag-02 gives learners this very function (``from labkit.lexical import
# exact_terms`` in labs/rag-02/rag.py), so the lab and the fake provider cannot disagree.
_EXACT_TOKEN = re.compile(r"(?<![\w.-])(?:--[A-Za-z][\w-]*|[A-Za-z0-9]+(?:[._/-][A-Za-z0-9]+)*)")


def exact_terms(question: str) -> list[str]:
    """Tokens of ``question`` that name something exactly: they contain a digit (``ERR-4130``,
    ``OPS-1421``), an inner ``.`` or ``_`` (``query.max_rows``), or are a ``--flag``.

    Embeddings are poor at such tokens; exact matching is not. The fake provider's extractive
    answerer and judges weigh them above plain words, and rag-02's retrieval looks them up with
    Chroma's ``where_document`` filter.
    """
    found = []
    for match in _EXACT_TOKEN.finditer(question):
        token = match.group(0).rstrip(".-/")
        exact = token.startswith("--") or any(c.isdigit() for c in token)
        if exact or re.search(r"\w[._]\w", token):
            found.append(token)
    return found


def split_passages(text: str, min_chars: int = 200) -> list[str]:
    """Cut a Markdown document into passages: blank-line blocks, short blocks merged forward.

    A heading or a one-line paragraph is too short to mean much alone, so it is merged with what
    follows until the passage has ``min_chars`` characters (the cut the course's reranker was
    trained on, :mod:`labkit.models.reranker`, and the one rag-03's dense index uses). A passage
    out of context loses what it is about ("The cap is $300" — of what?), so when the document
    starts with a ``# Title`` line, every passage after the first starts with that line too; the
    title is also what tells versions of a document apart. A text without blank lines (a
    Wikipedia summary) is one passage.

    Args:
        text: a document.
        min_chars: the shortest passage worth keeping alone.

    Returns:
        The passages, in order; at least one for any non-blank text.
    """
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    passages: list[str] = []
    buffer = ""
    for block in blocks:
        buffer = f"{buffer}\n\n{block}" if buffer else block
        if len(buffer) >= min_chars:
            passages.append(buffer)
            buffer = ""
    if buffer:
        passages.append(buffer)
    first_line = text.lstrip().split("\n", 1)[0].strip()
    if first_line.startswith("# "):
        passages[1:] = [f"{first_line}\n\n{p}" for p in passages[1:]]
    return passages
