"""The generator codes the kinds of 'other' ambulant care the report names (R13/R45), so the demo shows them, and
the referrals with 'other' care together keep the report's share."""

from __future__ import annotations

from collections import Counter

from kans.synthetic.generator import generate
from kans.synthetic.params import GeneratorParams, year_range
from services.warehouse.statistics.profile_stats import OTHER_CARE


def test_other_ambulant_care_comes_with_its_kinds() -> None:
    care = Counter(
        code
        for s in generate(GeneratorParams(years=year_range("2019-2020"), seed=5, scale=4))
        if s["event_type"] == "ReferralSubmitted"
        for code in (s["payload"].get("ambulant_care") or [])
    )
    kinds = {code: n for code, n in care.items() if code in OTHER_CARE}
    assert {"other", "diagnostic_assessment", "speech_therapy", "street_work"} <= set(kinds), kinds
    assert kinds["other"] < sum(kinds.values())  # part of the report's 'Andere' now has a code
