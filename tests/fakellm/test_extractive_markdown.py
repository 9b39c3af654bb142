"""The extractive answerer on markdown sources, as RAG pipelines send them (rag-02 relies on it)."""

from __future__ import annotations

from labkit.fakellm.extractive import ExtractiveAnswerer
from labkit.fakellm.sources import find_sources
from labkit.fakellm.types import ChatRequest, Message
from labkit.lexical import exact_terms

SOURCES = """[1] (policy-travel-2023) ## 5. Meals
While travelling, employees receive a meal per diem of $60 per day.

[2] (policy-travel-2024) ## 5. Meals
While travelling, employees receive a meal per diem of $75 per day.

[3] (api-webhooks) ## Delivery and retries
Your endpoint must answer with a 2xx status within 10 seconds. If it does not, Tessaline
retries the delivery up to 6 times over about 1 hour.
A webhook channel whose deliveries fail for 72 hours is disabled.

[4] (agent-manual) ## Error codes
| Code | Meaning |
|---|---|
| AGT-101 | Cannot reach the ingest endpoint |
| AGT-115 | Enrollment token expired or invalid |

Question: {question}"""


def ask(question: str) -> tuple[str, tuple[int, ...]]:
    request = ChatRequest(
        api="openai",
        endpoint="chat",
        model="m",
        messages=[Message("user", SOURCES.format(question=question))],
    )
    answer = ExtractiveAnswerer().answer(request)
    assert answer is not None
    return answer.text, answer.citations


def test_sources_keep_their_lines() -> None:
    found = find_sources(SOURCES.format(question="x"))
    assert found[0].lines == (
        "## 5. Meals",
        "While travelling, employees receive a meal per diem of $60 per day.",
    )
    assert found[0].text == " ".join(found[0].lines)


def test_label_and_heading_frame_a_sentence() -> None:
    text, cites = ask("What meal per diem does the 2024 travel policy pay per day?")
    assert cites == (2,)
    assert "$75 per day" in text
    assert "##" not in text


def test_table_rows_are_units_and_quoted_without_pipes() -> None:
    text, cites = ask("What does the agent error AGT-115 mean?")
    assert text == "AGT-115 | Enrollment token expired or invalid [4]."
    assert cites == (4,)


def test_unknown_identifier_is_refused() -> None:
    text, cites = ask("What does the agent error AGT-205 mean?")
    assert "I don't know" in text
    assert cites == ()
    assert exact_terms("Is ingest.dedupe_window_s set in 2025 by --dry-run?") == [
        "ingest.dedupe_window_s",
        "2025",
        "--dry-run",
    ]


def test_wrapped_lines_and_answer_type() -> None:
    text, cites = ask(
        "How quickly must a webhook endpoint answer, and how often are deliveries retried?"
    )
    assert "within 10 seconds" in text, text
    assert "up to 6 times" in text, text
    assert cites == (3,)


def answer_from(sources: str, question: str) -> tuple[str, tuple[int, ...]]:
    request = ChatRequest(
        api="openai",
        endpoint="chat",
        model="m",
        messages=[Message("user", f"{sources}\n\nQuestion: {question}")],
    )
    answer = ExtractiveAnswerer().answer(request)
    assert answer is not None
    return answer.text, answer.citations


def test_a_sentence_opening_with_a_pronoun_is_quoted_with_the_one_before() -> None:
    sources = (
        "[1] (runbook-certificates) ## Renewal\n"
        "1. Check that the `_acme-challenge` CNAME record exists. Its removal caused INC-2024-0131.\n"
        "2. Run the renew command."
    )
    text, cites = answer_from(sources, "What caused INC-2024-0131?")
    assert text == (
        "Check that the `_acme-challenge` CNAME record exists. "
        "Its removal caused INC-2024-0131 [1]."
    )
    assert cites == (1,)


def test_a_date_is_not_the_quantity_asked_for() -> None:
    sources = (
        "[1] (api-v1-deprecation) API v1 will be switched off on 31 March 2025. "
        "API v1 applies one rate limit to every workspace.\n\n"
        "[2] (api-v1-rate-limits) Each API v1 key may make 100 requests per minute."
    )
    text, cites = answer_from(sources, "What is the API v1 rate limit?")
    assert "100 requests per minute [2]" in text
    assert 2 in cites


def test_sources_that_share_words_but_not_meaning_are_refused() -> None:
    sources = (
        "[1] (policy-remote-work) Tessaline has offices in Rotterdam, Austin and Singapore. "
        "Employees choose where they work."
    )
    text, cites = answer_from(sources, "Can employees bring their dogs to the Rotterdam office?")
    assert "I don't know" in text
    assert cites == ()
