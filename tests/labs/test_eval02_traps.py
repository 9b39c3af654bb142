"""eval-02's grader catches the two mistakes its issue names: an A/B test that peeks, and a
cache that still sends repeated requests to the provider. Each is a small edit of the reference,
graded by the real grader; the named test must fail while the rest still pass."""

from __future__ import annotations

import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labkit.grading.manifest import discover_labs, repo_root
from labkit.grading.runner import grade

ROOT = repo_root(Path(__file__).resolve().parent)
LABS = {lab.id: lab for lab in discover_labs(ROOT)}

PEEKING = '''

def run_experiment(outcomes_a, outcomes_b, n_per_arm, alpha=0.05):
    """Peeks: tests after every pair and stops at the first p < alpha."""
    if len(outcomes_a) < n_per_arm or len(outcomes_b) < n_per_arm:
        raise ValueError("not enough outcomes")
    for n in range(10, n_per_arm + 1):
        result = compare(sum(outcomes_a[:n]), n, sum(outcomes_b[:n]), n, alpha)
        if result["winner"] is not None:
            break
    return {**result, "n_per_arm": n_per_arm}
'''


@pytest.mark.parametrize("lab_id", ["eval-02"])  # so `pytest -k eval-02` selects it
def test_peeking_and_leaky_cache_are_caught(lab_id: str, tmp_path: Path) -> None:
    reference = ROOT / "solutions" / lab_id
    peeking = tmp_path / "peeking"
    shutil.copytree(reference, peeking)
    (peeking / "abtest.py").write_text(
        (reference / "abtest.py").read_text(encoding="utf-8") + PEEKING, encoding="utf-8"
    )
    leaky = tmp_path / "leaky"
    shutil.copytree(reference, leaky)
    source = (reference / "service.py").read_text(encoding="utf-8")
    # look the key up, but answer from the model anyway
    leaky_source, count = re.subn(
        r"hit, kind = cache\.get\(key\), \"exact\"",
        'cache.get(key); hit, kind = None, "exact"',
        source,
    )
    assert count == 1, "the reference's cache lookup line changed: update this test"
    (leaky / "service.py").write_text(leaky_source, encoding="utf-8")

    with ThreadPoolExecutor(max_workers=2) as pool:
        peek_result, leaky_result = pool.map(lambda f: grade(LABS[lab_id], f), [peeking, leaky])
    failed = {t.meta.number for t in peek_result.tests if not t.passed}
    assert failed == {"5.4"}, f"a peeking run_experiment should fail exactly 5.4; failed {failed}"
    failed = {t.meta.number for t in leaky_result.tests if not t.passed}
    assert "4.6" in failed, f"a cache that still calls the model should fail 4.6; failed {failed}"
