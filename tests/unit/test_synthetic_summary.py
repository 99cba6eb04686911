"""The generator's own totals: counted like the platform's statistics, and in the same shape as the API's."""

from __future__ import annotations

from collections import Counter

from kans.synthetic.generator import generate, regions_of
from kans.synthetic.params import GeneratorParams, year_range
from kans.synthetic.summary import Summary


def test_referrals_per_month_counts_every_referral_not_retracted_in_its_brussels_month() -> None:
    summary = Summary()
    events = list(summary.watch(generate(GeneratorParams(years=year_range("2019-2020"), seed=3))))  # both kinds
    withdrawals = [s for s in events if s["event_type"] == "ReferralWithdrawn"]
    # The generator sends version 1: a registration error or a duplicate is a retraction, any other reason an outcome.
    retracted = {s["payload"]["referral_id"] for s in withdrawals
                 if s["payload"]["reason"] in ("entered_in_error", "duplicate_referral")}  # fmt: skip
    assert retracted and len(retracted) < len(withdrawals)
    submitted = [s for s in events if s["event_type"] == "ReferralSubmitted"]
    referrals = [s for s in submitted if s["payload"]["referral_id"] not in retracted]
    assert len(referrals) == len(submitted) - len(retracted)  # R01 leaves retracted registrations out, not withdrawn
    stat = summary.referrals_per_month("2019-2020")
    assert [m["month"] for m in stat["months"]] == ["2019-09", "2019-10", "2019-11", "2019-12", "2020-01",
                                                     "2020-02", "2020-03", "2020-04", "2020-05", "2020-06",
                                                     "2020-07", "2020-08"]  # fmt: skip
    assert stat["total"] == len(referrals)
    expected = Counter((s["occurred_at"][:7], s["payload"]["offer_type"]) for s in referrals)
    assert {(m["month"], o): m[o] for m in stat["months"] for o in ("regular", "corona") if m[o]} == expected
    secondary = summary.referrals_per_month("2019-2020", "secondary")["total"]
    assert secondary == sum(s["payload"]["level"] == "secondary" for s in referrals)
    totals = summary.year_totals("2019-2020")
    assert totals["events"] == len(events) - sum(s["occurred_at"] < "2019-09" for s in events)
    assert totals["groups"] == sum(len(s["payload"]["groups"]) for s in events
                                   if s["event_type"] == "GroupReferralSubmitted")  # fmt: skip


def test_scale_multiplies_the_volumes_through_regions() -> None:
    assert regions_of(1) == (1, 1.0) and regions_of(0.25) == (1, 0.25) and regions_of(2.5) == (3, 2.5 / 3)
    one, three = Summary(), Summary()
    for summary, scale in ((one, 1.0), (three, 3.0)):
        for _ in summary.watch(generate(GeneratorParams(years=year_range("2020-2021"), seed=2, scale=scale))):
            pass
    ratio = three.referrals_per_month("2020-2021")["total"] / one.referrals_per_month("2020-2021")["total"]
    assert 2.6 <= ratio <= 3.4
