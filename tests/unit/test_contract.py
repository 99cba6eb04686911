"""The event contract: validation names the field and the allowed values; derived fields; frozen events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.envelope import event_id_for, school_year_of
from schemas.export import OUT, dumps, rendered
from schemas.registry import EVENT_TYPES, SUBMISSION_ADAPTER, example_submission, parse_event, seal

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "year"),
    [
        ("2019-09-01T00:00:00+02:00", "2019-2020"),
        ("2020-08-31T23:59:00+02:00", "2019-2020"),
        # 22:30 UTC on 31 August is already 1 September in Brussels: the next school year.
        ("2020-08-31T22:30:00+00:00", "2020-2021"),
        ("2020-01-15T10:00:00+01:00", "2019-2020"),
    ],
)
def test_school_year_runs_september_to_august_in_brussels_time(moment: str, year: str) -> None:
    assert school_year_of(datetime.fromisoformat(moment)) == year


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_every_example_seals_and_round_trips(event_type: str) -> None:
    submission = SUBMISSION_ADAPTER.validate_python(example_submission(event_type))
    event = seal(submission, NOW)
    assert event.event_type == event_type
    assert event.event_id == event_id_for("lars", f"lars:{event_type}:R-2025-0042")
    assert event.school_year == "2025-2026"
    assert parse_event(event.model_dump_json()) == event


def test_unknown_code_names_field_and_allowed_values() -> None:
    data = example_submission("TrajectoryNotStarted")
    data["payload"]["reason"] = "bored"
    with pytest.raises(ValidationError) as info:
        SUBMISSION_ADAPTER.validate_python(data)
    (error,) = info.value.errors()
    assert error["loc"][-2:] == ("payload", "reason")
    assert "pupil_unwilling" in error["msg"] and "provider_capacity" in error["msg"]


def test_unknown_fields_are_refused_so_no_personal_data_slips_in() -> None:
    data = example_submission("ReferralSubmitted")
    data["payload"]["pupil_name"] = "Jan Janssens"
    with pytest.raises(ValidationError) as info:
        SUBMISSION_ADAPTER.validate_python(data)
    assert info.value.errors()[0]["type"] == "extra_forbidden"
    assert info.value.errors()[0]["loc"][-1] == "pupil_name"


def test_pupil_key_must_be_pseudonymous() -> None:
    data = example_submission("ReferralSubmitted")
    data["payload"]["pupil_key"] = "85073112345"  # shaped like a national register number
    with pytest.raises(ValidationError) as info:
        SUBMISSION_ADAPTER.validate_python(data)
    assert info.value.errors()[0]["loc"][-1] == "pupil_key"


def test_offset_less_time_is_refused() -> None:
    data = example_submission("TrajectoryStarted")
    data["occurred_at"] = "2025-10-06T09:30:00"
    with pytest.raises(ValidationError) as info:
        SUBMISSION_ADAPTER.validate_python(data)
    assert info.value.errors()[0]["loc"][-1] == "occurred_at"


def test_events_are_frozen() -> None:
    event = seal(SUBMISSION_ADAPTER.validate_python(example_submission("TrajectoryClosed")), NOW)
    with pytest.raises(ValidationError):
        event.actor = "desk:someone-else"  # type: ignore[misc]


def test_stored_event_with_inconsistent_derived_fields_is_rejected() -> None:
    event = seal(SUBMISSION_ADAPTER.validate_python(example_submission("TrajectoryClosed")), NOW)
    tampered = json.loads(event.model_dump_json())
    tampered["school_year"] = "2024-2025"
    with pytest.raises(ValidationError, match="school_year"):
        parse_event(json.dumps(tampered))


def test_exported_json_schemas_match_the_models() -> None:
    """Fails when a model changes without `kans schemas export` (the checked-in contract would drift)."""
    expected = rendered()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in OUT.glob("*.json")}
    assert sorted(on_disk) == sorted(expected)
    for name, schema in expected.items():
        assert on_disk[name] == dumps(schema), f"{name} drifted: run `kans schemas export`"


def test_code_lists_are_exported_as_enums() -> None:
    schema = rendered()["TrajectoryClosed.v1.submission.json"]
    perspective = schema["$defs"]["TrajectoryClosedPayload"]["properties"]["perspective"]
    assert "youth_care" in perspective["enum"] and perspective["x-codelist"] == "perspective"
