"""rag-01, task 2: three chunkers, checked for the invariants every chunk must keep.

Every check runs on all 66 knowledge-base documents (with the documented defaults and with a second
budget drawn from ``lab_seed``) and on small adversarial texts: empty, whitespace only, one huge
sentence, unicode and emoji, CRLF line endings, a document that is one code block. The expected
structure (tokens, sentences, headings, fences, tables) is recomputed here from the README's rules.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from labkit.datasets import load_documents
from labkit.grading import assert_same, lab_test
from labkit.tokens import count_tokens, encode, encoding

DEFAULT_MAX = 128
DEFAULT_OVERLAP = 32
_DOCS = [(d.id, d.text) for d in load_documents()]

# --- adversarial texts ---------------------------------------------------------------------------

_HUGE_SENTENCE = " ".join(f"word{i % 97} and its friend number {i}" for i in range(220))
_UNICODE = (
    "# Café ☕ notes\n\nNaïve façade — 日本語のテキストです。 Emoji 👩‍👩‍👧 family 😀😀😀 here. "
    + "Ünïcödé ✓ ✗ → ← «quotes» and more 🚀🚀 text. " * 12
    + "\n\n## Ελληνικά\n\nΚαλημέρα κόσμε! Это тест. " * 6
)
_CRLF = (
    "# Title\r\n\r\nFirst paragraph. It has two sentences.\r\n\r\n## Section A\r\n\r\n"
    + "Line one of section A is here. " * 20
    + "\r\n\r\n```bash\r\n# not a heading\r\necho hi\r\n```\r\n\r\n## Section B\r\n\r\n"
    "| a | b |\r\n|---|---|\r\n| 1 | 2 |\r\n\r\nLast words.\r\n"
)
_SMALL_CODE = "```python\n# a comment, not a heading\nprint('hello')\nprint('world')\n```\n"
_BIG_CODE = (
    "```python\n"
    + "".join(f"value_{i} = compute(alpha={i}, beta='{i * 7}')  # note {i}\n" for i in range(40))
    + "```\n"
)
_MIXED = (
    "Intro before any heading. Still intro!\n\n"
    "# Guide\n\n## Install\n\n```bash\n# this comment is not a heading\npip install thing\n```\n\n"
    "### Check\n\n| Step | What |\n|---|---|\n"
    + "".join(f"| {i} | do thing {i} |\n" for i in range(6))
    + "\n## Long section\n\n"
    + "This sentence is part of a long section about nothing in particular. " * 30
    + "\n\n- item one\n- item two\n\n## Empty section\n\n## Unclosed\n\n~~~\nnever closed\n# still code\n"
)
_HEADING_THEN_LONG = "## Heading\n\n" + " ".join(f"token{i}" for i in range(300)) + "."

ADVERSARIAL: dict[str, str] = {
    "empty": "",
    "whitespace only": "  \n\t\n \r\n   ",
    "one huge sentence": _HUGE_SENTENCE,
    "unicode and emoji": _UNICODE,
    "CRLF line endings": _CRLF,
    "one small code block": _SMALL_CODE,
    "one big code block": _BIG_CODE,
    "mixed markdown": _MIXED,
    "heading then a long sentence": _HEADING_THEN_LONG,
}
ADV_MAX, ADV_OVERLAP = 40, 10


def _budgets(seed: int) -> list[tuple[int, int]]:
    """The documented defaults, then one (max_tokens, overlap_tokens) drawn from the seed."""
    rng = random.Random(seed)
    size = rng.choice([48, 64, 80, 96, 160, 200])
    return [(DEFAULT_MAX, DEFAULT_OVERLAP), (size, rng.randrange(0, size // 2))]


# --- reference structure (the README's rules) ------------------------------------------------------


def _token_offsets(text: str) -> list[int]:
    _, offsets = encoding().decode_with_offsets(encode(text))
    return [*offsets, len(text)]


def _sentences(text: str) -> list[tuple[int, int]]:
    spans = []
    for line in re.finditer(r"[^\r\n]+", text):
        cursor = line.start()
        cuts = [m.end() for m in re.finditer(r"(?<=[.!?])\s+", line.group())]
        for cut in [*(line.start() + c for c in cuts), line.end()]:
            piece = text[cursor:cut]
            if piece.strip():
                first = cursor + len(piece) - len(piece.lstrip())
                spans.append((first, first + len(piece.strip())))
            cursor = cut
    return spans


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")  # a line and its break, or a last line


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line, its line break (``\\n``, ``\\r\\n`` or ``\\r``) left out."""
    return [(m.start(), m.start() + len(m.group().rstrip("\r\n"))) for m in _LINE.finditer(text)]


_NON_BLANK = re.compile(r"\S(?:.*\S)?", re.DOTALL)  # first to last non-whitespace character


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` stripped (the README's rule), as a span: from its first to just past its
    last non-whitespace character (regex ``\\S`` and ``str.strip`` agree on what whitespace is);
    an empty span at ``end`` when there is none."""
    found = _NON_BLANK.search(text, start, end)
    return found.span() if found else (end, end)


def _structure(text: str) -> dict[str, list[tuple[int, int]]]:
    """Headings, fences and tables (stripped spans) and sections (heading to last text before the
    next heading), following the README's definitions, in one pass over the lines: an open code
    block swallows every line up to its closing fence (or the end of the text), and a table is
    the run of ``|`` lines it is in."""
    out: dict[str, list[tuple[int, int]]] = {"heading": [], "fence": [], "table": []}
    fence: tuple[str, int] | None = None  # the open code block: its fence and its start
    table: tuple[int, int] | None = None  # the table read so far: its start, its last row's end
    for s, e in _lines(text):
        line = text[s:e]
        if fence is not None:
            if line.lstrip().startswith(fence[0]):
                out["fence"].append(_strip_span(text, fence[1], e))
                fence = None
            continue
        if re.match(r"[ \t]*\|", line):
            table = (table[0] if table else s, e)
            continue
        if table:
            out["table"].append(_strip_span(text, *table))
            table = None
        opening = re.match(r" {0,3}(```|~~~)", line)
        if opening:
            fence = (opening.group(1), s)
        elif re.match(r"#{1,6}(?:[ \t]|$)", line):
            out["heading"].append(_strip_span(text, s, e))
    if fence:
        out["fence"].append(_strip_span(text, fence[1], len(text)))
    if table:
        out["table"].append(_strip_span(text, *table))
    starts = [0, *(h[0] for h in out["heading"]), len(text)]
    sections = []
    for a, b in itertools.pairwise(starts):
        span = _strip_span(text, a, b)
        if span[1] > span[0]:
            sections.append(span)
    out["section"] = sections
    return out


# --- the invariants ------------------------------------------------------------------------------


def _invariant_problems(chunks: Any, doc_id: str, text: str, max_tokens: int) -> list[str]:
    """What is wrong with a chunk list: types, ids, offsets, order, emptiness, limits, coverage."""
    if type(chunks) is not list:
        return [f"returned {type(chunks).__name__}, expected a list of Chunk"]
    problems: list[str] = []
    covered = [False] * (len(text) + 1)
    previous: Any = None
    for i, c in enumerate(chunks):
        fields: dict[str, Any] = {
            name: getattr(c, name, None) for name in ("doc_id", "index", "start", "end", "text")
        }
        kinds = {"doc_id": str, "index": int, "start": int, "end": int, "text": str}
        wrong = [n for n, kind in kinds.items() if type(fields[n]) is not kind]
        if wrong:
            problems.append(f"chunk {i}: {', '.join(wrong)} missing or not of the right type")
            continue
        start, end, ctext = fields["start"], fields["end"], fields["text"]
        if fields["doc_id"] != doc_id:
            problems.append(f"chunk {i}: doc_id is {fields['doc_id']!r}, expected {doc_id!r}")
        if fields["index"] != i:
            problems.append(f"chunk {i}: index is {fields['index']}, expected {i}")
        if not 0 <= start < end <= len(text):
            problems.append(
                f"chunk {i}: offsets ({start}, {end}) are not inside the text (length {len(text)})"
            )
            continue
        problems += _text_problems(i, ctext, text, (start, end), max_tokens)
        if previous is not None and not (start > previous[0] and end > previous[1]):
            problems.append(
                f"chunk {i}: ({start}, {end}) does not come after chunk {i - 1} {previous}"
            )
        previous = (start, end)
        for pos in range(start, end):
            covered[pos] = True
    missing = [pos for pos, ch in enumerate(text) if not ch.isspace() and not covered[pos]]
    if missing and not problems:
        pos = missing[0]
        problems.append(
            f"{len(missing)} non-whitespace characters are in no chunk, the first at offset {pos} "
            f"({text[max(0, pos - 15) : pos + 15]!r})"
        )
    return problems


def _text_problems(
    i: int, ctext: str, text: str, span: tuple[int, int], max_tokens: int
) -> list[str]:
    """What is wrong with chunk i's text: not the text at its offsets, empty, or too long."""
    start, end = span
    problems: list[str] = []
    if text[start:end] != ctext:
        problems.append(
            f"chunk {i}: text[{start}:{end}] is {text[start:end][:40]!r}..., "
            f"but chunk.text is {ctext[:40]!r}..."
        )
    if not ctext.strip():
        problems.append(f"chunk {i}: is empty or whitespace only ({ctext[:20]!r})")
    tokens = count_tokens(ctext)
    if tokens > max_tokens:
        problems.append(f"chunk {i}: has {tokens} tokens, more than max_tokens={max_tokens}")
    return problems


def _run(chunker: Callable[..., Any], doc_id: str, text: str, **params: Any) -> Any:
    try:
        return chunker(doc_id, text, **params)
    except NotImplementedError:
        raise
    except Exception as exc:  # reported as a failed check, with the input that caused it
        return exc


def _check_all(
    learner: Any,
    name: str,
    cases: Sequence[tuple[str, str, dict[str, int]]],
    extra: Callable[[list[Any], str, str, dict[str, int]], list[str]] | None = None,
) -> None:
    """Runs the learner's chunker ``name`` on every case; fails with the first few that break the
    invariants (or the ``extra`` rules of that chunker)."""
    chunker = getattr(learner.import_module("chunkers"), name)
    failures: list[str] = []
    for label, text, params in cases:
        chunks = _run(chunker, label, text, **params)
        if isinstance(chunks, Exception):
            failures.append(f"{label} {params}: raised {type(chunks).__name__}: {chunks}")
            continue
        problems = _invariant_problems(chunks, label, text, params["max_tokens"])
        if not problems and extra is not None:
            problems = extra(chunks, label, text, params)
        if problems:
            failures.append(f"{label} {params}: " + "; ".join(problems[:2]))
    assert not failures, (
        f"{name}: {len(failures)} of {len(cases)} documents break the rules:\n  "
        + "\n  ".join(failures[:4])
    )


def _cases(seed: int, with_overlap: bool) -> list[tuple[str, str, dict[str, int]]]:
    """Every (label, text, params) a chunker is checked on: each knowledge-base document with the
    documented budget and the seed's, then the adversarial texts with their small budget."""
    cases = []
    for max_tokens, overlap in _budgets(seed):
        params = {"max_tokens": max_tokens}
        if with_overlap:
            params["overlap_tokens"] = overlap
        cases += [(doc_id, text, dict(params)) for doc_id, text in _DOCS]
    params = {"max_tokens": ADV_MAX}
    if with_overlap:
        params["overlap_tokens"] = ADV_OVERLAP
    return cases + [(label, text, dict(params)) for label, text in ADVERSARIAL.items()]


# --- (a) fixed size ------------------------------------------------------------------------------


@lab_test(points=1, number="2.1")
def test_token_offsets(learner: Any) -> None:
    """token_offsets gives the character offset of every token, multi-byte characters included"""
    chunkers = learner.import_module("chunkers")
    for text in ("", "Hello world", _UNICODE[:200], _CRLF[:120], "😀", "a👩‍👩‍👧b"):
        assert_same(
            chunkers.token_offsets(text), _token_offsets(text), f"token_offsets({text[:30]!r})"
        )


def _overlap_problems(
    chunks: list[Any], label: str, text: str, params: dict[str, int]
) -> list[str]:
    """Fixed-size rules: boundaries on tokens, full windows, exactly ``overlap`` shared tokens."""
    max_tokens, overlap = params["max_tokens"], params["overlap_tokens"]
    offsets = _token_offsets(text)
    n = len(offsets) - 1
    at: dict[int, list[int]] = {}
    for i, off in enumerate(offsets):
        at.setdefault(off, []).append(i)
    problems = []
    if chunks and chunks[0].start != 0:
        problems.append(f"the first chunk starts at {chunks[0].start}, expected 0 (token 0)")
    for i, c in enumerate(chunks):
        if c.start not in at or c.end not in at:
            problems.append(
                f"chunk {i} ({c.start}, {c.end}) does not start and end on token boundaries"
            )
            return problems
        last = i == len(chunks) - 1
        if last and c.end != len(text):
            problems.append(
                f"the last chunk ends at {c.end}, expected the end of the text ({len(text)})"
            )
        if not last:
            full = any(b - a == max_tokens for a in at[c.start] for b in at[c.end])
            longer = any(
                b < n and count_tokens(text[c.start : offsets[b + 1]]) > max_tokens
                for b in at[c.end]
            )
            if not (full or longer):
                problems.append(
                    f"chunk {i} is shorter than max_tokens={max_tokens} tokens although it is "
                    "not the last one and one more token would still fit"
                )
            nxt = chunks[i + 1]
            shared = sorted({b - a for a in at.get(nxt.start, []) for b in at[c.end]})
            if overlap not in shared:
                problems.append(
                    f"chunks {i} and {i + 1} share {shared[0] if shared else '?'} tokens, "
                    f"expected overlap_tokens={overlap}"
                )
        if problems:
            return problems
    return problems


@lab_test(points=2, number="2.2")
def test_fixed_size_invariants(learner: Any, lab_seed: int) -> None:
    """fixed_size_chunks: exact offsets, order, coverage, token limit — knowledge base and adversarial texts"""
    _check_all(learner, "fixed_size_chunks", _cases(lab_seed, with_overlap=True))


@lab_test(points=2, number="2.3")
def test_fixed_size_overlap(learner: Any, lab_seed: int) -> None:
    """fixed_size_chunks: full windows sharing exactly overlap_tokens tokens; bad parameters raise"""
    chunkers = learner.import_module("chunkers")
    cases = _cases(lab_seed, with_overlap=True)
    cases += [("unicode, no overlap", _UNICODE, {"max_tokens": 17, "overlap_tokens": 0})]
    _check_all(learner, "fixed_size_chunks", cases, extra=_overlap_problems)
    for max_tokens, overlap in ((0, 0), (10, 10), (10, -1)):
        try:
            chunkers.fixed_size_chunks(
                "x", "some text", max_tokens=max_tokens, overlap_tokens=overlap
            )
        except ValueError:
            continue
        raise AssertionError(
            f"fixed_size_chunks(max_tokens={max_tokens}, overlap_tokens={overlap}) did not raise "
            "ValueError (it needs max_tokens >= 1 and 0 <= overlap_tokens < max_tokens)"
        )


# --- (b) sentence-aware --------------------------------------------------------------------------

_SENTENCE_SAMPLES = [
    "Hello world. How are you?  Fine!\nNext line has no end",
    "Version 3.5 shipped. See e.g. the notes... Really?! Yes.",
    "  leading spaces.   trailing spaces.   ",
    "- item one\n- item two.\n\n| a | b |\n",
    _CRLF,
    _UNICODE,
    "",
]


@lab_test(points=1, number="2.4")
def test_sentence_spans(learner: Any) -> None:
    """sentence_spans follows the README's rule, with offsets into the original text"""
    chunkers = learner.import_module("chunkers")
    for text in [*_SENTENCE_SAMPLES, *(text for _, text in _DOCS[:6])]:
        got = chunkers.sentence_spans(text)
        want = _sentences(text)
        if isinstance(got, list):
            got = [tuple(s) if isinstance(s, list | tuple) else s for s in got]
            for g, w in zip(got, want, strict=False):
                if g != w:
                    shown = text[w[0] : w[1]][:50]
                    raise AssertionError(
                        f"sentence_spans({text[:30]!r}...): got the span {g!r}, expected {w!r} "
                        f"(the sentence {shown!r})"
                    )
        assert_same(got, want, f"sentence_spans({text[:30]!r}...)")


def _sentence_problems(
    chunks: list[Any], label: str, text: str, params: dict[str, int]
) -> list[str]:
    """Chunks start and end on sentence boundaries (except inside a too-long sentence), do not
    overlap, and are packed greedily: the next sentence did not fit."""
    max_tokens = params["max_tokens"]
    sentences = _sentences(text)
    starts = {s: e for s, e in sentences}
    ends = {e for _, e in sentences}
    long_spans = [(s, e) for s, e in sentences if count_tokens(text[s:e]) > max_tokens]

    def inside_long(pos: int) -> bool:
        return any(s < pos < e for s, e in long_spans)

    for i, c in enumerate(chunks):
        if c.start not in starts and not inside_long(c.start):
            return [f"chunk {i} starts at {c.start}, in the middle of a sentence that fits"]
        if c.end not in ends and not inside_long(c.end):
            return [f"chunk {i} ends at {c.end}, in the middle of a sentence that fits"]
        if i and c.start < chunks[i - 1].end:
            return [f"chunk {i} overlaps chunk {i - 1}"]
        previous = chunks[i - 1] if i else None
        if (
            previous is not None
            and previous.start in starts
            and previous.end in ends
            and c.start in starts
        ):
            nxt_end = starts[c.start]
            if count_tokens(text[c.start : nxt_end]) <= max_tokens:
                joined = count_tokens(text[chunks[i - 1].start : nxt_end])
                if joined <= max_tokens:
                    return [
                        f"chunk {i - 1} could have taken the next sentence too ({joined} tokens "
                        f"together, max_tokens={max_tokens}): pack greedily"
                    ]
    return []


@lab_test(points=2, number="2.5")
def test_sentence_chunks(learner: Any, lab_seed: int) -> None:
    """sentence_chunks: invariants, sentence boundaries, greedy packing, long sentences split"""
    cases = _cases(lab_seed, with_overlap=False)
    _check_all(learner, "sentence_chunks", cases, extra=_sentence_problems)


# --- (c) markdown-structure-aware ----------------------------------------------------------------


@lab_test(points=2, number="2.6")
def test_markdown_invariants(learner: Any, lab_seed: int) -> None:
    """markdown_chunks: exact offsets, order, coverage, token limit — knowledge base and adversarial texts"""
    _check_all(learner, "markdown_chunks", _cases(lab_seed, with_overlap=False))


def _contains(chunks: list[Any], span: tuple[int, int]) -> bool:
    return any(c.start <= span[0] and span[1] <= c.end for c in chunks)


def _markdown_problems(
    chunks: list[Any], label: str, text: str, params: dict[str, int]
) -> list[str]:
    max_tokens = params["max_tokens"]
    found = _structure(text)
    starts = {c.start for c in chunks}
    for i in range(1, len(chunks)):
        if chunks[i].start < chunks[i - 1].end:
            return [f"chunk {i} overlaps chunk {i - 1}"]
    for s, e in found["heading"]:
        if s not in starts:
            return [f"the heading {text[s:e]!r} does not start a chunk"]
    problem = _block_problem(chunks, text, found, max_tokens) or _section_problem(
        chunks, text, found, max_tokens
    )
    return [problem] if problem else []


def _block_problem(
    chunks: list[Any], text: str, found: dict[str, list[tuple[int, int]]], max_tokens: int
) -> str | None:
    """A code block or table that fits but was cut, or an oversized code block cut mid-line."""
    for kind in ("fence", "table"):
        for s, e in found[kind]:
            if count_tokens(text[s:e]) <= max_tokens and not _contains(chunks, (s, e)):
                what = "code block" if kind == "fence" else "table"
                return f"the {what} at {s}-{e} ({text[s : s + 25]!r}...) fits but was cut"
            if kind == "fence" and count_tokens(text[s:e]) > max_tokens:
                cut = _code_line_cut(chunks, text, (s, e), max_tokens)
                if cut is not None:
                    return cut
    return None


def _code_line_cut(
    chunks: list[Any], text: str, block: tuple[int, int], max_tokens: int
) -> str | None:
    """A chunk boundary inside an oversized code block that splits a line that would fit."""
    s, e = block
    for c in chunks:
        for pos in (c.start, c.end):
            if s < pos < e:
                before = text[text.rfind("\n", 0, pos) + 1 : pos]
                after_end = text.find("\n", pos)
                after = text[pos : after_end if after_end >= 0 else len(text)]
                line = before + after
                if before.strip() and after.strip() and count_tokens(line) <= max_tokens:
                    return f"a chunk boundary at {pos} cuts a code line in the middle"
    return None


def _section_problem(
    chunks: list[Any], text: str, found: dict[str, list[tuple[int, int]]], max_tokens: int
) -> str | None:
    """A section that fits but is not one chunk, or an oversized one whose heading is alone."""
    for s, e in found["section"]:
        is_heading = any(h[0] == s for h in found["heading"])
        if count_tokens(text[s:e]) <= max_tokens:
            if not any(c.start == s and c.end == e for c in chunks):
                return f"the section {text[s : s + 30]!r}... fits in max_tokens but is not exactly one chunk"
        elif is_heading:
            heading_end = next(h[1] for h in found["heading"] if h[0] == s)
            first = next(c for c in chunks if c.start == s)
            if first.end <= heading_end:
                body = _strip_span(text, heading_end, e)
                block = next(
                    (b for k in ("fence", "table") for b in found[k] if b[0] == body[0]), None
                )
                if block is None or count_tokens(text[block[0] : block[1]]) > max_tokens:
                    return f"the heading {text[s:heading_end]!r} is alone in its chunk"
    return None


@lab_test(points=3, number="2.7")
def test_markdown_structure(learner: Any, lab_seed: int) -> None:
    """markdown_chunks: splits at headings, keeps headings with text, never cuts code or tables that fit"""
    chunkers = learner.import_module("chunkers")
    cases = _cases(lab_seed, with_overlap=False)
    _check_all(learner, "markdown_chunks", cases, extra=_markdown_problems)
    small = chunkers.markdown_chunks("code", _SMALL_CODE, max_tokens=ADV_MAX)
    assert len(small) == 1, (
        f"a document that is one small code block should be one chunk (the whole block), "
        f"got {len(small)} chunks"
    )
    assert small[0].text == _SMALL_CODE.strip(), (
        f"a document that is one small code block should be one chunk (the whole block), "
        f"got {len(small)} chunks"
    )
