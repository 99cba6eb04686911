"""The desk decides on the dispatch service's proposals (services/ingest/routes/dispatch.py), end to end on the real
broker: the ingest's REST process, its Kafka way in and the dispatch worker, each its own process. A confirmation and
an override become `TrajectoryDispatched` events naming the proposal; a decision on a proposal that is no longer the
open one is refused with 409 and the fresh proposal; only the desk decides; bad decisions are 422 naming the field;
the worker down is 503 and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.topics import events_topic
from kans.processes import ServiceProcesses
from tests.conftest import wait_for
from tests.dispatch_catalogue import module, provider_fact, referral, round_table
from tests.kafka_helpers import read_topic

ALL, DESK, PROVIDER = "kans-dev-all", "kans-dev-desk", "kans-dev-provider-abrusco"


@pytest.fixture
def desk_platform(settings: Settings, tmp_path: Path) -> Iterator[ServiceProcesses]:
    with ServiceProcesses(settings, tmp_path / "logs") as services:
        for name in ("inbound", "dispatch", "ingest"):
            services.start(name)
        yield services


def ingest(settings: Settings, key: str = DESK) -> httpx.Client:
    return httpx.Client(base_url=settings.ingest_base_url, timeout=30, headers={"X-API-Key": key})


def worker(settings: Settings, path: str) -> Any:
    return httpx.get(f"http://{settings.dispatch_host}:{settings.dispatch_port}{path}", timeout=10).json()


def proposal_of(settings: Settings, referral_id: str, other_than: str | None = None) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((p for p in worker(settings, "/proposals")["proposals"]
                     if p["referral_id"] == referral_id and p["proposal_id"] != other_than), None)  # fmt: skip

    return wait_for(found, timeout_s=60, interval_s=0.2, what=f"an open proposal for {referral_id}")


def decisions_in_log(settings: Settings) -> list[dict[str, Any]]:
    values = [json.loads(r.value) for r in read_topic(settings.kafka_bootstrap, events_topic(settings))]
    return [v for v in values if v["event_type"] == "TrajectoryDispatched"]


def post(settings: Settings, *submissions: dict[str, Any]) -> None:
    with ingest(settings, ALL) as sources:
        response = sources.post("/v1/events/batch", json=list(submissions))
    assert response.status_code == 202, response.text


def decide(client: httpx.Client, trajectory_id: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/v1/dispatch/trajectories/{trajectory_id}/decision", json=body)


def test_the_desk_confirms_overrides_and_a_stale_proposal_is_refused_with_the_fresh_one(
    settings: Settings, desk_platform: ServiceProcesses
) -> None:
    # The catalogue first, then one referral at a time: the log's partitions (by provider, by referral) are read in
    # no fixed order relative to each other.
    post(settings, *module("abrusco", "individual", "individual", ["secondary"], 1),
         *module("groep-intro", "individual", "individual", ["secondary"], 1),
         *module("tejo", "individual", "individual", ["secondary"], 1))  # fmt: skip
    wait_for(lambda: [m["capacity"] for m in worker(settings, "/catalogue")["modules"]] == [1, 1, 1], timeout_s=60,
             interval_s=0.2, what="the catalogue in the dispatch worker")  # fmt: skip
    post(settings, referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"))
    first = proposal_of(settings, "R-1")
    assert (first["provider_id"], first["module_id"]) == ("abrusco", "individual")
    assert "abrusco/individual: capacity 1, occupied 0, proposed 0 -> has room" in [
        v["explanation"] for v in first["trace"]]  # fmt: skip

    desk = ingest(settings)
    # Only the desk decides: no key 401, a provider's key 403; nothing is written either way.
    anonymous = httpx.post(f"{settings.ingest_base_url}/v1/dispatch/trajectories/{first['trajectory_id']}/decision",
                           json={"proposal_id": first["proposal_id"], "decision": "confirm"}, timeout=10)  # fmt: skip
    assert anonymous.status_code == 401
    with ingest(settings, PROVIDER) as provider:
        refused = decide(provider, first["trajectory_id"], {"proposal_id": first["proposal_id"], "decision": "confirm"})
    assert refused.status_code == 403 and "only the desk" in refused.json()["detail"]
    # Bad decisions: 422 naming the field (and the allowed values).
    bad = decide(desk, first["trajectory_id"], {"proposal_id": first["proposal_id"], "decision": "maybe"})
    assert bad.status_code == 422 and "body.decision" in bad.text and "confirm" in bad.text and "override" in bad.text
    half = decide(desk, first["trajectory_id"], {"proposal_id": first["proposal_id"], "decision": "override",
                                                  "provider_id": "tejo", "module_id": "individual"})  # fmt: skip
    assert half.status_code == 422 and "reason" in half.text
    assert decide(desk, "T-unknown", {"proposal_id": first["proposal_id"], "decision": "confirm"}).status_code == 404
    assert decisions_in_log(settings) == []

    confirmed = decide(desk, first["trajectory_id"], {"proposal_id": first["proposal_id"], "decision": "confirm"})
    assert confirmed.status_code == 202, confirmed.text
    assert confirmed.json()["status"] == "created" and not confirmed.json()["overridden"]
    # The same proposal again: one decision per proposal (409), whether the worker has read the first yet or not.
    again = decide(desk, first["trajectory_id"], {"proposal_id": first["proposal_id"], "decision": "confirm"})
    assert again.status_code == 409, again.text

    # Groep INTRO's capacity is cut to 0 on the day R-2's proposal (there) is open: the rules propose Tejo instead,
    # and the desk's confirmation of the old proposal is refused with the fresh one.
    post(settings, referral("R-2", "2019-10-02"), round_table("R-2", "2019-10-09"))
    second = proposal_of(settings, "R-2")
    assert second["provider_id"] == "groep-intro"
    post(settings, provider_fact("ProviderCapacitySet", "groep-intro", "2019-10-15", module_id="individual",
                                 capacity=0))  # fmt: skip
    fresh = proposal_of(settings, "R-2", other_than=second["proposal_id"])
    assert (fresh["provider_id"], fresh["trigger"], fresh["waiting_since"]) == ("tejo", "proposal_stale", "2019-10-02")
    stale = decide(desk, second["trajectory_id"], {"proposal_id": second["proposal_id"], "decision": "confirm"})
    assert stale.status_code == 409
    assert stale.json()["status"] == "proposed" and stale.json()["current_proposal"]["proposal_id"] == (
        fresh["proposal_id"])  # fmt: skip

    # Overrides: the proposal itself, or a module nobody offers, is 422 naming the field and the offered modules;
    # a reason with a national register number is refused (no personal data); then a valid override.
    override = {"proposal_id": fresh["proposal_id"], "decision": "override", "reason": "knows the coach there"}
    same = decide(desk, fresh["trajectory_id"], {**override, "provider_id": "tejo", "module_id": "individual"})
    assert same.status_code == 422 and "body.provider_id" in same.text and "confirm" in same.text
    nowhere = decide(desk, fresh["trajectory_id"], {**override, "provider_id": "nobody", "module_id": "individual"})
    assert nowhere.status_code == 422 and "body.provider_id" in nowhere.text
    assert "abrusco/individual, groep-intro/individual, tejo/individual" in nowhere.text
    elsewhere = {**override, "provider_id": "groep-intro", "module_id": "individual"}
    personal = decide(desk, fresh["trajectory_id"], {**elsewhere, "reason": "pupil 85.07.31-123.05"})
    assert personal.status_code == 422 and "body.reason" in personal.text
    overridden = decide(desk, fresh["trajectory_id"], {**override, "provider_id": "groep-intro",
                                                       "module_id": "individual"})  # fmt: skip
    assert overridden.status_code == 202, overridden.text

    decisions = wait_for(lambda: d if len(d := decisions_in_log(settings)) == 2 else None, timeout_s=30,
                         what="both decisions in the log")  # fmt: skip
    assert sorted((d["source_system"], d["schema_version"], d["payload"]["referral_id"], d["payload"]["provider_id"],
                   d["payload"]["proposal_id"], d["payload"]["overridden"], d["payload"]["override_reason"])
                  for d in decisions) == [
        ("desk", 2, "R-1", "abrusco", first["proposal_id"], False, None),
        ("desk", 2, "R-2", "groep-intro", fresh["proposal_id"], True, "knows the coach there")]  # fmt: skip
    placed = wait_for(lambda: p if (p := worker(settings, f"/placements/{fresh['trajectory_id']}"))["status"] == (
        "placed") else None, timeout_s=30, what="R-2 placed by the override")  # fmt: skip
    assert placed["proposal"]["proposal_id"] == fresh["proposal_id"]
    assert worker(settings, "/proposals")["proposals"] == []

    # The worker down: 503, nothing decided.
    desk_platform.stop("dispatch")
    down = decide(desk, fresh["trajectory_id"], {"proposal_id": fresh["proposal_id"], "decision": "confirm"})
    assert down.status_code == 503 and down.headers["Retry-After"]
    assert len(decisions_in_log(settings)) == 2
    desk.close()
