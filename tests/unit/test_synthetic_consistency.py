"""Internal consistency of a generated decade, checked by `kans.synthetic.checks`; and the checks themselves
catch each kind of broken history (so a passing check means something)."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import date
from typing import Any

import pytest

from kans.synthetic.checks import check_history
from kans.synthetic.generator import generate
from kans.synthetic.params import GeneratorParams, year_range
from kans.synthetic.summary import school_year_of_month
from schemas.catalogue import EVENT_TYPES
from schemas.dispatch import DISPATCH_SERVICE_EVENT_TYPES

Events = list[dict[str, Any]]


@pytest.fixture(scope="module")
def decade() -> Events:
    return list(generate(GeneratorParams(years=year_range("2017-2018..2026-2027"), seed=42)))


def test_a_generated_decade_has_no_violation(decade: Events) -> None:
    assert check_history(decade) == []


def test_the_decade_uses_every_event_type_of_the_contract(decade: Events) -> None:
    """Every type a source submits; the dispatch service writes its proposals and waiting lists itself, and an
    erasure is the desk's answer to a person's request, not part of a school year's history."""
    assert set(Counter(s["event_type"] for s in decade)) == set(EVENT_TYPES) - DISPATCH_SERVICE_EVENT_TYPES - {
        "PupilErased"
    }


def test_pupils_come_back_in_later_years_under_the_same_pupil_id(decade: Events) -> None:
    years_of: dict[str, set[str]] = {}
    for s in decade:
        if s["event_type"] == "ReferralSubmitted":
            years_of.setdefault(s["payload"]["pupil_id"], set()).add(school_year_of_month(s["occurred_at"][:7]))
    returning = [pupil for pupil, years in years_of.items() if len(years) > 1]
    carried = [s for s in decade if s["event_type"] == "TrajectoryCarriedOver"]
    assert len(returning) > 100 and len(carried) > 100
    rereferred = {s["payload"]["referral_id"] for s in decade if s["payload"].get("channel") == "kans_rereferral"}
    assert {s["payload"]["referral_id"] for s in carried} <= rereferred


def test_no_event_after_today_and_running_trajectories_stay_open() -> None:
    today = date(2026, 11, 28)
    events = list(generate(GeneratorParams(years=year_range("2025-2026..2026-2027"), seed=5), today))
    assert check_history(events, today) == []
    ended = {s["payload"]["trajectory_id"] for s in events if s["event_type"] in ("TrajectoryClosed",
             "TrajectoryStoppedEarly", "TrajectoryNotStarted")}  # fmt: skip
    started = {s["payload"]["trajectory_id"] for s in events if s["event_type"] == "TrajectoryStarted"}
    assert len(started - ended) > 10, "trajectories running today have no end yet"


def _first(events: Events, event_type: str, **where: Any) -> int:
    return next(i for i, s in enumerate(events) if s["event_type"] == event_type
                and all(s["payload"].get(k) == v for k, v in where.items()))  # fmt: skip


@pytest.fixture(scope="module")
def year() -> Events:
    return list(generate(GeneratorParams(years=year_range("2018-2019..2019-2020"), seed=3)))


def _broken(events: Events, how: str) -> Events:
    events = copy.deepcopy(events)
    if how == "start_before_dispatch":
        i = _first(events, "TrajectoryStarted")
        events[i]["occurred_at"] = "2018-09-01T08:00:00+02:00"
    elif how == "out_of_order":
        i = _first(events, "TrajectoryClosed")
        tid = events[i]["payload"]["trajectory_id"]
        j = _first(events, "TrajectoryDispatched", trajectory_id=tid)
        events[i], events[j] = events[j], events[i]
    elif how == "carried_link":
        i = _first(events, "TrajectoryCarriedOver")
        events[i]["payload"]["previous_trajectory_id"] = "nowhere-t1"
    elif how == "age_grade":
        i = _first(events, "ReferralSubmitted", grade="grade_3", school_delay="none")
        events[i]["payload"]["birth_year"] -= 2
    elif how == "pupil_changes":
        pupils = Counter(s["payload"]["pupil_id"] for s in events if s["event_type"] == "ReferralSubmitted")
        twice = next(p for p, n in pupils.items() if n > 1)
        i = max(i for i, s in enumerate(events) if s["payload"].get("pupil_id") == twice)
        events[i]["payload"]["birth_month"] = events[i]["payload"]["birth_month"] % 12 + 1
    elif how == "half_days":
        i = next(i for i, s in enumerate(events) if s["event_type"] == "TrajectoryStarted"
                 and s["payload"]["half_days_per_week"] is not None)  # fmt: skip
        events[i]["payload"]["half_days_per_week"] = 9.5
    elif how == "over_capacity":
        for s in events:
            if s["event_type"] == "ProviderCapacitySet" and s["payload"]["module_id"] == "individual":
                s["payload"]["capacity"] = 1
    elif how == "round_table_twice":
        i = _first(events, "RoundTableHeld")
        events.insert(i + 1, copy.deepcopy(events[i]))
    elif how == "not_offered":
        i = _first(events, "TrajectoryDispatched")
        events[i]["payload"]["module_id"] = "long-break"
        events[i]["payload"]["provider_id"] = "groep-intro"  # joins only in September 2019
    return events


@pytest.mark.parametrize("how, message", [
    ("start_before_dispatch", "starts before it was dispatched"),
    ("out_of_order", "before its dispatch"),
    ("carried_link", "continues_next_year"),
    ("age_grade", "age does not fit grade"),
    ("pupil_changes", "changes gender or birth date"),
    ("half_days", "outside module"),
    ("over_capacity", "running"),
    ("not_offered", "is not offered"),
    ("round_table_twice", "out of order"),
])  # fmt: skip
def test_the_checks_find_a_broken_history(year: Events, how: str, message: str) -> None:
    assert check_history(year) == []
    found = check_history(_broken(year, how))
    assert any(message in problem for problem in found), found[:5]


def test_the_checks_find_an_event_after_today(year: Events) -> None:
    found = check_history(year, today=date(2019, 12, 31))
    assert found and all("after today" in problem for problem in found)
