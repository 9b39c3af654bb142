"""rag-03, task 1: the tokenizer and BM25 (lexical.py).

Tokenizer cases without stemming are the README's rules applied by hand; with stemming, only what
the rules promise is checked (identifiers untouched, word forms merged). BM25 scores are
recomputed here from the Okapi formula with rank-bm25's parameters, on the learner's own tokens,
over a small corpus drawn from ``lab_seed``.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)

from labkit.grading import assert_same, lab_test

# Hand-tokenized by the README's rules (stem=False): lower case; letters/digits joined by - _ . /
# form one identifier token, followed by its parts; stop words dropped (never identifiers).
HAND_CASES: tuple[tuple[str, list[str]], ...] = (
    (
        "Book flights at least 14 days before departure.",
        ["book", "flights", "least", "14", "days", "departure"],
    ),
    (
        "ERR-4130 is returned with HTTP status 413.",
        ["err-4130", "err", "4130", "returned", "http", "status", "413"],
    ),
    (
        "Set ingest.batch_max_bytes to 4194304 (see --grace-period)!",
        [
            "set",
            "ingest.batch_max_bytes",
            "ingest",
            "batch",
            "max",
            "bytes",
            "4194304",
            "see",
            "grace-period",
            "grace",
            "period",
        ],
    ),
    (
        "POST /v2/events, then a state-of-the-art TS-PRO-250 plan.",
        [
            "post",
            "v2/events",
            "v2",
            "events",
            "state-of-the-art",
            "state",
            "art",
            "ts-pro-250",
            "ts",
            "pro",
            "250",
            "plan",
        ],
    ),
)

IDENTIFIERS = (
    "ERR-4012",
    "ERR-5031",
    "AGT-115",
    "TS-PRO-250",
    "TS-SUP-PREM",
    "INC-2024-0131",
    "OPS-1421",
    "ingest.batch_max_bytes",
    "ingest.retry_initial_backoff_ms",
    "query.timeout_s",
    "agent.buffer.max_mb",
    "X-Tess-Key",
    "api.tessaline.example",
)
FILLERS = ("Check", "the", "retries", "of", "policies", "before", "running", "queries", "and")


def _sentence(rng: random.Random, ident: str) -> str:
    words = rng.sample(FILLERS, 4)
    words.insert(rng.randrange(5), ident)
    return " ".join(words) + rng.choice([".", ",", "!", "?", ";"])


@lab_test(points=3, number="1.1")
def test_tokenize_rules_by_hand(learner: Any) -> None:
    """tokenize(stem=False) follows the README's rules"""
    lexical = learner.import_module("lexical")
    for text, expected in HAND_CASES:
        got = lexical.tokenize(text, stem=False)
        assert_same(got, expected, f"tokenize({text!r}, stem=False)")
    assert_same(lexical.tokenize("The, of; AND... the!", stem=False), [], "a text of stop words")


@lab_test(points=2, number="1.2")
def test_identifiers_survive_stemming(learner: Any, lab_seed: int) -> None:
    """identifiers stay whole with stemming on; word forms are merged"""
    lexical = learner.import_module("lexical")
    rng = random.Random(lab_seed)
    for ident in rng.sample(IDENTIFIERS, 6):
        text = _sentence(rng, ident)
        got = lexical.tokenize(text, stem=True)
        assert isinstance(got, list), f"tokenize must return a list of str, got {got!r}"
        assert all(type(t) is str for t in got), f"tokenize must return a list of str, got {got!r}"
        assert ident.lower() in got, f"tokenize({text!r}) gave {got}: {ident.lower()!r} is missing"
        assert ident.lower() in lexical.tokenize(text.upper(), stem=True), (
            f"upper-casing {text!r} changed the tokens: {lexical.tokenize(text.upper())}"
        )
    pairs = (
        ("policies", "policy"),
        ("running", "runs"),
        ("queries", "query"),
        ("Retries", "retry"),
    )
    for a, b in pairs:
        ta, tb = lexical.tokenize(a, stem=True), lexical.tokenize(b, stem=True)
        assert ta == tb, f"with stemming, {a!r} gave {ta} and {b!r} gave {tb}"
        assert len(ta) == 1, f"with stemming, {a!r} gave {ta} and {b!r} gave {tb}"
    assert_same(
        lexical.tokenize("policies", stem=False), ["policies"], "tokenize('policies', stem=False)"
    )


# --------------------------------------------------------------------------- BM25

POOL = (*support.WORDS, "ERR-4130")  # and an identifier, which tokenizes to several tokens


def _corpus(seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    n = rng.randint(6, 9)
    ids = [f"doc-{rng.randrange(1000):03d}-{i}" for i in range(n)]
    rng.shuffle(ids)
    common = rng.sample(POOL, 3)  # words most documents share: negative idf, rank-bm25's floor
    texts = []
    for _ in ids:
        words = [rng.choice(POOL) for _ in range(rng.randint(3, 14))]
        words += [w for w in common if rng.random() < 0.8]
        rng.shuffle(words)
        texts.append(" ".join(words) + ".")
    return ids, texts


def _okapi(
    corpus: list[list[str]],
    query: list[str],
    k1: float = 1.5,
    b: float = 0.75,
    epsilon: float = 0.25,
) -> list[float]:
    """BM25Okapi exactly as rank-bm25 0.2.2 computes it (idf floor = epsilon * mean idf)."""
    n = len(corpus)
    avgdl = sum(len(d) for d in corpus) / n
    df = Counter(w for d in corpus for w in set(d))
    idf = {w: math.log(n - f + 0.5) - math.log(f + 0.5) for w, f in df.items()}
    floor = epsilon * sum(idf.values()) / len(idf)
    idf = {w: (floor if v < 0 else v) for w, v in idf.items()}
    scores = []
    for doc in corpus:
        tf = Counter(doc)
        total = 0.0
        for q in query:
            f = tf.get(q, 0)
            total += idf.get(q, 0.0) * (f * (k1 + 1) / (f + k1 * (1 - b + b * len(doc) / avgdl)))
        scores.append(total)
    return scores


@lab_test(points=3, number="1.3")
def test_bm25_scores_follow_okapi(learner: Any, lab_seed: int) -> None:
    """BM25Index.scores matches the Okapi formula on a small corpus"""
    lexical = learner.import_module("lexical")
    for trial in range(3):
        ids, texts = _corpus(lab_seed * 31 + trial)
        rng = random.Random(lab_seed + trial)
        query = " ".join(rng.sample(POOL, 3)) + " unknownword"
        index = lexical.BM25Index(ids, texts)
        got = index.scores(query)
        tokens = [lexical.tokenize(t) for t in texts]
        expected = dict(zip(ids, _okapi(tokens, lexical.tokenize(query)), strict=True))
        assert_same(got, expected, f"BM25Index(...).scores({query!r})", abs_tol=1e-9)


@lab_test(points=2, number="1.4")
def test_bm25_search_orders_ties_and_filters(learner: Any, lab_seed: int) -> None:
    """BM25Index.search: order, ties, cut-off, no-match documents left out"""
    lexical = learner.import_module("lexical")
    rng = random.Random(lab_seed)
    twin = "hotel lodging cap for tier-1 metros in the travel policy"
    docs = {
        "zeta-twin": twin,
        "alpha-twin": twin,
        "m-hotel": "hotel hotel hotel booking",
        "b-travel": "travel expenses and per diem",
        "k-unrelated": "kubernetes ingest lag runbook",
        "c-unrelated": "error codes ERR-4130 and ERR-5031",
    }
    items = list(docs.items())
    rng.shuffle(items)
    ids, texts = [i for i, _ in items], [t for _, t in items]
    index = lexical.BM25Index(ids, texts)
    query = "hotel travel policy"
    scores = index.scores(query)
    full = index.search(query, k=10)
    expected = sorted(
        ((d, scores[d]) for d in ("zeta-twin", "alpha-twin", "m-hotel", "b-travel")),
        key=lambda pair: (-pair[1], pair[0]),
    )
    assert_same(full, expected, f"search({query!r}, k=10)", abs_tol=1e-12)
    assert_same(index.search(query, k=2), expected[:2], f"search({query!r}, k=2)", abs_tol=1e-12)
    assert_same(index.search("nothing matches this", k=5), [], "search for words no document has")
