"""Abrusco's youth coaches in schools (coach op school) and their corona coaching, as the provider registers them
(R50): from 2018-2019 on, eleven schools with a coach, fourteen school workings, 52 half-days a week, as the report
2019-2020 counts them; in a crisis year the pupils of its study lab and doorstep visits. Provider facts, one set per
school year and region."""

from __future__ import annotations

from datetime import date

from kans.synthetic.calendar import DAY
from kans.synthetic.providers import Emit, ProviderYear, region_provider

COACHING_SINCE = 2018  # "In het schooljaar 18-19 konden scholen intekenen op een projectoproep"
SCHOOLS = 11
# (school number, track, half-days): a full-time setting of 4 half-days in every school, the part-time centre of two
# of them (2 each), a second campus of a third (4): 14 settings, 52 half-days a week.
EXTRA_SETTINGS = ((1, "part_time", 2), (2, "part_time", 2), (3, "campus", 4))
CORONA_PUPILS = {"study_lab": 15, "doorstep_visit": 23}


def coaching_events(year: ProviderYear, region: int, emit: Emit) -> None:
    """The year's coach settings (valid for the school year) and, in a crisis year, its corona coaching reports."""
    first, last = year.first_day, year.last_day
    if first.year < COACHING_SINCE:
        return
    pid = region_provider("abrusco", region)
    school = (lambda n: f"so-r{region}n{n}") if region else (lambda n: f"so-n{n}")
    settings = [(n, "full_time", 4) for n in range(1, SCHOOLS + 1)] + list(EXTRA_SETTINGS)
    for n, track, half_days in settings:
        setting = f"coach-{school(n)}-{track}"
        emit(first.toordinal() * DAY + 440, "ProviderCoachSettingSet", f"coach-setting:{pid}:{setting}:{first.year}",
             {"provider_id": pid, "setting_id": setting, "school_id": school(n),
              "track": "whole_school" if track == "campus" else track, "half_days_per_week": half_days,
              "valid_from": first.isoformat(), "valid_until": last.isoformat()})  # fmt: skip
    if year.corona:
        start, end = max(year.corona[0], first), min(year.corona[1], last)
        reported = min(end, date(last.year, 6, 30))
        for kind, pupils in CORONA_PUPILS.items():
            emit(reported.toordinal() * DAY + 900, "ProviderCoronaCoachingReported",
                 f"corona-coaching:{pid}:{kind}:{first.year}",
                 {"provider_id": pid, "report_id": f"corona-{kind}-{first.year}", "school_year": f"{first.year}-"
                  f"{last.year}", "kind": kind, "pupils": pupils, "period_from": start.isoformat(),
                  "period_until": end.isoformat()})  # fmt: skip
