"""The crisis switch: spring 2020 by default, off on request, and on for any year with its own dates."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from kans.synthetic.generator import generate
from kans.synthetic.params import GeneratorParams, year_range

REASON_EVENTS = ("TrajectoryNotStarted", "TrajectoryStoppedEarly", "RoundTableCancelled", "GroupTrajectoryNotStarted",
                 "GroupTrajectoryStoppedEarly")  # fmt: skip


def _events(year: str, overrides: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    params = GeneratorParams(years=year_range(year), origin="2017-2018", seed=4, overrides=overrides or {})
    return [s for s in generate(params) if s["occurred_at"][:4] in (year[:4], year[5:])]


def _corona_reasons(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(s["event_type"] for s in events if s["event_type"] in REASON_EVENTS
                   and s["payload"]["reason"] == "corona_crisis")  # fmt: skip


def test_the_spring_2020_crisis_changes_reasons_and_brings_the_corona_offer() -> None:
    events = _events("2019-2020")
    reasons = _corona_reasons(events)
    assert set(reasons) == set(REASON_EVENTS), reasons
    assert all(s["occurred_at"][:10] >= "2020-03-16" for s in events if s["event_type"] in REASON_EVENTS
               and s["payload"]["reason"] == "corona_crisis")  # fmt: skip
    regular = [s for s in events if s["event_type"] == "ReferralSubmitted" and s["payload"]["offer_type"] == "regular"]
    late = [s for s in regular if "2020-03-16" <= s["occurred_at"][:10] <= "2020-06-30"]
    assert len(late) < 0.08 * len(regular), "regular referrals nearly stop after the lock-down"


def test_the_corona_offer_is_dispatched_the_same_day_groep_intro_first() -> None:
    events = _events("2019-2020")
    submitted = {s["payload"]["referral_id"]: s["occurred_at"] for s in events
                 if s["event_type"] == "ReferralSubmitted" and s["payload"]["offer_type"] == "corona"}  # fmt: skip
    dispatched = [s for s in events if s["event_type"] == "TrajectoryDispatched"
                  and s["payload"]["referral_id"] in submitted]  # fmt: skip
    assert len(dispatched) == len(submitted) == 111
    assert all(s["occurred_at"][:10] == submitted[s["payload"]["referral_id"]][:10] for s in dispatched)
    providers = Counter(s["payload"]["provider_id"] for s in dispatched)
    assert providers["groep-intro"] > 2 * providers["abrusco"] > 0  # report: 92 vs 19
    assert not [s for s in events if s["event_type"] == "RoundTableScheduled" and s["payload"]["referral_id"]
                in submitted]  # fmt: skip


def test_switched_off_there_is_no_corona_reason_and_no_corona_offer() -> None:
    events = _events("2019-2020", {"2019-2020": {"crisis": None}})
    assert _corona_reasons(events) == Counter()
    assert not [s for s in events if s["payload"].get("offer_type") == "corona"]


def test_switched_on_for_another_year_it_hits_that_year() -> None:
    crisis = {"start": date(2023, 2, 6), "offer_from_secondary": date(2023, 3, 6),
              "offer_from_primary": date(2023, 3, 13), "offer_until": date(2023, 6, 9)}  # fmt: skip
    events = _events("2022-2023", {"2022-2023": {"crisis": crisis}})
    assert _corona_reasons(events)["TrajectoryStoppedEarly"] > 5
    offered = [s for s in events if s["event_type"] == "ModuleOffered" and s["payload"]["module_id"] == "corona"]
    assert {s["payload"]["valid_from"] for s in offered} == {"2023-03-06"}
