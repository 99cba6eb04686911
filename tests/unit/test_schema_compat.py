"""Backward compatibility of the submission schemas: the current contract against the frozen baseline, and the
checker itself on synthetic schema pairs (each breaking change caught, each compatible change let through)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from schemas.compat import Break, baseline_breaks, breaking_changes
from schemas.export import BASELINE, read_schemas, submission_schemas

NULLABLE_INT = {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}


def event(payload_props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A submission schema shaped like pydantic's: the payload behind a $ref, closed to extra fields."""
    return {
        "$defs": {"Payload": {"type": "object", "additionalProperties": False, "properties": payload_props,
                              "required": required or []}},
        "type": "object",
        "additionalProperties": False,
        "properties": {"event_type": {"const": "X", "type": "string"}, "payload": {"$ref": "#/$defs/Payload"}},
        "required": ["event_type", "payload"],
    }  # fmt: skip


BASE = event(
    {
        "reason": {"type": "string", "enum": ["a", "b", "c"], "x-codelist": "reason"},
        "count": NULLABLE_INT,
        "share": {"type": "number"},
        "note": {"type": "string", "maxLength": 200},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}},
    },
    required=["reason"],
)


def changed(path: list[str], value: Any = None, delete: bool = False) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    target = schema
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return schema


PAYLOAD = ["$defs", "Payload"]
PROPS = [*PAYLOAD, "properties"]


def problems(current: dict[str, Any], name: str = "X.v1.submission.json") -> list[Break]:
    return breaking_changes({name: BASE}, {name: current})


def test_the_current_contract_keeps_every_producer_of_the_baseline_working() -> None:
    assert read_schemas(BASELINE), "no baseline: run `kans schemas baseline`"
    assert baseline_breaks() == [], "a producer would break: fix the change, or version the event"


def test_the_baseline_covers_every_current_submission_schema() -> None:
    """A new event type or version is frozen with `kans schemas baseline` once it is published."""
    assert sorted(submission_schemas()) == sorted(read_schemas(BASELINE))


@pytest.mark.parametrize(
    ("current", "path", "problem"),
    [
        (changed([*PAYLOAD, "required"], ["reason", "share"]), "payload.share", "new required field"),
        (changed([*PROPS, "note"], delete=True), "payload.note", "field removed"),
        (changed([*PROPS, "reason", "enum"], ["a", "c"]), "payload.reason", "values removed: b"),
        (changed([*PROPS, "count"], {"type": "integer"}), "payload.count", "type narrowed: null"),
        (changed([*PROPS, "share"], {"type": "integer"}), "payload.share", "type narrowed: number"),
        (changed([*PROPS, "note", "maxLength"], 100), "payload.note", "maxLength lowered to 100"),
        (changed([*PROPS, "note", "pattern"], "^[a-z]+$"), "payload.note", "pattern changed"),
        (changed([*PROPS, "share", "minimum"], 0), "payload.share", "minimum raised to 0"),
        (changed([*PROPS, "note", "enum"], ["ok"]), "payload.note", "narrowed to the values"),
        (changed([*PROPS, "tags", "items", "enum"], ["x"]), "payload.tags[]", "values removed: y"),
        (changed(["properties", "event_type", "const"], "Y"), "event_type", "values removed: X"),
    ],
)
def test_each_breaking_change_is_caught(current: dict[str, Any], path: str, problem: str) -> None:
    found = problems(current)
    assert [(b.path, b.problem.startswith(problem)) for b in found] == [(path, True)], found


def test_a_removed_event_type_is_caught() -> None:
    (found,) = breaking_changes({"X.v1.submission.json": BASE, "Y.v1.submission.json": BASE},
                                {"X.v1.submission.json": BASE})  # fmt: skip
    assert (found.schema, found.problem) == ("Y.v1.submission.json", "event type or version removed")


@pytest.mark.parametrize(
    "current",
    [
        changed([*PROPS, "extra"], {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}),  # new optional
        changed([*PROPS, "reason", "enum"], ["a", "b", "c", "d"]),  # a new code
        changed([*PROPS, "count"], {"anyOf": [{"type": "number"}, {"type": "null"}]}),  # integer -> number
        changed([*PROPS, "note", "maxLength"], 400),  # a looser bound
        changed([*PROPS, "note", "description"], "a new description"),
        changed([*PAYLOAD, "required"], []),  # a required field becomes optional
    ],
)
def test_compatible_changes_pass(current: dict[str, Any]) -> None:
    assert problems(current) == []


def test_the_checker_reads_real_exported_schemas() -> None:
    """On a pydantic export: removing a perspective code from TrajectoryClosed is caught at its field."""
    name = "TrajectoryClosed.v1.submission.json"
    current = copy.deepcopy(submission_schemas()[name])
    perspective = current["$defs"]["TrajectoryClosedPayload"]["properties"]["perspective"]
    perspective["enum"].remove("youth_care")
    (found,) = breaking_changes({name: submission_schemas()[name]}, {name: current})
    assert (found.path, found.problem) == ("payload.perspective", "values removed: youth_care")
