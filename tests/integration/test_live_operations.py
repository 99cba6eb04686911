"""The live operational views from the warehouse (L3 waiting-time clocks, L4 referral status, L5 data completeness),
through the read API's routes on a small hand-made history: the events are sealed, produced to the event log on the
suite's broker and stored by the ClickHouse writer (the current state refolded), then read through the API app on the
real embedded ClickHouse with the callers' bearer tokens. The expected figures are worked out by hand below.

Secondary, school year 2019-2020, all by clb-1 unless said, waits as they stand on Monday 2 March 2020:
- R1 referred 1 Oct, round table planned 3 Oct and held 15 Oct (trajectories to start); T1a to abrusco 22 Oct, not
  started 29 Oct (the provider declined); T1b to tigo 5 Nov, started 19 Nov. End to end 49 days (the referral's
  day, not the second dispatch's: 14), to the round table 14, round table to dispatch 7, tigo's dispatch to start 14.
- R2 referred 7 Oct, to abrusco 14 Oct, started 21 Oct (2 half-days, duration reported): 14 end to end, 7.
- R3 referred 4 Nov, to abrusco 12 Nov, started 10 Dec (1 half-day), closed 28 Feb with perspective unknown: 36, 28.
- R4 referred 6 Jan, round table planned 8 Jan, not held: open end to end and to the round table, 56 days.
- R5 referred 13 Jan, to abrusco 20 Jan, not started yet: open 49 days end to end, 42 from its dispatch.
- R6 advice only (16 Dec); R7 withdrawn by the CLB (10 Jan): no waits.
- R8 (clb-2) referred 3 Feb, to abrusco 10 Feb, the pupil would not (17 Feb): the clock stopped, no wait.
- R9 (clb-2) referred 1 Oct, to abrusco 8 Oct, not started 15 Oct for lack of capacity: open since 1 Oct, 153 days,
  waiting for a new dispatch (no provider yet).
- A start of trajectory TX (of R2) with no dispatch, recorded 15 Jan: stuck.
- R10 referred 3 Feb, round table held 10 Feb (one trajectory to start), the pupil would not before any dispatch
  (14 Feb): 7 days to the round table, then the clock stopped (no gap either: a not-started may come without dispatch).
Completed end to end 14, 36, 49: median 36, p90 49; open 56, 49, 153: median 56, over 12 weeks 1, over 7 weeks 2.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from core.auth import Role, issue_development_token
from core.settings import Settings
from core.topics import audit_topic, ensure_topics
from kans.processes import isolated_settings
from services.api.audit import AuditLog
from services.api.bootstrap import Api
from services.api.main import create_app
from services.api.warehouse import Warehouse
from tests.integration.test_report_rules import through_the_log
from tests.kafka_helpers import read_topic
from tests.stats_history import History

YEAR, AS_OF = "2019-2020", "2020-03-02"
FULL_PROFILE = {
    "education_form": "secondary_aso", "grade": "grade_3", "gender": "girl", "birth_year": 2005,
    "school_location": "brussels", "home_language": "dutch", "school_delay": "none", "primary_schools_attended": 1,
    "secondary_schools_attended": 1, "absence_b_half_days": 3, "absence_z_half_days": 2, "absence_other_half_days": 0,
    "discipline": "none", "school_situation": [], "ambulant_care": [], "residential_setting": "none",
    "support_network": False,
}  # fmt: skip


def history() -> list[bytes]:
    h = History()
    secondary = {"education_form": "secondary_aso", "grade": "grade_3", "gender": "boy", "birth_year": 2005}
    h.referral("R1", "2019-10-01", "P1", "secondary", **FULL_PROFILE)  # misses residence_postcode, risk_behaviours
    for rid, day in (("R2", "2019-10-07"), ("R3", "2019-11-04"), ("R4", "2020-01-06"), ("R5", "2020-01-13"),
                     ("R6", "2019-12-02"), ("R7", "2019-12-09")):  # fmt: skip
        h.referral(rid, day, f"P{rid}", "secondary", **secondary)
    h.referral("R8", "2020-02-03", "P8", "secondary", **secondary, referrer_id="clb-2")
    h.referral("R9", "2019-10-01", "P9", "secondary", **secondary, referrer_id="clb-2")
    h.round_table("R1", "RT1", "RoundTableScheduled", "2019-10-03", scheduled_for="2019-10-15")
    h.round_table("R1", "RT1", "RoundTableHeld", "2019-10-15", outcomes=["trajectories_to_start"],
                  trajectories_to_start=1)  # fmt: skip
    h.trajectory("R1", "T1a", "2019-10-22", "abrusco", "individual")
    h.then("TrajectoryNotStarted", "R1", "T1a", "2019-10-29", reason="provider_declines")
    h.trajectory("R1", "T1b", "2019-11-05", "tigo", "day-care")
    h.then("TrajectoryStarted", "R1", "T1b", "2019-11-19")
    h.trajectory("R2", "T2", "2019-10-14", "abrusco", "individual")
    h.then("TrajectoryStarted", "R2", "T2", "2019-10-21", half_days_per_week=2)
    h.then("TrajectoryProgressReported", "R2", "T2", "2019-11-21", duration_bucket="one_to_three_months")
    h.trajectory("R3", "T3", "2019-11-12", "abrusco", "individual")
    h.then("TrajectoryStarted", "R3", "T3", "2019-12-10", half_days_per_week=1)
    h.then("TrajectoryClosed", "R3", "T3", "2020-02-28", perspective="unknown")
    h.round_table("R4", "RT4", "RoundTableScheduled", "2020-01-08", scheduled_for="2020-03-20")
    h.trajectory("R5", "T5", "2020-01-20", "abrusco", "individual")
    h.add("AdviceGiven", "advice:R6", "2019-12-16", {"referral_id": "R6", "kind": "youth_care"})
    h.add("ReferralWithdrawn", "w:R7", "2020-01-10", {"referral_id": "R7", "kind": "withdrawn",
          "reason": "clb_withdrew"}, version=2)  # fmt: skip
    h.trajectory("R8", "T8", "2020-02-10", "abrusco", "individual")
    h.then("TrajectoryNotStarted", "R8", "T8", "2020-02-17", reason="pupil_unwilling")
    h.trajectory("R9", "T9", "2019-10-08", "abrusco", "individual")
    h.then("TrajectoryNotStarted", "R9", "T9", "2019-10-15", reason="provider_capacity")
    h.then("TrajectoryStarted", "R2", "TX", "2020-01-15", half_days_per_week=1)  # no dispatch: stuck
    h.referral("R10", "2020-02-03", "P10", "secondary", **secondary)
    h.round_table("R10", "RT10", "RoundTableHeld", "2020-02-10", outcomes=["trajectories_to_start"],
                  trajectories_to_start=1)  # fmt: skip
    h.then("TrajectoryNotStarted", "R10", "T10", "2020-02-14", reason="pupil_unwilling")  # before any dispatch
    return h.events


@pytest.fixture(scope="module")
def stored(kafka_bootstrap: str, clickhouse: Any, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = isolated_settings(tmp_path_factory.mktemp("live-ops"), kafka_bootstrap, publish_timeout_s=10.0)
    settings = settings.model_copy(update={"clickhouse_database": f"live_ops_{uuid.uuid4().hex[:8]}"})
    ensure_topics(settings)
    through_the_log(settings, clickhouse, history())
    return settings


@pytest.fixture(scope="module")
def api(stored: Settings, clickhouse: Any) -> Iterator[TestClient]:
    """The read API app on the session's chDB engine (one per process), auditing to the module's topic: no
    lifespan, no writer of its own (the events are stored)."""
    app = create_app(stored)
    projections = httpx.AsyncClient(base_url=stored.projections_base_url, timeout=5)  # not asked here
    audit = AuditLog(stored)
    app.state.api = Api(stored, clickhouse, Warehouse(clickhouse, stored.clickhouse_database), None, projections,
                        audit=audit)  # fmt: skip
    try:
        yield TestClient(app)
    finally:
        audit.close()


def as_(settings: Settings, role: Role, *scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_development_token(settings, role, list(scope))}"}


def get(api: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    response = api.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def row(body: dict[str, Any], grouping: str, segment: str, provider: str | None = None) -> dict[str, Any]:
    (found,) = [r for r in body["rows"] if r["grouping"] == grouping and r["segment"] == segment
                and (grouping == "overall" or r["provider_id"] == provider)]  # fmt: skip
    return found


def test_waiting_clocks_completed_and_open_waits(stored: Settings, api: TestClient) -> None:
    desk = as_(stored, Role.desk)
    body = get(api, desk, "/v1/live/waiting-clocks", school_year=YEAR, as_of=AS_OF, over_weeks=12)
    end_to_end = row(body, "overall", "referral_to_start")
    assert (end_to_end["completed"], end_to_end["median_days"], end_to_end["p90_days"]) == (3, 36.0, 49.0)
    assert end_to_end["within_weeks_pct"] == {"2": 33.3, "4": 33.3, "8": 100.0}
    assert (end_to_end["open"], end_to_end["open_median_age_days"], end_to_end["open_over_weeks"]) == (3, 56.0, 1)
    seven = row(get(api, desk, "/v1/live/waiting-clocks", school_year=YEAR, as_of=AS_OF, over_weeks=7), "overall",
                "referral_to_start")  # fmt: skip
    assert seven["open_over_weeks"] == 2  # 56 and 153 days are over 49; R5's 49 is not
    # The re-dispatch keeps the referral's day: tigo's one completed wait is 49 days, not 14.
    assert (row(body, "provider", "referral_to_start", "tigo")["median_days"],
            row(body, "provider", "dispatch_to_start", "tigo")["median_days"]) == (49.0, 14.0)  # fmt: skip
    assert (row(body, "overall", "referral_to_round_table")["median_days"],
            row(body, "overall", "referral_to_round_table")["open"],
            row(body, "overall", "round_table_to_dispatch")["median_days"]) == (10.5, 1, 7.0)  # R1 14, R10 7; R4
    dispatch_to_start = row(body, "overall", "dispatch_to_start")
    assert (dispatch_to_start["completed"], dispatch_to_start["median_days"], dispatch_to_start["open"],
            dispatch_to_start["open_median_age_days"]) == (3, 14.0, 1, 42.0)  # fmt: skip
    abrusco = row(body, "provider_module_offer", "referral_to_start", "abrusco")
    assert (abrusco["module_id"], abrusco["offer_type"], abrusco["completed"], abrusco["median_days"],
            abrusco["open"]) == ("individual", "regular", 2, 25.0, 1)  # fmt: skip
    waiting_for_dispatch = row(body, "provider", "referral_to_start", "")
    assert (waiting_for_dispatch["open"], waiting_for_dispatch["open_median_age_days"]) == (2, 104.5)  # R4 56, R9 153

    trend = get(api, desk, "/v1/live/waiting-clocks/trend", school_year=YEAR, as_of=AS_OF)["rows"]
    assert [(r["provider_id"], r["month"], r["completed"], r["median_days"]) for r in trend] == [
        ("abrusco", "2019-10", 1, 14.0), ("abrusco", "2019-12", 1, 36.0), ("tigo", "2019-11", 1, 49.0)]  # fmt: skip


def test_a_provider_sees_the_waits_attributed_to_it_only(stored: Settings, api: TestClient) -> None:
    tigo = get(api, as_(stored, Role.provider, "tigo"), "/v1/live/waiting-clocks", school_year=YEAR, as_of=AS_OF)
    assert {r["provider_id"] for r in tigo["rows"] if r["grouping"] != "overall"} == {"tigo"}
    overall = row(tigo, "overall", "referral_to_start")
    assert (overall["completed"], overall["median_days"], overall["open"]) == (1, 49.0, 0)
    assert api.get("/v1/live/waiting-clocks", headers=as_(stored, Role.clb, "clb-1")).status_code == 403


def states(body: dict[str, Any]) -> dict[str, str]:
    return {r["referral_id"]: r["state"] for r in body["rows"]}


def test_each_referral_has_one_state_and_a_clb_sees_its_own_referrals_only(stored: Settings, api: TestClient) -> None:
    desk = get(api, as_(stored, Role.desk), "/v1/live/referrals", school_year=YEAR)
    assert states(desk) == {"R1": "started", "R2": "started", "R3": "closed", "R4": "triage", "R5": "dispatched",
                            "R6": "advice_only", "R7": "withdrawn", "R8": "not_started",
                            "R9": "awaiting_redispatch", "R10": "not_started"}  # fmt: skip
    assert [r["referrer_id"] for r in desk["rows"]] == ["clb-1"] * 8 + ["clb-2"] * 2  # listed per referrer
    clb2 = get(api, as_(stored, Role.clb, "clb-2"), "/v1/live/referrals", school_year=YEAR)
    assert (states(clb2), clb2["total"]) == ({"R8": "not_started", "R9": "awaiting_redispatch"}, 2)
    asks_for_another = get(api, as_(stored, Role.clb, "clb-2"), "/v1/live/referrals", school_year=YEAR,
                           referrer_id="clb-1")  # fmt: skip
    assert asks_for_another["rows"] == []
    page = get(api, as_(stored, Role.desk), "/v1/live/referrals", school_year=YEAR, state="started", limit=1)
    assert (page["total"], [r["referral_id"] for r in page["rows"]]) == (2, ["R1"])
    assert api.get("/v1/live/referrals", headers=as_(stored, Role.provider, "abrusco")).status_code == 403
    # Many referrals' statuses at once are audited like one: every request, served or refused, with who asked.
    listed = [r for r in (json.loads(m.value) for m in read_topic(stored.kafka_bootstrap, audit_topic(stored)))
              if r["route"] == "/v1/live/referrals"]  # fmt: skip
    assert sorted((r["role"], r["status"]) for r in listed) == [
        ("clb", 200), ("clb", 200), ("desk", 200), ("desk", 200), ("provider", 403)]  # fmt: skip


def test_one_referrals_status_with_the_day_of_each_step_audited(stored: Settings, api: TestClient) -> None:
    clb1 = as_(stored, Role.clb, "clb-1")
    r1 = api.get("/v1/live/referrals/R1", headers={**clb1, "X-Access-Reason": "case 2020-17"})
    assert r1.status_code == 200, r1.text
    body = r1.json()
    assert (body["state"], body["since"], body["state_label_nl"]) == ("started", "2019-11-19", "Traject loopt")
    assert [(s["step"], s["on"]) for s in body["steps"]] == [
        ("received", "2019-10-01"), ("triage", "2019-10-03"), ("round_table", "2019-10-15"),
        ("dispatched", "2019-10-22"), ("started", "2019-11-19"), ("not_started", "2019-10-29")]  # fmt: skip
    assert [(t["trajectory_id"], t["provider_id"], t["status"]) for t in body["trajectories"]] == [
        ("T1a", "abrusco", "not_started"), ("T1b", "tigo", "running")]  # fmt: skip
    assert "pupil" not in r1.text  # ids and dates only
    assert api.get("/v1/live/referrals/R9", headers=clb1).status_code == 404  # clb-2's: like an unknown one
    assert api.get("/v1/live/referrals/NOPE", headers=clb1).status_code == 404
    assert api.get("/v1/live/referrals/R1", headers=as_(stored, Role.provider, "tigo")).status_code == 403
    records = [r for r in (json.loads(m.value) for m in read_topic(stored.kafka_bootstrap, audit_topic(stored)))
               if r["route"] == "/v1/live/referrals/{referral_id}"]  # fmt: skip
    assert sorted((r["referral_id"], r["status"], r["reason"]) for r in records) == [
        ("NOPE", 404, None), ("R1", 200, "case 2020-17"), ("R1", 403, None), ("R9", 404, None)]  # fmt: skip


def test_data_completeness_names_the_ids_to_fix_for_the_desk_only(stored: Settings, api: TestClient) -> None:
    desk = as_(stored, Role.desk)
    body = get(api, desk, "/v1/live/completeness", school_year=YEAR, stuck_days=14)
    checks = {c["check"]: c for c in body["checks"]}
    ids = {name: sorted(i["id"] for i in c["items"]) for name, c in checks.items()}
    assert ids["trajectory_without_duration"] == ["T1b", "T3"]  # started, no duration (R51's rule); T2 reported one
    assert ids["trajectory_without_half_days"] == ["T1b"]
    assert ids["trajectory_without_perspective"] == ["T3"]
    assert ids["event_without_dispatch"] == ["TX"]  # R10's not-started before any dispatch is no gap
    stuck = checks["event_without_dispatch"]["items"][0]
    assert (stuck["referral_id"], stuck["source_system"]) == ("R2", "lars") and "TrajectoryStarted 2020-01-15" in \
        stuck["detail"]  # fmt: skip
    r1 = next(i for i in checks["referral_missing_profile"]["items"] if i["id"] == "R1")
    assert r1["detail"] == "residence_postcode, risk_behaviours"  # everything else of the report was registered
    assert checks["referral_missing_profile"]["count"] == 10  # the others registered only the required fields
    assert checks["trajectory_without_duration"]["by_provider"] == [{"key": "abrusco", "count": 1},
                                                                     {"key": "tigo", "count": 1}]  # fmt: skip
    assert checks["referral_missing_profile"]["by_source_system"] == [{"key": "lars", "count": 10}]
    paged = get(api, desk, "/v1/live/completeness", school_year=YEAR, limit=2, offset=2)
    missing = next(c for c in paged["checks"] if c["check"] == "referral_missing_profile")
    assert (len(missing["items"]), missing["more"], missing["count"]) == (2, True, 10)
    assert get(api, desk, "/v1/live/completeness", school_year=YEAR, stuck_days=3650)["checks"][-1]["count"] == 0
    for caller in (as_(stored, Role.provider, "abrusco"), as_(stored, Role.clb, "clb-1"), as_(stored, Role.policy)):
        assert api.get("/v1/live/completeness", headers=caller).status_code == 403
