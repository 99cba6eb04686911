"""The load-change messages of the projections' internal topic: typed, frozen, closed, and readable as written
before they had models (same keys, no schema_version)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.projections import (
    LOAD_CHANGE_KINDS,
    MAX_ROW_CHANGES,
    MembershipChanged,
    ModuleCapacityChanged,
    ModuleOfferingChanged,
    RowChanges,
    WaitingListChanged,
    WaitingTimeMeasured,
    as_messages,
    changes_in,
    dump_load_change,
    parse_load_change,
)

# Exactly what the worker wrote before the models (faust's json codec of plain dicts), one of each kind.
UNTYPED = [
    {"kind": "membership", "trajectory_id": "T-1", "membership": "active"},
    {"kind": "membership", "trajectory_id": "T-1", "membership": None},
    {"kind": "capacity", "valid_from": "2024-09-01", "capacity": 12},
    {"kind": "offered", "valid_from": "2025-01-01", "offered": False},
    {"kind": "wait", "trajectory_id": "T-1", "school_year": "2024-2025", "days": 7.0},
]


@pytest.mark.parametrize("untyped", UNTYPED, ids=lambda u: f"{u['kind']}")
def test_a_message_written_before_the_models_parses_and_is_written_again_with_the_same_keys(
    untyped: dict[str, Any],
) -> None:
    message = parse_load_change(json.dumps(untyped).encode())
    assert isinstance(message, LOAD_CHANGE_KINDS[untyped["kind"]]) and message.schema_version == 1
    written = json.loads(dump_load_change(message))
    assert written == {**untyped, "schema_version": 1}
    assert parse_load_change(dump_load_change(message)) == message


def test_each_model_round_trips_and_is_frozen() -> None:
    messages = [
        MembershipChanged(trajectory_id="T-2", membership="waiting"),
        ModuleCapacityChanged(valid_from=date(2024, 9, 1), capacity=0),
        ModuleOfferingChanged(valid_from=date(2024, 9, 1), offered=True),
        WaitingTimeMeasured(trajectory_id="T-2", school_year="2024-2025", days=0.5),
        WaitingListChanged(trajectory_id="T-2", on_list=True),
    ]
    messages.append(RowChanges(changes=(messages[0], MembershipChanged(trajectory_id="T-2", membership=None))))
    assert [parse_load_change(dump_load_change(m)) for m in messages] == messages
    assert [m.kind for m in messages] == list(LOAD_CHANGE_KINDS)
    with pytest.raises(ValidationError, match="frozen"):
        messages[1].capacity = 3


def test_an_unknown_kind_is_refused_naming_the_allowed_kinds() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_load_change(b'{"kind": "evicted", "trajectory_id": "T-1"}')
    (error,) = refused.value.errors()
    assert error["type"] == "union_tag_invalid"
    assert "'membership', 'capacity', 'offered', 'wait'" in error["msg"] and "'evicted'" in error["msg"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"kind": "capacity", "valid_from": "2024-09-01", "capacity": 12, "provider_id": "x"}, "provider_id"),
        ({"kind": "capacity", "valid_from": "2024-09-01", "capacity": -1}, "capacity"),
        ({"kind": "membership", "trajectory_id": "T-1", "membership": "finished"}, "membership"),
        ({"kind": "wait", "trajectory_id": "T-1", "school_year": "2024", "days": 1.0}, "school_year"),
        ({"kind": "wait", "trajectory_id": "T-1", "school_year": "2024-2025", "days": 1.0, "schema_version": 2},
         "schema_version"),
    ],
)  # fmt: skip
def test_a_message_that_breaks_its_model_is_refused_naming_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_load_change(json.dumps(raw))
    assert [e["loc"][-1] for e in refused.value.errors()] == [field]


def test_a_rows_batch_of_changes_is_one_record_in_order_and_a_huge_one_is_split_below_the_size_limit() -> None:
    changes = [MembershipChanged(trajectory_id=f"T-{n}", membership="active") for n in range(MAX_ROW_CHANGES + 1)]
    assert as_messages(changes[:1]) == [changes[0]]  # a single change is written as it always was
    first, second = as_messages(changes)
    assert isinstance(first, RowChanges) and isinstance(second, RowChanges)
    assert [*changes_in(first), *changes_in(second)] == changes
    assert len(dump_load_change(first)) < 100_000  # far below the broker's 1 MB message limit
    assert changes_in(parse_load_change(dump_load_change(second))) == (changes[-1],)


@pytest.mark.parametrize(
    ("raw", "allowed"),
    [
        ({"kind": "changes", "changes": []}, "at least 1"),
        ({"kind": "changes", "changes": [{"kind": "changes", "changes": []}]}, "'membership', 'capacity'"),
        ({"kind": "changes", "changes": [{"kind": "membership", "trajectory_id": "T-1", "membership": "active"}]
          * (MAX_ROW_CHANGES + 1)}, f"at most {MAX_ROW_CHANGES}"),
    ],
    ids=["empty", "nested", "too-many"],
)  # fmt: skip
def test_a_batch_of_changes_that_is_empty_nested_or_too_long_is_refused(raw: dict[str, Any], allowed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_load_change(json.dumps(raw))
    assert allowed in str(refused.value) and "changes" in str(refused.value)
