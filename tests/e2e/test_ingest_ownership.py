"""Ownership on the way in, with the ingest as its own process: the abuses the review found are refused with a 403
naming why, the genuine callers are accepted, and after a restart of the ingest process its ownership index (read
back from the event log) still knows who owns what. Events in school year 2005-2006, which no other test uses."""

from __future__ import annotations

from typing import Any

from tests.platform import Platform

DESK, LARS = "kans-dev-desk", "kans-dev-lars"
CLB_1, CLB_2 = "kans-dev-clb-brussel-1", "kans-dev-clb-brussel-2"
ABRUSCO, TIGO = "kans-dev-provider-abrusco", "kans-dev-provider-tigo"
WHEN = "2005-10-10T09:00:00+02:00"


def event(kind: str, ref: str, system: str, **payload: Any) -> dict[str, Any]:
    schema = {"schema_version": 2} if kind == "ReferralSubmitted" else {}
    return {"event_type": kind, **schema, "occurred_at": WHEN, "source_system": system, "source_ref": ref,
            "actor": "desk:e2e", "payload": payload}  # fmt: skip


def referral(rid: str, referrer: str, system: str) -> dict[str, Any]:
    return event("ReferralSubmitted", f"e2e-ownership:{rid}", system, referral_id=rid, pupil_id=f"E2E-OWN-{rid}",
                 channel="lars", referrer_id=referrer, offer_type="regular", level="secondary", gender="girl",
                 birth_year=1992, birth_month=5)  # fmt: skip


def post(platform: Platform, key: str, *submissions: dict[str, Any]) -> Any:
    return platform.ingest.post("/v1/events/batch", json=list(submissions), headers={"X-API-Key": key})


def refusal(response: Any) -> tuple[str, str, str]:
    assert response.status_code == 403, response.text
    (error,) = response.json()["errors"]
    return error["event_type"], error["field"], error["type"]


def test_the_abuses_are_refused_and_the_owners_survive_a_restart_of_the_ingest(platform: Platform) -> None:
    rid, tid, other = "R-E2E-OWN-1", "T-E2E-OWN-1", "R-E2E-OWN-2"
    withdraw = event("ReferralWithdrawn", f"e2e-ownership:withdraw:{other}", "lars", referral_id=other,
                     reason="no_longer_needed")  # fmt: skip
    start = event("TrajectoryStarted", f"e2e-ownership:start:{tid}", "provider_portal", referral_id=rid,
                  trajectory_id=tid)  # fmt: skip
    dispatch = event("TrajectoryDispatched", f"e2e-ownership:dispatch:{tid}", "desk", referral_id=rid,
                     trajectory_id=tid, provider_id="abrusco", module_id="individual", offer_type="regular")
    assert post(platform, DESK, referral(rid, "kans-desk", "desk"), dispatch).status_code == 202
    assert post(platform, CLB_2, referral(other, "clb-brussel-2", "lars")).status_code == 202

    platform.restart("ingest")  # a new process: its indexes are read back from Kafka before it says ready
    ready = platform.ingest.get("/ready").json()
    assert ready["ready"] and ready["ownership_index_loaded"] and ready["owners_known"] >= 3

    assert refusal(post(platform, CLB_1, withdraw)) == ("ReferralWithdrawn", "body[0].payload.referral_id",
                                                        "not_in_scope")  # fmt: skip
    assert refusal(post(platform, TIGO, start)) == ("TrajectoryStarted", "body[0].payload.trajectory_id",
                                                    "not_in_scope")  # fmt: skip
    as_lars = {**dispatch, "source_system": "lars", "source_ref": "e2e-ownership:lars-dispatch"}
    assert refusal(post(platform, CLB_1, as_lars)) == ("TrajectoryDispatched", "body[0].event_type", "desk_only")
    capacity = event("ProviderCapacitySet", "e2e-ownership:capacity", "provider_portal", provider_id="tigo",
                     module_id="e2e-ownership", capacity=0, valid_from="2005-10-10")  # fmt: skip
    assert refusal(post(platform, ABRUSCO, capacity)) == ("ProviderCapacitySet", "body[0].payload.provider_id",
                                                          "provider_not_in_scope")  # fmt: skip
    # A CLB's key claiming a LARS record number first does not block LARS's own record.
    squat = referral("R-E2E-OWN-3", "clb-brussel-1", "lars") | {"source_ref": "e2e-ownership:lars-record-7"}
    genuine = referral("R-E2E-OWN-4", "clb-brussel-3", "lars") | {"source_ref": "e2e-ownership:lars-record-7"}
    assert post(platform, CLB_1, squat).status_code == 202
    assert post(platform, LARS, genuine).json()["created"] == 1

    assert post(platform, CLB_2, withdraw).status_code == 202
    assert post(platform, ABRUSCO, start).status_code == 202
    assert post(platform, TIGO, capacity).status_code == 202
