"""The generator registers Abrusco's youth coaches and its corona coaching (R50), so the demo shows them: the report's
eleven schools, fourteen settings and 52 half-days a week every year since 2018-2019, and the study lab and doorstep
visits in a crisis year; every fact valid against the contract."""

from __future__ import annotations

from kans.synthetic.generator import generate
from kans.synthetic.params import GeneratorParams, year_range
from schemas.registry import SUBMISSION_ADAPTER


def test_a_year_holds_the_reports_coach_settings_and_a_crisis_year_its_corona_coaching() -> None:
    facts = [s for s in generate(GeneratorParams(years=year_range("2019-2020"), seed=3))
             if s["event_type"] in ("ProviderCoachSettingSet", "ProviderCoronaCoachingReported")]  # fmt: skip
    settings = [s["payload"] for s in facts if s["event_type"] == "ProviderCoachSettingSet"
                and s["payload"]["valid_from"] == "2019-09-01"]  # fmt: skip
    assert len(settings) == 14 and len({p["school_id"] for p in settings}) == 11
    assert sum(p["half_days_per_week"] for p in settings) == 52
    corona = {s["payload"]["kind"]: s["payload"]["pupils"] for s in facts
              if s["event_type"] == "ProviderCoronaCoachingReported"}  # fmt: skip
    assert corona == {"study_lab": 15, "doorstep_visit": 23}
    for submission in facts:
        SUBMISSION_ADAPTER.validate_python(submission)
