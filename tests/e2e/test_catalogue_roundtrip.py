"""Every event type of the catalogue round-trips REST -> Kafka -> ClickHouse with all its fields intact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.pupil_vault import PupilVault
from schemas.registry import EVENT_TYPES, SUBMISSION_ADAPTER, example_submission, parse_event, seal
from tests.conftest import wait_for
from tests.e2e.conftest import Platform


def submissions() -> list[dict[str, Any]]:
    # PupilErased would erase the example pupil and every history of it (410): tests/e2e/test_erasure.py has it.
    latest = [example_submission(event_type) for event_type in EVENT_TYPES if event_type != "PupilErased"]
    legacy = example_submission("ReferralSubmitted", 1)  # still accepted; stored as sent, upcast on read
    legacy["source_ref"] = "lars:ReferralSubmitted.v1:R-2025-0043"
    legacy["payload"]["referral_id"] = "R-2025-0043"
    return [*latest, legacy]


def test_every_event_type_round_trips_with_all_fields(platform: Platform) -> None:
    subs = submissions()
    answer = platform.post(*subs)
    assert answer["created"] == len(subs) == len(EVENT_TYPES)

    secret = platform.settings.pupil_key_secret.get_secret_value().encode()
    now = datetime.now(UTC)
    # What the platform must have stored: the sealed event, as the event log's readers see it (upcast). Sealed with
    # the platform's own vault: the pupil's reference is the one the ingest issued, its sealed key the same text.
    vault = PupilVault(platform.settings.pupil_vault_path)
    expected = {
        str(event.event_id): parse_event(event.model_dump_json())
        for event in (seal(SUBMISSION_ADAPTER.validate_python(s), now, secret, vault) for s in subs)
    }
    vault.close()
    streams = {event.stream_id for event in expected.values()}

    def stored() -> dict[str, dict[str, Any]] | None:
        rows: dict[str, dict[str, Any]] = {}
        for stream in streams:
            response = platform.api.get(f"/v1/referrals/{stream}/events")
            rows.update({e["event_id"]: e for e in response.json()["events"]} if response.status_code == 200 else {})
        return rows if set(expected) <= set(rows) else None

    rows = wait_for(stored, timeout_s=60, what="every event type in ClickHouse")
    for event_id, event in expected.items():
        row = rows[event_id]
        assert (row["event_type"], row["schema_version"], row["school_year"]) == (
            event.event_type, event.schema_version, event.school_year), event.event_type  # fmt: skip
        assert (row["source_system"], row["source_ref"], row["actor"]) == (
            event.source_system, event.source_ref, event.actor)  # fmt: skip
        assert datetime.fromisoformat(str(row["occurred_at"]).replace("Z", "+00:00")) == event.occurred_at
        assert row["payload"] == event.payload.model_dump(mode="json"), event.event_type
        assert "pupil_id" not in row["payload"]
