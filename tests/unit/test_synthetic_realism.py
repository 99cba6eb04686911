"""At scale 1 the generated years look like the desk's 2019-2020 annual report: volumes, seasonality, the profile
distributions and what happens to trajectories (tolerances around the report's figures, for several seeds)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from kans.synthetic.calendar import easter_sunday
from kans.synthetic.generator import generate
from kans.synthetic.params import GeneratorParams, year_range
from kans.synthetic.summary import Summary, school_year_of_month

Events = list[dict[str, Any]]


@pytest.fixture(scope="module", params=[42, 7])
def history(request: pytest.FixtureRequest) -> tuple[Events, Summary]:
    summary = Summary()
    events = list(summary.watch(generate(GeneratorParams(years=year_range("2017-2018..2022-2023"),
                                                         seed=request.param))))  # fmt: skip
    return events, summary


def _in_year(events: Events, year: str, *types: str) -> Events:
    return [s for s in events if s["event_type"] in types and school_year_of_month(s["occurred_at"][:7]) == year]


def test_2019_2020_volumes_match_the_report(history: tuple[Events, Summary]) -> None:
    totals = history[1].year_totals("2019-2020")["referrals"]
    assert (totals["primary_corona"], totals["secondary_corona"]) == (36, 75)  # report: 36 and 75
    assert 60 <= totals["primary_regular"] + totals["primary_corona"] <= 85  # report: 71
    assert 250 <= totals["secondary_regular"] + totals["secondary_corona"] <= 305  # report: 280
    groups = history[1].year_totals("2019-2020")
    assert 80 <= groups["group_referrals"] <= 120 and 160 <= groups["groups"] <= 240  # report: 99 and 198
    assert 135 <= history[1].year_totals("2018-2019")["referrals"]["secondary_regular"] <= 175  # report: 154


def test_september_carry_over_and_january_peaks_and_a_quiet_summer(history: tuple[Events, Summary]) -> None:
    months = history[1].referrals_per_month("2021-2022", "secondary")["months"]
    regular = [m["regular"] for m in months]
    assert sorted(range(12), key=lambda i: -regular[i])[:2] == [0, 4]  # September, then January
    assert regular[10] + regular[11] < 0.04 * sum(regular)
    september = _in_year(history[0], "2021-2022", "ReferralSubmitted")
    carried = [s for s in september if s["payload"]["channel"] == "kans_rereferral"]
    assert carried and all(s["occurred_at"][5:7] == "09" for s in carried)


def test_group_referrals_come_early_and_no_class_action_after_easter(history: tuple[Events, Summary]) -> None:
    for year in ("2018-2019", "2021-2022", "2022-2023"):
        easter_monday = (easter_sunday(int(year[5:])) + timedelta(days=1)).isoformat()
        requests = _in_year(history[0], year, "GroupReferralSubmitted")
        late_class_actions = [g for s in requests if s["occurred_at"][:10] >= easter_monday
                              for g in s["payload"]["groups"] if g["requested_module"] == "class_action"]  # fmt: skip
        assert requests and late_class_actions == []
        primary = [s for s in requests if s["payload"]["groups"][0]["level"] == "primary"]
        autumn = [s for s in primary if s["occurred_at"][5:7] in ("10", "11")]
        assert len(autumn) >= 0.3 * len(primary)  # report G14: November peak


def test_profile_distributions_follow_the_report(history: tuple[Events, Summary]) -> None:
    referrals = [s["payload"] for s in history[0] if s["event_type"] == "ReferralSubmitted"]
    regular = [p for p in referrals if p["offer_type"] == "regular"]
    assert 0.66 <= sum(p["gender"] == "boy" for p in regular) / len(regular) <= 0.84  # ~75% boys
    secondary = [p for p in regular if p["level"] == "secondary"]
    no_delay = sum(p["school_delay"] == "none" for p in secondary) / len(secondary)
    assert 0.3 <= no_delay <= 0.5  # G25: 42% none
    in_brussels = sum(1000 <= int(p.get("residence_postcode") or 0) < 1300 for p in secondary) / len(secondary)
    assert 0.72 <= in_brussels <= 0.88  # T7: 81%
    languages = Counter(p["home_language"] for p in secondary)
    assert languages.most_common(1)[0][0] == "french" and languages["other"] > languages["dutch"]  # G24
    assert 0.03 <= sum(p["discipline"] == "procedure_started" for p in secondary) / len(secondary) <= 0.3
    primary_b_codes = [p["absence_b_half_days"] for p in regular if p["level"] == "primary"
                       and p.get("absence_b_half_days") is not None]  # fmt: skip
    assert sum(b <= 5 for b in primary_b_codes) / len(primary_b_codes) > 0.75  # G7: hardly any in primary
    part_time = [p for p in _in_year(history[0], "2019-2020", "ReferralSubmitted") if p["payload"]["offer_type"]
                 == "regular" and p["payload"]["education_form"] == "secondary_part_time"]  # fmt: skip
    assert 40 <= len(part_time) <= 95  # report: 68 from part-time education (L&W)


def test_trajectory_outcomes_and_providers_are_plausible(history: tuple[Events, Summary]) -> None:
    for year in ("2021-2022", "2022-2023"):
        done = history[1].year_totals(year)["trajectories"]
        assert 0.08 <= done["not_started"] / done["dispatched"] <= 0.32
        assert 0.04 <= done["stopped_early"] / done["started"] <= 0.2
    dispatched = _in_year(history[0], "2019-2020", "TrajectoryDispatched")
    providers = Counter(s["payload"]["provider_id"] for s in dispatched if s["payload"]["offer_type"] == "regular")
    assert (providers["abrusco"] + providers["groep-intro"]) / sum(providers.values()) >= 0.6  # T8: 182 of 218
    before = _in_year(history[0], "2018-2019", "TrajectoryDispatched", "GroupTrajectoryDispatched")
    assert before and not [s for s in before if s["payload"]["provider_id"] == "groep-intro"]  # joins 2019
