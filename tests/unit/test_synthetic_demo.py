"""The demo: a few school years up to today, loaded quickly, never in the future, and stable from day to day (a
later load only adds events: it never sends a known source record with other content)."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import httpx
import pytest

from kans.demo import DESK_DECIDES_DAYS, demo_events, demo_params, left_to_the_dispatch_service, load_demo
from kans.synthetic.output import to_json
from kans.synthetic.summary import Summary

TODAY = date(2026, 11, 28)


def test_the_demo_covers_three_school_years_up_to_today_quickly() -> None:
    started = time.perf_counter()
    summary = Summary()
    events = list(summary.watch(demo_events(TODAY)))
    assert time.perf_counter() - started < 20  # `kans up` loads it well within a minute
    assert demo_params(TODAY).years == ("2024-2025", "2025-2026", "2026-2027")
    assert max(s["occurred_at"][:10] for s in events) <= TODAY.isoformat()
    assert all(summary.year_totals(year)["referrals"] for year in demo_params(TODAY).years)
    ended = {s["payload"]["trajectory_id"] for s in events if s["event_type"] in ("TrajectoryClosed",
             "TrajectoryStoppedEarly", "TrajectoryNotStarted")}  # fmt: skip
    running = {s["payload"]["trajectory_id"] for s in events if s["event_type"] == "TrajectoryStarted"} - ended
    assert running, "trajectories running today are open in the live views"


def test_a_later_load_only_adds_events_even_after_the_window_moves() -> None:
    before = {s["source_ref"]: to_json(s) for s in demo_events(date(2026, 8, 20))}  # window 2023-2024..2025-2026
    after = {s["source_ref"]: to_json(s) for s in demo_events(TODAY)}  # window 2024-2025..2026-2027
    shared = before.keys() & after.keys()
    assert len(shared) > 4000
    assert all(before[ref] == after[ref] for ref in shared)


def test_load_demo_posts_the_demo_events_to_the_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    posted: list[dict[str, object]] = []

    def ingest(request: httpx.Request) -> httpx.Response:
        batch = json.loads(request.content)
        posted.extend(batch)
        return httpx.Response(202, json={"accepted": len(batch), "created": len(batch), "duplicates": 0})

    real_client = httpx.Client
    monkeypatch.setattr(httpx, "Client", lambda **kw: real_client(**{**kw, "transport": httpx.MockTransport(ingest)}))
    totals = load_demo("http://ingest", today=TODAY)
    assert totals["created"] == len(posted) == len(list(demo_events(TODAY)))


def test_the_last_weeks_dispatches_are_left_to_the_dispatch_service() -> None:
    """`make up` leaves the demo's dispatches of the last four weeks (and what followed them) to the dispatch
    service; everything else is posted as generated."""
    everything = list(demo_events(TODAY))
    kept = left_to_the_dispatch_service(everything, TODAY)
    cutoff = (TODAY - timedelta(days=DESK_DECIDES_DAYS)).isoformat()
    dropped = [e for e in everything if e not in kept]
    dispatched = {e["payload"].get("trajectory_id") or e["payload"]["group_trajectory_id"] for e in dropped
                  if e["event_type"] in ("TrajectoryDispatched", "GroupTrajectoryDispatched")}  # fmt: skip
    assert dispatched, "the demo has dispatches in its last four weeks"
    assert all(e["occurred_at"][:10] > cutoff for e in dropped if e["event_type"].endswith("Dispatched"))
    # Every event left out belongs to a trajectory whose dispatch was left out; none of them remains.
    assert {e["payload"].get("trajectory_id", e["payload"].get("group_trajectory_id")) for e in dropped} == dispatched
    assert not [e for e in kept if e["payload"].get("trajectory_id", e["payload"].get("group_trajectory_id"))
                in dispatched]  # fmt: skip
    older = [e for e in everything if e["event_type"] == "TrajectoryDispatched" and e["occurred_at"][:10] <= cutoff]
    assert older and all(e in kept for e in older)
    assert {e["event_type"] for e in dropped} >= {"TrajectoryDispatched"}
    assert all(e["event_type"].startswith(("Trajectory", "GroupTrajectory")) for e in dropped)


def test_the_desk_waits_for_the_dispatch_worker_to_take_in_the_demos_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dispatch worker still starting, or whose deciding agent is behind its routing one, answers the same (no)
    proposals twice: that is not settled while it has not taken in the demo's events and its agents still move
    (`make up` once decided on nothing that way)."""
    from kans import demo

    proposal = {"proposal_id": "P-1", "trajectory_id": "T-1", "waiting_since": "2026-10-01"}
    asked = {"ready": 0}

    def state() -> tuple[int, int, list[dict[str, str]]]:
        n = asked["ready"]  # asks 1-3: starting; 4-6: routed, the deciding agent catching up; then done
        if n <= 3:
            return 0, 0, []
        return (500, n, []) if n <= 6 else (500, 10, [proposal])

    def get(url: str, timeout: float) -> httpx.Response:
        request = httpx.Request("GET", url)
        if url.endswith("/ready"):
            asked["ready"] += 1
            routed, decided, _ = state()
            processed = {"dispatch.route_events": routed, "dispatch.decide": decided}
            return httpx.Response(200, json={"processed": processed}, request=request)
        return httpx.Response(200, json={"proposals": state()[2]}, request=request)

    monkeypatch.setattr(demo.httpx, "get", get)
    monkeypatch.setattr(demo.time, "sleep", lambda s: None)
    assert demo._settled("http://dispatch", timeout_s=60, events=500) == [proposal]
    assert asked["ready"] == 8  # the proposals of the 7th ask, seen again at the 8th
