"""Submission builders for tests: realistic, valid by default, each with its own source_ref."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.pupil_vault import PupilVault
from schemas.registry import SUBMISSION_ADAPTER, seal


def _sub(kind: str, ref: str, occurred: str, payload: dict[str, Any], system: str = "lars") -> dict[str, Any]:
    return {"event_type": kind, "occurred_at": occurred, "source_system": system, "source_ref": ref,
            "actor": "desk:test", "payload": payload}  # fmt: skip


TEST_PUPIL_SECRET = b"tests-only-pupil-key-secret"
# The pupil key vault of records tests write straight to Kafka (in memory: those pupils are never erased).
TEST_VAULT = PupilVault(None)


def pupil(n: int | str) -> str:
    """A source's own pupil identifier (the ingest turns it into the pseudonymous pupil key)."""
    return f"LARS-PUPIL-{n}"


def referral(rid: str, occurred: str = "2025-10-06T09:00:00+02:00", **overrides: Any) -> dict[str, Any]:
    payload = {"referral_id": rid, "pupil_id": pupil(rid), "channel": "lars", "referrer_id": "clb-brussel-1",
               "offer_type": "regular", "level": "secondary", "gender": "boy", "birth_year": 2010,
               "birth_month": 3, **overrides}  # fmt: skip
    return {**_sub("ReferralSubmitted", f"ref:{rid}", occurred, payload), "schema_version": 2}


def dispatch(rid: str, tid: str, provider: str, module: str = "individual",
             occurred: str = "2025-10-08T09:00:00+02:00") -> dict[str, Any]:  # fmt: skip
    payload = {"referral_id": rid, "trajectory_id": tid, "provider_id": provider, "module_id": module,
               "offer_type": "regular"}  # fmt: skip
    return _sub("TrajectoryDispatched", f"dispatch:{tid}", occurred, payload, "desk")


def start(rid: str, tid: str, occurred: str = "2025-10-13T09:00:00+02:00") -> dict[str, Any]:
    return _sub("TrajectoryStarted", f"start:{tid}", occurred,
                {"referral_id": rid, "trajectory_id": tid, "half_days_per_week": 2}, "provider_portal")  # fmt: skip


def close(rid: str, tid: str, occurred: str = "2025-12-19T15:00:00+01:00") -> dict[str, Any]:
    return _sub(
        "TrajectoryClosed",
        f"close:{tid}",
        occurred,
        {"referral_id": rid, "trajectory_id": tid, "perspective": "back_full_time_current_school"},
        "desk",
    )


def capacity(provider: str, module: str, places: int, valid_from: str = "2000-09-01") -> dict[str, Any]:
    return _sub(
        "ProviderCapacitySet",
        f"cap:{provider}:{module}:{valid_from}",
        f"{valid_from}T08:00:00+02:00",
        {"provider_id": provider, "module_id": module, "capacity": places, "valid_from": valid_from},
        "desk",
    )


def sealed_json(submission: dict[str, Any]) -> tuple[bytes, bytes]:
    """(key, value) of the Kafka record the ingest would publish for this submission."""
    event = seal(SUBMISSION_ADAPTER.validate_python(submission), datetime.now(UTC), TEST_PUPIL_SECRET, TEST_VAULT)
    return event.stream_id.encode(), event.model_dump_json().encode()
