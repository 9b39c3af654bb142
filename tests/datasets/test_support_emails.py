"""The support-emails dataset (datasets/support-emails) is well-formed and its gold records are right.

The gold records must validate against the reference ``SupportTicket`` model of lab chat-03, and
every free-text value must be copied verbatim from its email (that is the labelling rule the lab's
README states).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "datasets" / "support-emails" / "emails.jsonl"
TICKET_MODULE = ROOT / "solutions" / "chat-03" / "ticket.py"
STRING_FIELDS = ("customer_name", "customer_email", "order_id", "product")


def _load_ticket_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chat03_reference_ticket", TICKET_MODULE)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the model's annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ticket() -> ModuleType:
    return _load_ticket_module()


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    lines = DATASET.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_rows_have_the_documented_fields(rows: list[dict]) -> None:
    assert 30 <= len(rows) <= 40, f"expected about 30 emails, found {len(rows)}"
    for row in rows:
        assert set(row) == {"id", "text", "gold"}, f"{row.get('id')}: fields {sorted(row)}"
        assert isinstance(row["text"], str)
        assert row["text"].startswith("From: ")
    ids = [row["id"] for row in rows]
    assert len(set(ids)) == len(ids), "ids must be unique"


def test_gold_records_validate_and_round_trip(rows: list[dict], ticket: ModuleType) -> None:
    for row in rows:
        record = ticket.SupportTicket.model_validate(row["gold"])
        assert record.model_dump(mode="json") == row["gold"], f"{row['id']} does not round-trip"


def test_gold_strings_appear_verbatim_in_the_email(rows: list[dict]) -> None:
    for row in rows:
        for field in STRING_FIELDS:
            value = row["gold"][field]
            if value is not None:
                assert value in row["text"], f"{row['id']}: {field}={value!r} is not in the text"


def test_every_enum_value_is_covered(rows: list[dict], ticket: ModuleType) -> None:
    for field, enum in (
        ("category", ticket.IssueCategory),
        ("urgency", ticket.Urgency),
        ("requested_action", ticket.RequestedAction),
    ):
        seen = {row["gold"][field] for row in rows}
        assert seen == {member.value for member in enum}, f"{field}: missing {set(enum) - seen}"


def test_nullable_fields_have_both_kinds_of_example(rows: list[dict]) -> None:
    for field in ("order_id", "product", "incident_date"):
        values = [row["gold"][field] for row in rows]
        assert None in values, field
        assert any(v is not None for v in values), field
