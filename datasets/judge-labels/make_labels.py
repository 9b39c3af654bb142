"""Build ``items.jsonl``: (question, contexts, answer) items with known answer kinds and labels.

    .venv/bin/python datasets/judge-labels/make_labels.py          # rewrites items.jsonl

Seeded and deterministic: the same golden set gives the same file. Every item is made from one
golden question of ``datasets/knowledge-base/questions.jsonl`` by a rule, and its label follows
from the rule (see DATASHEET.md, "How each kind is made"). The item keeps the question's split,
so no question is in both dev and test.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))

from labkit import lexical  # noqa: E402
from labkit.datasets.judge_labels import ANSWER_KINDS  # noqa: E402
from labkit.datasets.knowledge_base import Question, load_questions  # noqa: E402

SEED = 20261204
OUT = HERE / "items.jsonl"
REFUSAL = "I don't know: the provided context does not say."
KINDS = ANSWER_KINDS
# Invented sentences: plausible in the company's voice, true of no document.
INVENTED = (
    "Exceptions must be approved in writing by the CFO.",
    "This rule was introduced after an external audit in 2021.",
    "Contractors in Singapore are exempt from this rule.",
    "The limit doubles for employees with more than five years of service.",
    "Requests made on Fridays are handled by the Austin office.",
    "A penalty of 15% applies when the deadline is missed.",
    "The setting can only be changed by the VP of Engineering.",
    "This applies to the Enterprise plan only.",
    "The change was rolled back in release 2.9.",
    "Customers are notified by SMS within 2 minutes.",
    "Approval also requires a signed form from Legal.",
    "The same value is used in the EU region since 2019.",
)
_NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*)(?![\w])")


def numbers_in(text: str) -> set[str]:
    return {m.replace(",", "") for m in _NUMBER.findall(text)}


def changed_number(value: str, taken: set[str]) -> str:
    """Another plausible number that no context mentions (a year moves by one; thousands keep
    their commas)."""
    n = int(value.replace(",", ""))
    if 1900 <= n <= 2100:
        step = 1
    else:
        step = max(1, n // 4) if n >= 4 else 1
    candidate = n + step
    while str(candidate) in taken:
        candidate += step
    return f"{candidate:,}" if "," in value else str(candidate)


def wrong_number(q: Question, contexts: list[str]) -> str | None:
    """The reference answer with one number of one fact changed (None if no fact has one)."""
    taken = numbers_in(" ".join(contexts)) | numbers_in(q.question)
    for fact in q.facts:
        m = _NUMBER.search(fact)
        if not m or m.group(1) not in q.answer:
            continue
        old = m.group(1)
        if old.replace(",", "") in numbers_in(q.question):
            continue
        new = changed_number(old, taken)
        pattern = re.compile(r"(?<![\w.])" + re.escape(old) + r"(?![\w])")
        if pattern.search(q.answer):
            return pattern.sub(new, q.answer)
    return None


def partial(q: Question) -> str | None:
    """A passage that holds some but not all of the question's facts, quoted as the answer."""
    if len(q.facts) < 2:
        return None
    for passage in q.passages:
        held = [f for f in q.facts if f.lower() in passage.text.lower()]
        if 0 < len(held) < len(q.facts):
            return passage.text
    # Else the reference answer's sentences without the one(s) holding the last fact.
    kept = [s for s in lexical.sentences(q.answer) if q.facts[-1].lower() not in s.lower()]
    if kept and len(kept) < len(lexical.sentences(q.answer)):
        text = " ".join(kept)
        if any(f.lower() in text.lower() for f in q.facts[:-1]):
            return text
    return None


def nearest_passages(q: Question, pool: list[tuple[str, str]], n: int) -> list[str]:
    """The ``n`` passages of other questions sharing most content words with ``q``."""
    words = lexical.content_set(q.question)
    scored = sorted(
        ((len(words & lexical.content_set(text)), i) for i, (_, text) in enumerate(pool)),
        key=lambda x: (-x[0], x[1]),
    )
    out: list[str] = []
    for _, i in scored:
        if pool[i][1] not in out:
            out.append(pool[i][1])
        if len(out) == n:
            break
    return out


def main() -> int:
    rng = random.Random(SEED)
    questions = load_questions()
    pool = sorted({(p.doc_id, p.text) for q in questions for p in q.passages})
    items: list[dict[str, object]] = []
    counts = dict.fromkeys(KINDS, 0)

    def add(q: Question, contexts: list[str], answer: str, kind: str, why: str) -> None:
        label = "pass" if kind in ("correct", "correct_refusal") else "fail"
        counts[kind] += 1
        items.append(
            {
                "id": f"j{len(items) + 1:03d}",
                "question_id": q.id,
                "question": q.question,
                "contexts": contexts,
                "answer": answer,
                "kind": kind,
                "label": label,
                "why": why,
                "split": q.split,
            }
        )

    for q in questions:
        if not q.answerable:
            contexts = nearest_passages(q, pool, 2)
            add(
                q,
                contexts,
                REFUSAL,
                "correct_refusal",
                f"{q.id} is unanswerable from the knowledge base; the contexts are the 2 passages "
                "of other questions sharing most words with it, and the answer refuses.",
            )
            base = contexts[0]
            nums = sorted(numbers_in(base))
            if nums:
                new = changed_number(nums[0], numbers_in(" ".join(contexts)))
                answer = re.sub(
                    r"(?<![\w.])" + re.escape(nums[0]) + r"(?![\w])", new, base, count=1
                )
                why = (
                    f"{q.id} is unanswerable; the answer restates a nearby passage with "
                    f"{nums[0]} changed to {new}, a figure no context gives."
                )
            else:
                invented = rng.choice(INVENTED)
                answer = f"{base} {invented}"
                why = f"{q.id} is unanswerable; the answer adds the invented sentence {invented!r}."
            add(q, contexts, answer, "unsupported_claim", why)
            continue
        gold = [p.text for p in q.passages]
        others = [text for doc, text in pool if doc not in q.doc_ids]
        distractor = rng.choice(others)
        contexts = [*gold, distractor]
        rng.shuffle(contexts)
        add(
            q,
            contexts,
            q.answer,
            "correct",
            f"the reference answer of {q.id}, written against its gold passages, which are "
            "among the contexts (with one passage of another document).",
        )
        options: list[tuple[str, str, str]] = []
        wrong = wrong_number(q, contexts)
        if wrong is not None:
            options.append(
                (
                    "wrong_number",
                    wrong,
                    f"the reference answer of {q.id} with one figure of a required fact "
                    "changed to a value no context gives.",
                )
            )
        part = partial(q)
        if part is not None:
            options.append(
                (
                    "partially_correct",
                    part,
                    f"only part of the answer to {q.id}: it holds some of the required "
                    f"facts {list(q.facts)} but not all.",
                )
            )
        invented = rng.choice(INVENTED)
        options.append(
            (
                "unsupported_claim",
                f"{q.answer} {invented}",
                f"the reference answer of {q.id} plus the invented sentence {invented!r}, "
                "which no document states.",
            )
        )
        options.append(
            (
                "refusal_when_answer_exists",
                REFUSAL,
                f"a refusal, though {q.id}'s gold passages, among the contexts, answer it.",
            )
        )
        # Balance the kinds: the rarest available kind wins (ties: a seeded choice).
        rarest = min(counts[kind] for kind, _, _ in options)
        kind, answer, why = rng.choice([o for o in options if counts[o[0]] == rarest])
        add(q, contexts, answer, kind, why)

    with OUT.open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(
        f"wrote {len(items)} items to {OUT.name}: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
