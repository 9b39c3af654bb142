"""rag-02's starter gives learners ``exact_terms`` to read (the rule that makes ``ERR-4130`` an
exact term); the fake provider's answerer and judges use ``labkit.lexical.exact_terms``. A lab's
given code does not import the toolkit's internals, so the rule is written twice: this keeps the
two equal."""

from __future__ import annotations

import pytest

from labkit import lexical
from labkit.datasets import repo_root
from labkit.retrieval.labfolder import load_modules

QUESTIONS = [
    "Is ingest.dedupe_window_s set in 2025 by --dry-run?",
    "What does ERR-4130 mean on v2.3/beta?",
    "How do I rotate keys with OPS-1421 and query.max_rows=500.",
    "Plain words only, nothing exact here.",
    "a_b c.d --x- e/f 12 --",
    "",
]


@pytest.mark.parametrize("folder", ["labs", "solutions"])
def test_the_lab_and_the_toolkit_agree_on_exact_terms(folder: str) -> None:
    lab = load_modules(repo_root() / folder / "rag-02", ["rag"])["rag"].exact_terms
    for question in QUESTIONS:
        assert lab(question) == lexical.exact_terms(question), question
