"""rag-02 gives learners ``exact_terms`` (the rule that makes ``ERR-4130`` an exact term) by
importing the toolkit's own, which the fake provider's answerer and judges use: one rule, so the
lab's retrieval and the fake model cannot disagree. This checks the lab still imports it (a copy
pasted back would drift) and pins the rule on questions like the course's."""

from __future__ import annotations

import pytest

from labkit import lexical
from labkit.datasets import repo_root
from labkit.retrieval.labfolder import load_modules

CASES = {
    "Is ingest.dedupe_window_s set in 2025 by --dry-run?": [
        "ingest.dedupe_window_s",
        "2025",
        "--dry-run",
    ],
    "What does ERR-4130 mean on v2.3/beta?": ["ERR-4130", "v2.3/beta"],
    "How do I rotate keys with OPS-1421 and query.max_rows=500.": [
        "OPS-1421",
        "query.max_rows",
        "500",
    ],
    "Plain words only, nothing exact here.": [],
    "": [],
}


@pytest.mark.parametrize("folder", ["labs", "solutions"])
def test_the_lab_is_given_the_toolkit_s_exact_terms(folder: str) -> None:
    lab = load_modules(repo_root() / folder / "rag-02", ["rag"])["rag"]
    assert lab.exact_terms is lexical.exact_terms


@pytest.mark.parametrize(("question", "terms"), CASES.items())
def test_exact_terms(question: str, terms: list[str]) -> None:
    assert lexical.exact_terms(question) == terms
