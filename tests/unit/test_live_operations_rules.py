"""The pure rules of the live operational views: the waiting-time clocks (L3), one referral's status (L4) and what
"not registered" means per profile column (L5). Expected values worked out by hand in each test's text."""

from __future__ import annotations

from datetime import date

from services.warehouse import completeness
from services.warehouse.referral_status import state_of, steps
from services.warehouse.waiting_clocks import ReferralFacts, TrajectoryFacts, p90, summarise, trend, waits

D = date.fromisoformat
AS_OF = D("2020-03-02")


def by_segment(facts: ReferralFacts, as_of: date = AS_OF) -> dict[str, tuple[bool, int, str]]:
    return {w.segment if w.trajectory_id is None or w.segment != "dispatch_to_start" else f"d2s:{w.trajectory_id}":
            (w.open, w.days, w.provider_id) for w in waits(facts, as_of)}  # fmt: skip


REDISPATCHED = ReferralFacts(
    "R1", "regular", D("2019-10-01"), round_table_scheduled_on=D("2019-10-03"), round_table_held_on=D("2019-10-15"),
    trajectories=(
        TrajectoryFacts("T1a", "abrusco", "individual", "regular", D("2019-10-22"), not_started_on=D("2019-10-29"),
                        not_started_reason="provider_declines"),
        TrajectoryFacts("T1b", "tigo", "day-care", "regular", D("2019-11-05"), started_on=D("2019-11-19")),
    ),
)  # fmt: skip


def test_a_redispatch_after_a_refusal_keeps_the_referral_date() -> None:
    """Referred 1 Oct, round table 15 Oct, dispatched to abrusco 22 Oct (refused 29 Oct), again to tigo 5 Nov, started
    19 Nov: 49 days end to end (not 14 from the second dispatch), 14 to the round table, 7 from it to the first
    dispatch, 14 from tigo's dispatch to its start; the refused trajectory's clock stopped (no wait)."""
    assert by_segment(REDISPATCHED) == {
        "referral_to_start": (False, 49, "tigo"), "referral_to_round_table": (False, 14, "tigo"),
        "round_table_to_dispatch": (False, 7, "tigo"), "d2s:T1b": (False, 14, "tigo"),
    }  # fmt: skip
    assert state_of(REDISPATCHED) == "started"
    assert [(s["step"], s["on"]) for s in steps(REDISPATCHED)] == [
        ("received", D("2019-10-01")), ("triage", D("2019-10-03")), ("round_table", D("2019-10-15")),
        ("dispatched", D("2019-10-22")), ("started", D("2019-11-19")), ("not_started", D("2019-10-29"))]  # fmt: skip


def test_before_the_second_dispatch_the_referral_waits_again_from_its_referral_day() -> None:
    """On 1 Nov (refused 29 Oct, not yet dispatched again): the end-to-end clock is open, 31 days old, attributed to
    no provider; the referral awaits a new dispatch."""
    assert by_segment(REDISPATCHED, D("2019-11-01")) == {
        "referral_to_start": (True, 31, ""), "referral_to_round_table": (False, 14, ""),
        "round_table_to_dispatch": (False, 7, "")}  # fmt: skip
    from services.warehouse.waiting_clocks import known_on

    then = known_on(REDISPATCHED, D("2019-11-01"))
    assert then is not None and state_of(then) == "awaiting_redispatch"


def test_a_refusal_on_the_pupils_side_advice_or_withdrawal_stops_the_clock_without_a_start() -> None:
    pupil_refused = ReferralFacts("R8", "regular", D("2020-02-03"), trajectories=(
        TrajectoryFacts("T8", "abrusco", "individual", "regular", D("2020-02-10"), not_started_on=D("2020-02-17"),
                        not_started_reason="pupil_unwilling"),))  # fmt: skip
    assert waits(pupil_refused, AS_OF) == [] and state_of(pupil_refused) == "not_started"
    advised = ReferralFacts("R6", "regular", D("2019-12-02"), advised_on=D("2019-12-16"))
    assert waits(advised, AS_OF) == [] and state_of(advised) == "advice_only"
    assert by_segment(advised, D("2019-12-10")) == {"referral_to_start": (True, 8, "")}  # not advised yet then
    withdrawn = ReferralFacts("R7", "regular", D("2019-12-09"), withdrawn_on=D("2020-01-10"))
    assert waits(withdrawn, AS_OF) == [] and state_of(withdrawn) == "withdrawn"
    no_trajectory = ReferralFacts("RN", "regular", D("2019-12-09"), round_table_held_on=D("2019-12-20"),
                                  no_trajectory_on=D("2019-12-20"))  # fmt: skip
    assert by_segment(no_trajectory) == {"referral_to_round_table": (False, 11, "")}
    assert state_of(no_trajectory) == "not_started"


def test_open_waits_age_to_the_day_asked() -> None:
    """A round table planned and not held: open to the round table and end to end, 56 days on 2 March 2020 (referred
    6 January). A dispatched trajectory not started: open from the referral (49) and from its dispatch (42)."""
    planned = ReferralFacts("R4", "regular", D("2020-01-06"), round_table_scheduled_on=D("2020-01-08"),
                            round_table_pending_since=D("2020-01-08"))  # fmt: skip
    assert by_segment(planned) == {"referral_to_start": (True, 56, ""), "referral_to_round_table": (True, 56, "")}
    assert state_of(planned) == "triage"
    dispatched = ReferralFacts("R5", "regular", D("2020-01-13"), trajectories=(
        TrajectoryFacts("T5", "abrusco", "individual", "regular", D("2020-01-20")),))  # fmt: skip
    assert by_segment(dispatched) == {"referral_to_start": (True, 49, "abrusco"), "d2s:T5": (True, 42, "abrusco")}
    assert state_of(dispatched) == "dispatched"
    assert waits(dispatched, D("2020-01-12")) == []  # not referred yet


def test_a_carried_over_referral_is_no_wait() -> None:
    carried = ReferralFacts("RC", "regular", D("2019-09-02"), trajectories=(
        TrajectoryFacts("TC", "abrusco", "individual", "regular", D("2019-09-02"), carried_over=True),))  # fmt: skip
    assert waits(carried, AS_OF) == [] and state_of(carried) == "started"


def test_the_figures_median_p90_shares_and_open_counts() -> None:
    """Completed 14, 36, 49 days: median 36, p90 49 (nearest rank: the 3rd of 3), within 2 weeks 1 of 3, within 8
    weeks 3 of 3. Open 56, 49: median 52.5; over 7 weeks (more than 49 days) 1."""
    facts = [
        REDISPATCHED,
        ReferralFacts("R2", "regular", D("2019-10-07"), trajectories=(
            TrajectoryFacts("T2", "abrusco", "individual", "regular", D("2019-10-14"), started_on=D("2019-10-21")),)),
        ReferralFacts("R3", "regular", D("2019-11-04"), trajectories=(
            TrajectoryFacts("T3", "abrusco", "individual", "regular", D("2019-11-12"), started_on=D("2019-12-10")),)),
        ReferralFacts("R4", "regular", D("2020-01-06"), round_table_pending_since=D("2020-01-08")),
        ReferralFacts("R5", "regular", D("2020-01-13"), trajectories=(
            TrajectoryFacts("T5", "abrusco", "individual", "regular", D("2020-01-20")),)),
    ]  # fmt: skip
    all_waits = [w for f in facts for w in waits(f, AS_OF)]
    rows = summarise(all_waits, over_weeks=7)
    overall = next(r for r in rows if r["grouping"] == "overall" and r["segment"] == "referral_to_start")
    assert (overall["completed"], overall["median_days"], overall["p90_days"]) == (3, 36.0, 49.0)
    assert overall["within_weeks_pct"] == {"2": 33.3, "4": 33.3, "8": 100.0}
    assert (overall["open"], overall["open_median_age_days"], overall["open_over_weeks"]) == (2, 52.5, 1)
    abrusco = next(r for r in rows if r["grouping"] == "provider" and r["provider_id"] == "abrusco"
                   and r["segment"] == "referral_to_start")  # fmt: skip
    assert (abrusco["completed"], abrusco["median_days"], abrusco["open"]) == (2, 25.0, 1)
    assert trend(all_waits, "referral_to_start") == [
        {"provider_id": "abrusco", "month": "2019-10", "completed": 1, "median_days": 14.0},
        {"provider_id": "abrusco", "month": "2019-12", "completed": 1, "median_days": 36.0},
        {"provider_id": "tigo", "month": "2019-11", "completed": 1, "median_days": 49.0}]  # fmt: skip
    assert p90(list(range(1, 11))) == 9.0 and p90(list(range(1, 12))) == 10.0 and p90([]) is None


def test_not_registered_follows_each_columns_type() -> None:
    assert completeness.missing_condition("risk_behaviours", "Array(LowCardinality(String))") == \
        "has(risk_behaviours, 'not_registered')"  # fmt: skip
    assert completeness.missing_condition("birth_year", "Nullable(UInt16)") == "birth_year IS NULL"
    assert completeness.missing_condition("residence_postcode", "LowCardinality(Nullable(String))") == \
        "residence_postcode IS NULL"  # fmt: skip
    assert completeness.missing_condition("gender", "LowCardinality(String)") == \
        "gender IN ('unknown', 'not_registered', '')"  # fmt: skip
    assert set(completeness.report_fields()) == set(completeness.REPORT_FIELDS)  # every field has its column
    assert "level = 'secondary' AND has(school_situation, 'not_registered')" in completeness.missing_fields_sql()


def test_a_trajectory_given_up_before_dispatch_stops_the_clock_only_when_none_waits() -> None:
    """Two trajectories agreed at a round table held 20 Dec: one not started before any dispatch (6 Jan), the other
    dispatched 8 Jan and waiting: the referral still waits (92 days on 2 March from 1 Dec); alone, the give-up ends
    it."""
    given_up = ReferralFacts("RG", "regular", D("2019-12-01"), round_table_held_on=D("2019-12-20"),
                             no_trajectory_on=D("2020-01-06"))  # fmt: skip
    assert by_segment(given_up) == {"referral_to_round_table": (False, 19, "")} and state_of(given_up) == "not_started"
    other = TrajectoryFacts("TG2", "abrusco", "individual", "regular", D("2020-01-08"))
    both = ReferralFacts("RG", "regular", D("2019-12-01"), round_table_held_on=D("2019-12-20"),
                         no_trajectory_on=D("2020-01-06"), trajectories=(other,))  # fmt: skip
    assert by_segment(both)["referral_to_start"] == (True, 92, "abrusco") and state_of(both) == "dispatched"
