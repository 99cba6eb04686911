"""The youth-coach events (R50, schemas/coaching.py): what a coach setting and a corona coaching report accept, and
the clear refusals of what they do not."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from core.settings import Settings
from schemas.registry import SUBMISSION_ADAPTER, example_submission
from services.ingest.ownership import RULES
from services.ingest.routes import events
from tests.unit.ingest_fakes import FakePublisher, fake_ingest
from tests.unit.test_ingest_routes import client_for


def submit(event_type: str, **payload: Any) -> Any:
    data = example_submission(event_type)
    data["payload"].update(payload)
    return SUBMISSION_ADAPTER.validate_python(data)


def test_a_coach_setting_and_a_corona_report_are_provider_facts_the_provider_or_the_desk_submits() -> None:
    setting = submit("ProviderCoachSettingSet")
    assert (setting.payload.stream_id(), setting.payload.half_days_per_week, setting.payload.track) == (
        "abrusco", 4, "full_time")  # fmt: skip
    report = submit("ProviderCoronaCoachingReported")
    assert (report.payload.stream_id(), report.payload.kind, report.payload.pupils) == ("abrusco", "study_lab", 15)
    assert RULES["ProviderCoachSettingSet"].kind == RULES["ProviderCoronaCoachingReported"].kind == "provider"
    assert submit("ProviderCoachSettingSet", valid_until=None).payload.valid_until is None  # until further notice


@pytest.mark.parametrize(("event_type", "payload", "match"), [
    ("ProviderCoachSettingSet", {"valid_until": "2025-08-31"}, "valid_until is before valid_from"),
    ("ProviderCoachSettingSet", {"half_days_per_week": -1}, "half_days_per_week"),
    ("ProviderCoachSettingSet", {"track": "evening"}, "full_time, part_time, whole_school"),
    ("ProviderCoronaCoachingReported", {"kind": "zoom"}, "study_lab, doorstep_visit, other"),
    ("ProviderCoronaCoachingReported", {"period_until": "2026-09-01"},
     r"within 2025-2026 \(2025-09-01\.\.2026-08-31\)"),
    ("ProviderCoronaCoachingReported", {"period_from": "2025-12-01", "period_until": "2025-11-01"}, "in order"),
    ("ProviderCoronaCoachingReported", {"pupils": -3}, "pupils"),
    ("ProviderCoronaCoachingReported", {"pupil_id": "LARS-1"}, "Extra inputs are not permitted"),
])  # fmt: skip
def test_bad_coaching_facts_are_refused_naming_the_field_and_the_allowed_values(
    event_type: str, payload: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        submit(event_type, **payload)


def test_the_ingest_answers_a_bad_coach_setting_with_a_422_naming_the_field_and_the_allowed_values() -> None:
    publisher = FakePublisher()
    with client_for(fake_ingest(Settings(), publisher=publisher), events) as client:
        good = example_submission("ProviderCoachSettingSet")
        good["occurred_at"] = "2025-09-01T09:00:00+02:00"
        assert client.post("/v1/events", json=good).status_code == 202, "accepted"
        bad = {**good, "source_ref": "other", "payload": {**good["payload"], "track": "evening"}}
        response = client.post("/v1/events", json=bad)
        assert response.status_code == 422, response.text
        (error,) = response.json()["errors"]
        assert error["field"].endswith("payload.track") and "full_time, part_time, whole_school" in error["message"]
        assert [e.event_type for e in publisher.events] == ["ProviderCoachSettingSet"]
