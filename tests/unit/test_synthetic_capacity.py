"""Places at a module: first come first served, waits that grow when full, capacity changes; and in a generated
year, fewer places mean longer waits and more trajectories not started for lack of capacity."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from kans.synthetic.capacity import Places
from kans.synthetic.generator import generate
from kans.synthetic.params import GeneratorParams, year_range

DAY = 1440


def test_a_free_place_starts_at_once_and_a_full_module_makes_the_next_one_wait() -> None:
    places = Places([(0, 2)])
    for ready, end in ((10, 100), (20, 200)):
        assert places.earliest_start(ready) == ready
        places.occupy(ready, end, dispatched=ready)
    assert places.earliest_start(30) == 100  # waits for the first place to free up
    places.occupy(100, 300, dispatched=30)
    assert places.earliest_start(40) == 200  # the queue grows: the next one waits longer
    assert places.waits == [0, 0, 70]


def test_a_lower_capacity_keeps_the_places_that_free_up_last() -> None:
    places = Places([(0, 3), (50, 1)])
    for end in (60, 70, 80):
        places.occupy(0, end)
    assert places.earliest_start(55) == 80  # with one place, nobody starts before all three have ended
    assert places.capacity == 1


def test_a_higher_capacity_from_a_day_adds_places_from_that_day() -> None:
    places = Places([(0, 1), (500, 2)])
    places.occupy(0, 1000)
    assert places.earliest_start(10) == 500


def test_a_carried_over_trajectory_continues_only_on_a_free_place() -> None:
    places = Places([(0, 1)])
    assert places.free_at(5)
    places.occupy(5, 90)
    assert not places.free_at(10) and places.free_at(90)


def _outcomes(capacity_factor: float) -> tuple[float, int]:
    params = GeneratorParams(years=year_range("2021-2022"), seed=9,
                             overrides={"2021-2022": {"capacity_factor": capacity_factor}})  # fmt: skip
    dispatched: dict[str, datetime] = {}
    waits: list[float] = []
    capacity_refusals = 0
    for s in generate(params):
        payload: dict[str, Any] = s["payload"]
        at = datetime.fromisoformat(s["occurred_at"])
        if s["event_type"] == "TrajectoryDispatched":
            dispatched[payload["trajectory_id"]] = at
        elif s["event_type"] == "TrajectoryStarted":
            waits.append((at - dispatched[payload["trajectory_id"]]).total_seconds() / 86400)
        elif s["event_type"] == "TrajectoryNotStarted" and payload["reason"] == "provider_capacity":
            capacity_refusals += 1
    return statistics.quantiles(waits, n=10)[-1], capacity_refusals  # p90 of dispatch -> start


def test_waiting_grows_and_trajectories_give_up_when_providers_are_full() -> None:
    roomy_wait, roomy_refusals = _outcomes(3.0)
    tight_wait, tight_refusals = _outcomes(0.5)
    assert tight_wait > 2 * roomy_wait  # p90 around 15 days with room, near the desk's patience (60) when full
    assert tight_refusals > 5 * max(1, roomy_refusals)
