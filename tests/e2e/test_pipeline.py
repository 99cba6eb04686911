"""The backbone end to end: HTTP -> Kafka -> projections / ClickHouse -> HTTP, with the services as processes."""

from __future__ import annotations

from typing import Any

from core.topics import events_topic
from tests.conftest import wait_for
from tests.e2e.conftest import Platform
from tests.factories import capacity, close, dispatch, referral, start
from tests.kafka_helpers import read_topic


def active(platform: Platform, provider: str) -> int | None:
    row = platform.load(provider)
    return None if row is None else int(row["active"])


def history(platform: Platform, rid: str) -> list[dict[str, Any]]:
    response = platform.api.get(f"/v1/referrals/{rid}/events")
    return [] if response.status_code == 404 else response.json()["events"]  # type: ignore[no-any-return]


def test_referral_lifecycle_shows_in_load_clickhouse_and_statistics(platform: Platform) -> None:
    rid, tid, provider = "R-E2E-1", "T-E2E-1", "provider-e2e-1"
    # 22:30 UTC on 31 August 2024 is 00:30 on 1 September in Brussels: school year 2024-2025, month September.
    batch = [
        capacity(provider, "individual", 12),
        referral(rid, occurred="2024-08-31T22:30:00+00:00", offer_type="corona"),
        dispatch(rid, tid, provider, occurred="2024-09-03T09:00:00+02:00"),
        start(rid, tid, occurred="2024-09-10T09:00:00+02:00"),
    ]
    platform.post(*batch)
    wait_for(lambda: active(platform, provider) == 1, timeout_s=2.0, what="load 1 within 2 s")
    row = platform.load(provider)
    assert row is not None and (row["capacity"], row["free"], row["waiting"]) == (12, 11, 0)

    platform.post(close(rid, tid, occurred="2024-12-20T15:00:00+01:00"))
    wait_for(lambda: active(platform, provider) == 0, timeout_s=2.0, what="load 0 within 2 s")

    again = platform.post(*batch)  # the same batch posted twice
    assert (again["created"], again["duplicates"]) == (0, 4)
    events = wait_for(lambda: (h := history(platform, rid)) and len(h) >= 4 and h, what="events in ClickHouse")
    assert [e["event_type"] for e in events] == [
        "ReferralSubmitted", "TrajectoryDispatched", "TrajectoryStarted", "TrajectoryClosed"]  # fmt: skip
    assert len({e["event_id"] for e in events}) == 4

    stat = platform.api.get("/v1/stats/2024-2025/referrals-per-month").json()
    september = stat["months"][0]
    assert (september["month"], september["corona"], september["regular"]) == ("2024-09", 1, 0)
    assert stat["total"] == 1
    assert platform.api.get("/v1/stats/2023-2024/referrals-per-month").json()["total"] == 0

    waits = platform.api.get("/v1/live/waiting-times", params={"school_year": "2024-2025"}).json()["rows"]
    (wait,) = [w for w in waits if w["provider_id"] == provider]
    assert (wait["started"], wait["median_days"]) == (1, 7.0)


def test_invalid_payload_gets_422_and_nothing_reaches_the_topic(platform: Platform) -> None:
    bad = referral("R-E2E-BAD", gender="x")
    response = platform.ingest.post("/v1/events", json=bad)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.payload.gender"
    assert response.json()["errors"][0]["allowed"] == ["boy", "girl", "other", "unknown"]
    records = read_topic(platform.settings.kafka_bootstrap, events_topic(platform.settings))
    assert records, "the topic has the other tests' events"
    assert not [r for r in records if b"R-E2E-BAD" in r.value]


def test_projections_worker_restart_keeps_provider_load(platform: Platform) -> None:
    provider = "provider-e2e-restart"
    for n in range(3):
        rid, tid = f"R-E2E-RS-{n}", f"T-E2E-RS-{n}"
        platform.post(referral(rid), dispatch(rid, tid, provider), start(rid, tid))
    wait_for(lambda: active(platform, provider) == 3, what="three active before the restart")

    platform.restart("projections")
    # No new event for this provider: the state can only come from the changelog.
    assert active(platform, provider) == 3
    platform.post(close("R-E2E-RS-0", "T-E2E-RS-0"))
    wait_for(lambda: active(platform, provider) == 2, what="the worker continues where it stopped")


def test_clickhouse_writer_stopped_while_events_arrive_then_restarted(platform: Platform) -> None:
    year = "2002-2003"  # a school year no other test uses
    platform.post(*[referral(f"R-E2E-W-{n}", occurred="2002-10-01T10:00:00+02:00") for n in range(20)])
    wait_for(lambda: platform.api.get(f"/v1/stats/{year}/referrals-per-month").json()["total"] == 20)

    platform.stop("api")  # the writer runs inside the API process (embedded chDB)
    platform.post(*[referral(f"R-E2E-W-{n}", occurred="2002-10-01T10:00:00+02:00") for n in range(20, 70)])
    platform.start("api")

    def total() -> int:
        return int(platform.api.get(f"/v1/stats/{year}/referrals-per-month").json()["total"])

    wait_for(lambda: total() == 70, what="all 70 referrals in ClickHouse")
    # Rows can be in ClickHouse before the writer's commit succeeds (a commit may be refused while the group
    # rebalances after the restart; the batch is then read and written again, and deduplicated).
    writer = wait_for(lambda: (w := platform.api.get("/ready").json()["writer"])["rows_written"] >= 50 and w,
                      what="the restarted writer's committed batches")  # fmt: skip
    assert writer["rejected"] == 0
    assert total() == 70


def test_start_arriving_before_its_dispatch_converges(platform: Platform) -> None:
    """Two systems, no shared clock: the provider's start lands before the desk's dispatch. Nothing is lost."""
    rid, tid, provider = "R-E2E-OOO", "T-E2E-OOO", "provider-e2e-ooo"
    platform.post(referral(rid), start(rid, tid))  # the provider portal is faster than the desk
    state = wait_for(
        lambda: (r := platform.api.get(f"/v1/live/trajectories/{tid}")).status_code == 200 and r.json(),
        what="parked trajectory",
    )
    assert (state["provider_id"], state["started_at"], state["status"]) == (None, "2025-10-13T09:00:00+02:00",
                                                                          "awaiting_dispatch")  # fmt: skip
    assert platform.load(provider) is None
    platform.post(dispatch(rid, tid, provider))
    wait_for(lambda: active(platform, provider) == 1, what="the parked start applied once the dispatch arrived")
    assert platform.api.get(f"/v1/live/trajectories/{tid}").json()["status"] == "active"
