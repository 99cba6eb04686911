"""Shedding the live views while the API's event loop is behind (services/api/overload.py): the lag measure on a
real event loop and on a clock the test moves, and the API's answers on its app without its lifespan (the
projections worker a stand-in). On the running API, stalled: tests/e2e/test_overload.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.api.overload import HOLD_S, LoopLag, shed_view
from tests.unit.audit_fakes import RecordingAudit
from tests.unit.test_api_audit_and_limits import client, headers


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_blocked_event_loop_is_seen_at_once_and_after_it_ran_again() -> None:
    async def scenario() -> tuple[float, float, float]:
        lag = LoopLag()
        lag.start()
        await asyncio.sleep(0.1)
        time.sleep(0.4)  # the loop blocked: no callback runs
        during = lag.behind()  # asked by a callback that ran late: the tick is overdue
        await asyncio.sleep(0.05)  # the tick ran again: its overshoot is held
        after = lag.behind()
        await lag.stop()
        return during, after, lag.behind()

    during, after, stopped = asyncio.run(scenario())
    assert during >= 0.35
    assert after >= 0.35
    assert stopped == 0.0


def test_the_overshoot_is_held_for_hold_s_then_the_current_one_counts() -> None:
    clock = Clock()
    lag = LoopLag(clock=clock)
    assert lag.behind() == 0.0  # before the first tick
    lag.last_tick = clock.now
    lag.record(2.0)
    clock.now += 0.01
    lag.last_tick = clock.now
    lag.record(0.001)  # a smaller one within HOLD_S does not replace it
    assert lag.behind() == 2.0
    clock.now += HOLD_S + 0.01
    assert lag.behind() == pytest.approx(HOLD_S + 0.01 - lag.tick_s)  # held no more; the next tick is overdue
    lag.last_tick = clock.now
    lag.record(0.002)
    assert lag.behind() == 0.002


@pytest.mark.parametrize(("method", "path", "view"), [
    ("GET", "/v1/live/provider-load", "provider-load"),
    ("GET", "/v1/live/waiting-times", "waiting-times"),
    ("GET", "/v1/live/trajectories/T-1", "trajectories"),
    ("HEAD", "/v1/live/provider-load", None),
    ("GET", "/v1/live/stream", None),
    ("GET", "/v1/statistics", None),
    ("GET", "/health", None),
    ("GET", "/v1/live/provider-load/x", None),
])  # fmt: skip
def test_only_the_live_views_gets_may_be_shed(method: str, path: str, view: str | None) -> None:
    assert shed_view(method, path) == view


def behind(app_lag: LoopLag, seconds: float) -> None:
    clock = Clock()
    app_lag.clock = clock
    app_lag.last_tick = app_lag.overshoot_at = clock.now
    app_lag.overshoot = seconds


def test_the_live_views_answer_503_with_retry_after_while_the_loop_is_behind_and_nothing_else_is_done() -> None:
    audit = RecordingAudit()
    api = client(audit)
    behind(api.app.state.loop_lag, 2.5)  # type: ignore[attr-defined]
    for path in ("/v1/live/provider-load", "/v1/live/trajectories/T-1"):
        response = api.get(path, headers={**headers(), "X-Access-Reason": "complaint 2025-17"})
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json()["detail"] == (
            "the API is overloaded: its event loop is 2.50 s behind (more than 2 s), so the live views are not "
            "answered until it catches up; try again in 1 s")  # fmt: skip
    assert audit.records == []  # no read of a trajectory happened, none is recorded
    assert api.get("/v1/statistics", headers=headers()).status_code == 200  # not a live view: served
    assert api.get("/health").status_code == 200
    metrics = api.get("/metrics").text
    assert 'kans_api_shed_total{view="provider-load"} 1.0' in metrics
    assert 'kans_api_shed_total{view="trajectories"} 1.0' in metrics
    assert "kans_api_event_loop_behind_seconds 2.5" in metrics
    assert 'http_requests_total{handler="/v1/live/provider-load",method="GET",status="503"} 1.0' in metrics


def test_within_the_bound_or_with_shedding_off_the_live_view_is_served() -> None:
    api = client(RecordingAudit())
    behind(api.app.state.loop_lag, 1.9)  # type: ignore[attr-defined]
    assert api.get("/v1/live/provider-load", headers=headers()).status_code == 200
    never = client(RecordingAudit(), api_shed_behind_ms=0)
    behind(never.app.state.loop_lag, 30.0)  # type: ignore[attr-defined]
    assert never.get("/v1/live/provider-load", headers=headers()).status_code == 200


def test_the_bound_is_checked() -> None:
    from core.settings import Settings

    with pytest.raises(ValueError, match="api_shed_behind_ms"):
        Settings(api_shed_behind_ms=-1)
