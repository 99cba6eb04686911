"""Scopes enforced in the data layer (real chDB): a CLB's statistics, ad hoc answers and histories read its own rows
only, whatever it asks. Property: every statistic R01-R59 (now and as of a past day, alone and in a whole report) for
a CLB's scope on the shared store equals the desk's statistic on a store that holds only that CLB's events."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from core.auth import EVERYTHING, DataScope
from services.warehouse import queries
from services.warehouse.statistics import engine
from services.warehouse.statistics.adhoc import AdhocQuestion
from services.warehouse.statistics.adhoc_answer import answer
from services.warehouse.statistics.registry import STATISTICS
from tests.stats_history import History, history, load
from tests.stats_history_events import group, providers

YEAR = "2019-2020"
CLB1, CLB2 = DataScope(referrers=frozenset({"clb-1"})), DataScope(referrers=frozenset({"clb-2"}))


def other_clb(h: History) -> None:
    """clb-2's referrals (one withdrawn as its outcome, one with a trajectory at abrusco) and group referral, in
    2019-2020."""
    mainstream = {"education_form": "primary_mainstream", "school_location": "brussels", "residential_setting": "none"}
    h.referral("RC1", "2019-10-01", "C1", "primary", **mainstream, referrer_id="clb-2", grade="grade_2",
               gender="girl", birth_year=2011, school_delay="none")  # fmt: skip
    h.referral("RC2", "2019-11-04", "C2", "secondary", referrer_id="clb-2", education_form="secondary_bso",
               grade="grade_3", gender="boy", birth_year=2005, school_location="brussels",
               discipline="none")  # fmt: skip
    h.referral("RC3", "2020-01-06", "C3", "primary", **mainstream, referrer_id="clb-2", grade="grade_5",
               gender="boy", birth_year=2009)  # fmt: skip
    h.add("ReferralWithdrawn", "w:RC3", "2020-01-20", {"referral_id": "RC3", "reason": "no_longer_needed"})
    h.trajectory("RC2", "TC2", "2019-11-18", "abrusco", "individual")
    h.then("TrajectoryStarted", "RC2", "TC2", "2019-12-02", half_days_per_week=2)
    h.groups("GC1", "2019-12-10", group("gc1a", "primary", "primary_mainstream", "grade_6", "class_group", 18,
                                        "class_action", school="school-c"), referrer_id="clb-2")  # fmt: skip
    h.group_event("GroupTrajectoryDispatched", "GC1", "gc1a", "2019-12-16", provider_id="abrusco",
                  module="class_action")  # fmt: skip


def _events(*parts: Any) -> list[bytes]:
    h = History()
    for part in parts:
        part(h)
    return h.events


@pytest.fixture(scope="module")
def stores(clickhouse: Any) -> dict[str, str]:
    """shared: both CLBs; clb1: the known history alone (all of it clb-1's); clb2: clb-2's events (and providers)."""
    names = {k: f"scope_{k}_{uuid.uuid4().hex[:8]}" for k in ("shared", "clb1", "clb2")}
    load(clickhouse, names["shared"], history() + _events(other_clb))
    load(clickhouse, names["clb1"], history())
    load(clickhouse, names["clb2"], _events(providers, other_clb))
    return names


def _figures(result: Any) -> dict[str, Any]:
    return result.model_dump(exclude={"population"})  # the population text names the scope


@pytest.mark.parametrize("as_of", [None])
@pytest.mark.parametrize(("scope", "alone"), [(CLB1, "clb1"), (CLB2, "clb2")])
def test_every_statistic_of_a_clb_equals_the_desks_on_its_own_events(
    clickhouse: Any, stores: dict[str, str], scope: DataScope, alone: str, as_of: date | None
) -> None:
    """Each statistic alone; as known on a past day, the whole report below (the report equals the statistics alone,
    test_statistics_history; a single as-of statistic folds the logs again, twenty times slower)."""
    for code in STATISTICS:
        scoped = engine.statistic(clickhouse, stores["shared"], code, YEAR, engine.Question(as_of=as_of, scope=scope))
        own = engine.statistic(clickhouse, stores[alone], code, YEAR, engine.Question(as_of=as_of))
        assert _figures(scoped) == _figures(own), code
        assert scoped.population.endswith(f"enkel verwijzer(s) {next(iter(scope.referrers or ()))}"), code
    everything = engine.statistic(clickhouse, stores["shared"], "R01", YEAR, engine.Question(as_of=as_of))
    clb2 = engine.statistic(clickhouse, stores["clb2"], "R01", YEAR, engine.Question(as_of=as_of))
    assert clb2.total and everything.total and everything.total > clb2.total  # the stores differ: the test can fail


@pytest.mark.parametrize("as_of", [None, date(2020, 3, 31)])
@pytest.mark.parametrize(("scope", "alone"), [(CLB1, "clb1"), (CLB2, "clb2")])
def test_a_whole_report_for_a_clb_equals_the_desks_on_its_own_events(
    clickhouse: Any, stores: dict[str, str], scope: DataScope, alone: str, as_of: date | None
) -> None:
    scoped = engine.report(clickhouse, stores["shared"], YEAR, engine.Question(scope=scope, as_of=as_of))
    own = engine.report(clickhouse, stores[alone], YEAR, engine.Question(as_of=as_of))
    pairs = [(a, b) for sa, sb in zip(scoped.sections, own.sections, strict=True)
             for a, b in zip(sa.statistics, sb.statistics, strict=True)]  # fmt: skip
    assert len(pairs) == len(STATISTICS)
    for a, b in pairs:
        assert _figures(a) == _figures(b), a.statistic
        assert a.population.endswith(f"enkel verwijzer(s) {next(iter(scope.referrers or ()))}"), a.statistic
    assert sum(len(a.rows) for a, _ in pairs) > 20  # figures, not empty tables on both sides


def test_a_clbs_ad_hoc_question_reads_its_own_referrals_whatever_it_filters(
    clickhouse: Any, stores: dict[str, str]
) -> None:
    question = AdhocQuestion(measures=["referrals"], dimensions=["referrer_id"], years=[YEAR])
    desk = answer(clickhouse, stores["shared"], question, "desk", 5, EVERYTHING)
    # RC3 was withdrawn as its outcome: still a referral received (rule 1 of the report)
    assert {r["referrer_id"]: r["referrals"] for r in desk.rows} == {"clb-1": 11, "clb-2": 3}
    clb2 = answer(clickhouse, stores["shared"], question, "desk", 5, CLB2)
    assert [(r["referrer_id"], r["referrals"]) for r in clb2.rows] == [("clb-2", 3)]
    asks_for_another = AdhocQuestion(measures=["referrals"], years=[YEAR], filters={"referrer_id": ["clb-1"]})
    assert answer(clickhouse, stores["shared"], asks_for_another, "desk", 5, CLB2).rows == [{"referrals": 0}]
    groups = AdhocQuestion(measures=["groups"], dimensions=["school_year"], years=[YEAR])
    assert answer(clickhouse, stores["shared"], groups, "desk", 5, CLB2).rows[0]["groups"] == 1
    trajectories = AdhocQuestion(measures=["trajectories"], dimensions=["provider"], years=[YEAR])
    provider = DataScope(providers=frozenset({"abrusco"}))
    assert {r["provider"] for r in answer(clickhouse, stores["shared"], trajectories, "desk", 5, provider).rows} \
        == {"abrusco"}


def test_a_history_is_read_within_the_scope_only(clickhouse: Any, stores: dict[str, str]) -> None:
    db = stores["shared"]

    def types(stream: str, scope: DataScope) -> list[str]:
        return [e["event_type"] for e in queries.stream_events(clickhouse, db, stream, scope)]

    assert types("RC2", CLB2) == types("RC2", EVERYTHING) == ["ReferralSubmitted", "TrajectoryDispatched",
                                                               "TrajectoryStarted"]  # fmt: skip
    assert types("RC2", CLB1) == []  # another CLB's referral reads like an unknown one
    assert types("RC3", CLB2) == ["ReferralSubmitted", "ReferralWithdrawn"]  # withdrawn: still its own history
    assert types("GC1", CLB2)[0] == "GroupReferralSubmitted" and types("GC1", CLB1) == []
    assert types("RC2", DataScope(providers=frozenset({"abrusco"}))) == []  # providers read no referral history
    assert types("RC2", DataScope(referrers=frozenset())) == []
    assert queries.referral_in_scope(clickhouse, db, "RC2", CLB2)
    assert not queries.referral_in_scope(clickhouse, db, "RC2", CLB1)


def test_the_referrer_as_amended_owns_the_referral(clickhouse: Any) -> None:
    db = f"scope_amended_{uuid.uuid4().hex[:8]}"

    def moved(h: History) -> None:
        h.referral("RM1", "2019-10-01", "M1", "secondary", referrer_id="clb-2", education_form="secondary_bso",
                   grade="grade_3", gender="boy", birth_year=2005)  # fmt: skip
        h.add("ReferralAmended", "a:RM1", "2019-10-03", {"referral_id": "RM1", "changes": {"referrer_id": "clb-1"}})

    load(clickhouse, db, _events(moved))
    assert len(queries.stream_events(clickhouse, db, "RM1", CLB1)) == 2
    assert queries.stream_events(clickhouse, db, "RM1", CLB2) == []
    r31 = {scope: engine.statistic(clickhouse, db, "R31", YEAR, engine.Question(scope=scope)).total
           for scope in (CLB1, CLB2)}  # fmt: skip
    assert r31 == {CLB1: 1, CLB2: 0}
