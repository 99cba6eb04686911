"""Ownership on the way in, on the real broker: the ingest (in-process ASGI, real lifespan) refuses a caller who may
not act on a referral, trajectory or provider, with a 403 naming why, and accepts the genuine caller; its ownership
index is read back from the event log by a restarted (or another) ingest; source_refs are namespaced per caller;
an import's error report belongs to its uploader."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from core.topics import events_topic
from kans.bench_import import lars_row, write_csv
from schemas.envelope import event_id_for
from services.ingest.main import create_app
from tests.conftest import wait_for
from tests.factories import capacity, dispatch, referral, start
from tests.kafka_helpers import read_topic

DESK, LARS = {"X-API-Key": "kans-dev-desk"}, {"X-API-Key": "kans-dev-lars"}
CLB_1, CLB_2 = {"X-API-Key": "kans-dev-clb-brussel-1"}, {"X-API-Key": "kans-dev-clb-brussel-2"}
ABRUSCO, TIGO = {"X-API-Key": "kans-dev-provider-abrusco"}, {"X-API-Key": "kans-dev-provider-tigo"}


def event(kind: str, ref: str, payload: dict[str, Any], system: str = "lars") -> dict[str, Any]:
    return {"event_type": kind, "occurred_at": "2025-10-09T09:00:00+02:00", "source_system": system,
            "source_ref": ref, "actor": "clb:test", "payload": payload}  # fmt: skip


def amend(rid: str, **changes: Any) -> dict[str, Any]:
    return event("ReferralAmended", f"amend:{rid}:{sorted(changes)}", {"referral_id": rid, "changes": changes})


def withdraw(rid: str, system: str = "lars") -> dict[str, Any]:
    return event("ReferralWithdrawn", f"withdraw:{rid}", {"referral_id": rid, "reason": "no_longer_needed"}, system)


def as_system(submission: dict[str, Any], system: str) -> dict[str, Any]:
    return {**submission, "source_system": system}


def by_desk(*submissions: dict[str, Any]) -> list[dict[str, Any]]:
    """The submissions as the desk's own tool sends them (the desk's key speaks for source system `desk`)."""
    return [as_system(sub, "desk") for sub in submissions]


def progress(rid: str, tid: str) -> dict[str, Any]:
    payload = {"referral_id": rid, "trajectory_id": tid, "class_hours": 6}
    return event("TrajectoryProgressReported", f"progress:{tid}", payload, "provider_portal")


@pytest.fixture
def ingest(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        wait_for(lambda: client.get("/ready").status_code == 200, what="ingest ready")
        yield client


def post(client: TestClient, headers: dict[str, str], *submissions: dict[str, Any]) -> Any:
    return client.post("/v1/events/batch", json=list(submissions), headers=headers)


def refused(response: Any) -> tuple[str, str, str]:
    """(event type, field, reason) of the one refused submission of a 403."""
    assert response.status_code == 403, response.text
    (error,) = response.json()["errors"]
    return error["event_type"], error["field"], error["type"]


def events_on_topic(settings: Settings) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in read_topic(settings.kafka_bootstrap, events_topic(settings))]


def test_a_clb_may_not_amend_withdraw_or_dispatch_another_clbs_referral_nor_set_a_capacity(
    ingest: TestClient, settings: Settings
) -> None:
    assert post(ingest, CLB_2, referral("R-1", referrer_id="clb-brussel-2")).status_code == 202
    amended = post(ingest, CLB_1, amend("R-1", school_delay="two_years"))
    assert refused(amended) == ("ReferralAmended", "body[0].payload.referral_id", "not_in_scope")
    error = amended.json()["errors"][0]
    assert (error["value"], error["allowed"]) == ("R-1", ["referrals and group referrals of clb-brussel-1"])
    assert "dev-clb-brussel-1" in error["message"] and "whether it exists is not said" in error["message"]
    assert refused(post(ingest, CLB_1, withdraw("R-1"))) == ("ReferralWithdrawn", "body[0].payload.referral_id",
                                                             "not_in_scope")  # fmt: skip
    dispatched = post(ingest, CLB_1, as_system(dispatch("R-1", "T-1", "abrusco"), "lars"))
    assert refused(dispatched) == ("TrajectoryDispatched", "body[0].event_type", "desk_only")
    assert "TrajectoryDispatched" not in dispatched.json()["errors"][0]["allowed"]
    capacity_set = post(ingest, CLB_1, as_system(capacity("abrusco", "individual", 99), "lars"))
    assert refused(capacity_set) == ("ProviderCapacitySet", "body[0].payload.provider_id", "provider_not_in_scope")
    assert [e["event_type"] for e in events_on_topic(settings)] == ["ReferralSubmitted"]  # nothing else landed
    # The genuine callers: the referring CLB amends and withdraws, the desk dispatches, the provider sets its own.
    assert post(ingest, CLB_2, amend("R-1", school_delay="two_years"), withdraw("R-1")).status_code == 202
    assert post(ingest, DESK, dispatch("R-1", "T-1", "abrusco")).status_code == 202
    own = as_system(capacity("abrusco", "individual", 9), "provider_portal")
    assert post(ingest, ABRUSCO, own).status_code == 202


def test_a_provider_may_not_withdraw_a_referral_nor_act_on_another_providers_trajectory(ingest: TestClient) -> None:
    assert post(ingest, DESK, *by_desk(referral("R-2"), dispatch("R-2", "T-2", "abrusco"))).status_code == 202
    assert refused(post(ingest, TIGO, withdraw("R-2", "provider_portal"))) == (
        "ReferralWithdrawn", "body[0].payload.referral_id", "not_in_scope")  # fmt: skip
    as_tigo = post(ingest, TIGO, start("R-2", "T-2"))
    assert refused(as_tigo) == ("TrajectoryStarted", "body[0].payload.trajectory_id", "not_in_scope")
    assert as_tigo.json()["errors"][0]["allowed"] == [
        "trajectories and group trajectories dispatched to tigo, and its provider facts"]  # fmt: skip
    assert post(ingest, ABRUSCO, start("R-2", "T-2"), progress("R-2", "T-2")).status_code == 202


def test_a_stream_one_may_not_see_gets_the_same_answer_whether_it_exists(ingest: TestClient) -> None:
    assert post(ingest, CLB_2, referral("R-3", referrer_id="clb-brussel-2")).status_code == 202
    existing, unknown = post(ingest, CLB_1, withdraw("R-3")), post(ingest, CLB_1, withdraw("R-3-NOT-THERE"))
    assert existing.status_code == unknown.status_code == 403
    assert existing.text.replace("R-3", "<id>") == unknown.text.replace("R-3-NOT-THERE", "<id>")


def test_a_batch_is_judged_in_order_and_refused_whole(ingest: TestClient, settings: Settings) -> None:
    assert post(ingest, CLB_1, referral("R-4"), amend("R-4", gender="girl")).status_code == 202
    together = by_desk(referral("R-5"), dispatch("R-5", "T-5", "tigo"), start("R-5", "T-5"))
    assert post(ingest, DESK, *together).status_code == 202
    # Its own referral first, then another CLB's withdrawal: nothing of the batch is published.
    mixed = post(ingest, CLB_2, referral("R-6", referrer_id="clb-brussel-2"), withdraw("R-4"))
    assert refused(mixed) == ("ReferralWithdrawn", "body[1].payload.referral_id", "not_in_scope")
    assert "R-6" not in {e["stream_id"] for e in events_on_topic(settings)}


def test_a_new_referral_under_an_id_another_clb_uses_is_refused(ingest: TestClient) -> None:
    assert post(ingest, CLB_1, referral("R-7")).status_code == 202
    taken = post(ingest, CLB_2, referral("R-7", referrer_id="clb-brussel-2"))
    assert refused(taken) == ("ReferralSubmitted", "body[0].payload.referral_id", "id_taken")


def test_a_limited_key_cannot_claim_a_source_ref_of_its_system(ingest: TestClient, settings: Settings) -> None:
    # clb-brussel-1 sends first what LARS will later send for clb-brussel-2 under the same LARS record number.
    squatter = {**referral("R-8"), "source_ref": "referral:2025-000042"}
    genuine = {**referral("R-8-LARS", referrer_id="clb-brussel-2"), "source_ref": "referral:2025-000042"}
    first = post(ingest, CLB_1, squatter)
    assert first.status_code == 202
    second = post(ingest, LARS, genuine)
    assert second.status_code == 202, second.text  # not 409: the CLB's ref is its own, not LARS's
    assert second.json()["results"][0] == {"index": 0, "status": "created",
                                           "event_id": str(event_id_for("lars", "referral:2025-000042"))}  # fmt: skip
    assert first.json()["results"][0]["event_id"] == str(
        event_id_for("lars", "dev-clb-brussel-1/referral:2025-000042"))  # fmt: skip
    again = post(ingest, CLB_1, squatter).json()["results"][0]
    assert (again["status"], again["event_id"]) == ("duplicate", first.json()["results"][0]["event_id"])
    conflict = post(ingest, CLB_1, {**squatter, "payload": {**squatter["payload"], "gender": "girl"}})
    assert conflict.status_code == 409  # its own record changed: the conflict names the ref as it was sent
    assert conflict.json()["conflicts"] == [{"index": 0, "source_system": "lars", "source_ref": "referral:2025-000042"}]
    refs = sorted(e["source_ref"] for e in events_on_topic(settings))
    assert refs == ["dev-clb-brussel-1/referral:2025-000042", "referral:2025-000042"]
    # Another source system's key cannot speak for LARS at all.
    assert post(ingest, ABRUSCO, genuine).json()["errors"][0]["field"] == "body[0].source_system"


def test_a_restarted_ingest_knows_the_owners_from_the_event_log(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        wait_for(lambda: client.get("/ready").status_code == 200, what="ingest ready")
        assert post(client, DESK, *by_desk(referral("R-9"), dispatch("R-9", "T-9", "abrusco"))).status_code == 202
        assert post(client, DESK, dispatch("R-9", "T-9b", "tigo")).status_code == 202
        assert post(client, CLB_2, referral("R-10", referrer_id="clb-brussel-2")).status_code == 202
    with TestClient(create_app(settings)) as client:  # a new process state: the index is read from the log again
        ready = wait_for(lambda: (r := client.get("/ready")).status_code == 200 and r.json(), what="index reloaded")
        assert ready["ownership_index_loaded"] is True and ready["owners_known"] == 4
        assert refused(post(client, TIGO, start("R-9", "T-9")))[2] == "not_in_scope"
        assert refused(post(client, CLB_1, withdraw("R-10")))[2] == "not_in_scope"
        assert post(client, ABRUSCO, start("R-9", "T-9")).status_code == 202
        assert post(client, TIGO, start("R-9", "T-9b")).status_code == 202
        assert post(client, CLB_2, withdraw("R-10")).status_code == 202


def test_another_ingest_process_catches_up_before_refusing(settings: Settings) -> None:
    """Two ingests on one log (the REST app and the inbound worker, or two replicas): what one published is known
    to the other when the next request arrives, even straight after the first one's 202."""
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as other:
        for client in (one, other):
            wait_for(lambda c=client: c.get("/ready").status_code == 200, what="ingest ready")  # type: ignore[misc]
        for n in range(5):
            rid, tid = f"R-11-{n}", f"T-11-{n}"
            assert post(one, DESK, *by_desk(referral(rid), dispatch(rid, tid, "abrusco"))).status_code == 202
            started = time.monotonic()
            assert post(other, ABRUSCO, start(rid, tid)).status_code == 202
            assert time.monotonic() - started < 2.0


def test_an_import_error_report_belongs_to_its_uploader(ingest: TestClient, tmp_path: Path) -> None:
    rows = [lars_row(n, 2024) for n in range(3)]
    rows[1]["Geslacht"] = "M"  # invalid: reported in the error report
    upload = write_csv(tmp_path / "lars.csv", rows)
    with upload.open("rb") as file:
        result = ingest.post("/v1/imports/lars-individual", files={"file": ("lars.csv", file, "text/csv")},
                             headers=LARS)  # fmt: skip
    assert result.status_code == 200, result.text
    url = result.json()["errors_url"]
    assert url and result.json()["invalid_rows"] == 1
    own = ingest.get(url, headers=LARS)
    assert own.status_code == 200 and "Geslacht" in own.text
    import_id = url.split("/")[-2]
    for other in (DESK, CLB_1):  # the same answer as for an import that does not exist
        response = ingest.get(url, headers=other)
        assert (response.status_code, response.json()["detail"]) == (404, f"no error report for import {import_id}")
    assert ingest.get(url, headers={"X-API-Key": ""}).status_code == 401
    unknown = ingest.get(f"/v1/imports/{'0' * 32}/errors.csv", headers=LARS)
    assert (unknown.status_code, unknown.json()["detail"]) == (404, f"no error report for import {'0' * 32}")
