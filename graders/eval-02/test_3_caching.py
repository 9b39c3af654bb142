"""eval-02, task 3: an exact cache keyed on the normalised request, a semantic cache with a
threshold chosen on dev. Vectors and dev pairs are seeded here (plain data), so the expected
hits and threshold are computed exactly."""

from __future__ import annotations

import math
import random
from typing import Any

from labkit.grading import assert_same, lab_test


@lab_test(points=2, number="3.1")
def test_exact_cache_key_is_normalised(learner: Any, lab_seed: int) -> None:
    """Case and spacing do not change the key; the prompt and the question do."""
    caching = learner.import_module("caching")
    rng = random.Random(lab_seed)
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    question = f"What is {a} plus {b}?"
    system = f"You are calculator number {rng.randint(1, 99)}."
    key = caching.cache_key(system, question)
    assert isinstance(key, str), f"cache_key should return a non-empty str; got {key!r}"
    assert key, f"cache_key should return a non-empty str; got {key!r}"
    for variant in (question.upper(), f"  {question}\n", question.replace(" ", "\t ")):
        assert_same(
            caching.cache_key(system, variant) == key,
            True,
            f"same key for {variant!r} and {question!r}",
        )
    others = {
        "another question": caching.cache_key(system, f"What is {a} plus {b + 1}?"),
        "another system prompt": caching.cache_key(system + " Be brief.", question),
        "system prompt in other case": caching.cache_key(system.upper(), question),
    }
    for what, other in others.items():
        assert_same(other == key, False, f"a different key for {what}")


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _near(rng: random.Random, v: list[float], noise: float) -> list[float]:
    return _unit([x + rng.gauss(0, noise) for x in v])


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


@lab_test(points=2, number="3.2")
def test_semantic_lookup_and_threshold(learner: Any, lab_seed: int) -> None:
    """The semantic cache serves the most similar entry above its threshold, and a too-low
    threshold serves wrong answers."""
    caching = learner.import_module("caching")
    rng = random.Random(lab_seed + 1)
    dim = 16
    stored = [_unit([rng.gauss(0, 1) for _ in range(dim)]) for _ in range(6)]
    values = [f"answer-{i}-{rng.randint(100, 999)}" for i in range(6)]
    empty = caching.SemanticCache(threshold=0.5)
    assert_same(empty.lookup(stored[0]), None, "lookup on an empty cache")
    cache = caching.SemanticCache(threshold=0.9)
    for v, value in zip(stored, values, strict=True):
        cache.put(v, value)
    for i in rng.sample(range(6), 3):
        query = _near(rng, stored[i], 0.05)
        got = cache.lookup(query)
        sims = [_cos(query, v) for v in stored]
        best = max(range(6), key=lambda j: sims[j])
        want = (values[best], sims[best]) if sims[best] >= 0.9 else None
        if got is not None:
            got = (got[0], float(got[1]))
        assert_same(got, want, f"lookup of a paraphrase of entry {i}", rel_tol=1e-9)
    # a "near miss": same words, different number -> different answer, similarity ~0.8
    miss = _near(rng, stored[2], 0.4)
    sim = _cos(miss, stored[2])
    strict = caching.SemanticCache(threshold=min(0.999, sim + 0.01))
    loose = caching.SemanticCache(threshold=max(0.0, sim - 0.3))
    for c in (strict, loose):
        c.put(stored[2], values[2])
    assert_same(strict.lookup(miss), None, f"lookup of a near miss (similarity {sim:.3f}) above it")
    served = loose.lookup(miss)
    assert_same(
        None if served is None else served[0],
        values[2],
        f"a threshold below the near miss's similarity {sim:.3f} serves the cached (wrong) answer",
    )


@lab_test(points=2, number="3.3")
def test_threshold_is_chosen_on_dev(learner: Any, lab_seed: int) -> None:
    """choose_threshold: the lowest threshold that serves no wrong answer on dev."""
    caching = learner.import_module("caching")
    rng = random.Random(lab_seed + 2)
    pairs = [(round(rng.uniform(0.85, 1.0), 4), True) for _ in range(20)]
    pairs += [(round(rng.uniform(0.5, 0.95), 4), False) for _ in range(15)]
    rng.shuffle(pairs)
    got = caching.choose_threshold(pairs)
    worst = max(s for s, same in pairs if not same)
    want = min((s for s, same in pairs if same and s > worst), default=math.inf)
    assert_same(got, want, f"choose_threshold on {len(pairs)} dev pairs (worst wrong pair {worst})")
    hits = [s for s, _ in pairs if s >= want]
    assert hits, "the chosen threshold should let some dev pairs hit"
    only_wrong = [(0.9, False), (0.7, True)]
    assert_same(caching.choose_threshold(only_wrong), math.inf, f"choose_threshold({only_wrong})")
