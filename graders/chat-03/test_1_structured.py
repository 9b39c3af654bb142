"""chat-03, tasks 1 and 2: strict JSON-schema output, validation, and re-asking with the error.

The fake provider is scripted with the replies a model could give (valid JSON, truncated JSON, a
made-up enum value, a missing field); the tests read its journal to see what was sent.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import support  # this grader's shared helpers (graders/<id>/support.py, on sys.path)
from support import CHAT

from labkit import config
from labkit.fakellm import reply
from labkit.grading import LearnerError, assert_same, exact_type, lab_test

TICKET_FIELDS = [
    "customer_name",
    "customer_email",
    "order_id",
    "product",
    "category",
    "urgency",
    "requested_action",
    "incident_date",
]


def _assert_record(learner: Any, record: Any, row: dict[str, Any]) -> None:
    """The record is a real SupportTicket whose serialised fields are exactly the gold ones."""
    ticket = learner.import_module("ticket")
    assert exact_type(record, ticket.SupportTicket), (
        f"{row['id']}: expected a SupportTicket, got {getattr(record, 'type_name', type(record).__name__)}"
    )
    assert_same(record.model_dump(mode="json"), row["gold"], f"{row['id']}: the record")


def _object_nodes(node: Any, path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    """Every sub-schema that describes an object (has properties), with where it is."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict) or node.get("type") == "object":
            found.append((path, node))
        for key, value in node.items():
            if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
                for name, sub in value.items():
                    found += _object_nodes(sub, f"{path}.{key}.{name}")
            elif isinstance(value, (dict, list)) and key not in ("enum", "const", "required"):
                found += _object_nodes(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += _object_nodes(item, f"{path}[{i}]")
    return found


def _assert_strict(schema: dict[str, Any]) -> None:
    nodes = _object_nodes(schema)
    assert nodes, "the schema describes no object at all"
    for where, node in nodes:
        props = list(node.get("properties") or {})
        assert node.get("additionalProperties") is False, (
            f'object schema at {where} needs "additionalProperties": false; '
            f"it has {node.get('additionalProperties')!r}"
        )
        assert sorted(node.get("required") or []) == sorted(props), (
            f"object schema at {where} must list all its properties in required: "
            f"properties {props}, required {node.get('required')}"
        )


# --------------------------------------------------------------------------- task 1


@lab_test(points=2, number="1.1")
def test_strict_schema_tightens_every_object(learner: Any) -> None:
    """strict_json_schema tightens every object in the schema."""
    from pydantic import BaseModel, Field

    ext = learner.import_module("extract")

    class Line(BaseModel):
        sku: str
        quantity: int = 1
        note: str | None = None

    class Address(BaseModel):
        street: str
        city: str = "Springfield"

    class Order(BaseModel):
        order_id: str
        lines: list[Line]
        ship_to: Address | None = None
        tags: list[str] = Field(default_factory=list)

    schema = ext.strict_json_schema(Order)
    assert isinstance(schema, dict), f"expected a dict, got {type(schema).__name__}"
    _assert_strict(schema)
    assert set(schema.get("properties", {})) == {"order_id", "lines", "ship_to", "tags"}, (
        f"the root must keep the model's fields; got {sorted(schema.get('properties', {}))}"
    )
    defs = schema.get("$defs") or {}
    assert {"Line", "Address"} <= set(defs), (
        f"nested models should stay in $defs; got {sorted(defs)}"
    )


@lab_test(points=2, number="1.2")
def test_request_asks_for_strict_json_schema(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """The request asks for strict JSON-schema output."""
    (row,) = support.sample(lab_seed, 1)
    fake_llm.script(reply.text(json.dumps(row["gold"])))
    support.extract(learner, row["text"])

    body = fake_llm.journal.last(CHAT).body
    fmt = body.get("response_format")
    assert isinstance(fmt, dict), (
        f"expected response_format with type json_schema; sent {json.dumps(fmt)[:200]}"
    )
    assert fmt.get("type") == "json_schema", (
        f"expected response_format with type json_schema; sent {json.dumps(fmt)[:200]}"
    )
    spec = fmt.get("json_schema") or {}
    assert spec.get("strict") is True, (
        f"json_schema.strict must be true; sent {spec.get('strict')!r}"
    )
    name = spec.get("name")
    assert isinstance(name, str), (
        f"json_schema.name must be a non-empty name of letters, digits, _ or -; sent {name!r}"
    )
    assert name, (
        f"json_schema.name must be a non-empty name of letters, digits, _ or -; sent {name!r}"
    )
    assert all(c.isalnum() or c in "_-" for c in name), (
        f"json_schema.name must be a non-empty name of letters, digits, _ or -; sent {name!r}"
    )
    schema = spec.get("schema")
    assert isinstance(schema, dict), f"json_schema.schema must be the JSON Schema; sent {schema!r}"
    assert sorted(schema.get("properties", {})) == sorted(TICKET_FIELDS), (
        f"the schema's properties should be SupportTicket's fields {TICKET_FIELDS}; "
        f"sent {sorted(schema.get('properties', {}))}"
    )
    _assert_strict(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for other in support.ROWS:
        errors = [e.message for e in validator.iter_errors(other["gold"])]
        assert not errors, (
            f"the sent schema rejects the valid ticket of {other['id']}: {errors[:2]}"
        )
    wrong = {**row["gold"], "category": "complaint"}
    assert not validator.is_valid(wrong), "the sent schema accepts category='complaint'"


@lab_test(points=1, number="1.3")
def test_prompt_is_system_then_the_email(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """The prompt is the system message, then the email."""
    (row,) = support.sample(lab_seed + 1, 1)
    fake_llm.script(reply.text(json.dumps(row["gold"])))
    support.extract(learner, row["text"])

    body = fake_llm.journal.last(CHAT).body
    messages = body.get("messages") or []
    roles = [m.get("role") for m in messages]
    assert roles[:1] in (["system"], ["developer"]), (
        f"the first message must be the system prompt; roles {roles}"
    )
    assert isinstance(messages[0].get("content"), str), "the system message is empty"
    assert messages[0]["content"].strip(), "the system message is empty"
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    assert any(isinstance(c, str) and row["text"].strip() in c for c in users), (
        f"no user message contains the email text; user messages: {[str(c)[:80] for c in users]}"
    )
    assert body.get("model") == config.chat_model(), (
        f"expected model {config.chat_model()!r} from labkit.config; sent {body.get('model')!r}"
    )


@lab_test(points=2, number="1.4")
def test_extracts_typed_records(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """Replies become typed SupportTicket records."""
    ticket = learner.import_module("ticket")
    rows = support.sample(lab_seed + 2, 3)
    for row in rows:
        fake_llm.script(reply.text(json.dumps(row["gold"], indent=1)))
        result = support.extract(learner, row["text"])
        record = result.record
        _assert_record(learner, record, row)
        assert exact_type(record.category, ticket.IssueCategory), (
            f"category should be an IssueCategory, got {getattr(record.category, 'type_name', type(record.category).__name__)}"
        )
        assert result.replies == 1, f"{row['id']}: one valid reply, but replies={result.replies!r}"
    assert fake_llm.journal.count(CHAT) == len(rows), (
        f"expected one request per email ({len(rows)}); the fake saw {fake_llm.journal.count(CHAT)}"
    )


# --------------------------------------------------------------------------- task 2


def _new_messages(
    first: list[dict[str, Any]], second: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    assert second[: len(first)] == first, (
        "a re-ask must keep the conversation so far and add to it; the second request's first "
        f"{len(first)} messages differ from the first request's"
    )
    return second[len(first) :]


def _validation_msg(ext: Any, text: str) -> str:
    try:
        ext.SupportTicket.model_validate_json(text)
    except LearnerError as exc:  # pydantic's ValidationError, raised in the worker
        return str(exc.errors()[0]["msg"])
    raise AssertionError("the grader's invalid reply validated: grader bug")


@lab_test(points=3, number="2.1")
def test_malformed_json_is_reasked_with_the_error(
    learner: Any, fake_llm: Any, lab_seed: int
) -> None:
    """Malformed JSON is re-asked with the validation error."""
    ext = learner.import_module("extract")
    (row,) = support.sample(lab_seed + 3, 1)
    full = json.dumps(row["gold"])
    bad = full[: len(full) // 2]  # cut off in the middle, like a reply that hit max_tokens
    fake_llm.script(reply.text(bad), reply.text(full))
    result = support.extract(learner, row["text"])

    bodies = fake_llm.journal.bodies(CHAT)
    assert len(bodies) == 2, (
        f"expected 2 requests (the first reply is broken JSON); saw {len(bodies)}"
    )
    added = _new_messages(bodies[0]["messages"], bodies[1]["messages"])
    assert added, (
        f"the re-ask should first repeat the model's bad reply as an assistant message; added {added[:1]}"
    )
    assert added[0].get("role") == "assistant", (
        f"the re-ask should first repeat the model's bad reply as an assistant message; added {added[:1]}"
    )
    assert added[0].get("content") == bad, (
        f"the re-ask should first repeat the model's bad reply as an assistant message; added {added[:1]}"
    )
    expected = _validation_msg(ext, bad)
    feedback = [m.get("content") for m in added[1:] if m.get("role") == "user"]
    assert any(isinstance(c, str) and expected in c for c in feedback), (
        f"a user message after the bad reply should contain the validation error ({expected!r}); "
        f"added {[str(c)[:120] for c in feedback]}"
    )
    _assert_record(learner, result.record, row)
    assert result.replies == 2, f"two replies were received; Extraction.replies={result.replies!r}"


@lab_test(points=2, number="2.2")
def test_wrong_enum_and_missing_field_are_reasked(
    learner: Any, fake_llm: Any, lab_seed: int
) -> None:
    """A wrong enum value and a missing field are re-asked."""
    ext = learner.import_module("extract")
    (row,) = support.sample(lab_seed + 4, 1)
    wrong_enum = json.dumps({**row["gold"], "category": "complaint"})
    missing = json.dumps({k: v for k, v in row["gold"].items() if k != "urgency"})
    fake_llm.script(
        reply.text(wrong_enum), reply.text(missing), reply.text(json.dumps(row["gold"]))
    )
    result = support.extract(learner, row["text"], max_reasks=2)

    bodies = fake_llm.journal.bodies(CHAT)
    assert len(bodies) == 3, (
        f"expected 3 requests (two invalid replies, then a valid one); saw {len(bodies)}"
    )
    for before, after, needles in (
        (bodies[0], bodies[1], ("category", _validation_msg(ext, wrong_enum))),
        (bodies[1], bodies[2], ("urgency", _validation_msg(ext, missing))),
    ):
        added = _new_messages(before["messages"], after["messages"])
        text = "\n".join(str(m.get("content")) for m in added if m.get("role") == "user")
        missing_needles = [n for n in needles if n not in text]
        assert not missing_needles, (
            f"the re-ask should quote the validation error; it lacks {missing_needles}: {text[:300]!r}"
        )
    _assert_record(learner, result.record, row)
    assert result.replies == 3, (
        f"three replies were received; Extraction.replies={result.replies!r}"
    )


@lab_test(points=3, number="2.3")
def test_reasks_are_bounded(learner: Any, fake_llm: Any, lab_seed: int) -> None:
    """Re-asks stop after max_reasks with ExtractionError."""
    ext = learner.import_module("extract")
    (row,) = support.sample(lab_seed + 5, 1)
    invalid = json.dumps({**row["gold"], "urgency": "whenever"})
    expected_msg = _validation_msg(ext, invalid)
    seen = 0
    for max_reasks in (2, 0, 1):
        fake_llm.script(reply.text(invalid), times=6)
        with pytest.raises(ext.ExtractionError) as info:
            support.extract(learner, row["text"], max_reasks=max_reasks)
        count = fake_llm.journal.count(CHAT) - seen
        seen += count
        assert count == 1 + max_reasks, (
            f"with max_reasks={max_reasks} and a model that is always wrong, expected "
            f"{1 + max_reasks} requests; saw {count}"
        )
        exc = info.value
        assert exc.replies == 1 + max_reasks, (
            f"ExtractionError.replies={exc.replies!r}, expected {1 + max_reasks}"
        )
        assert expected_msg in str(exc), (
            f"the ExtractionError message should include the last validation error "
            f"({expected_msg!r}); it was {str(exc)[:200]!r}"
        )
        assert "urgency" in str(exc), (
            f"the ExtractionError message should include the last validation error "
            f"({expected_msg!r}); it was {str(exc)[:200]!r}"
        )
