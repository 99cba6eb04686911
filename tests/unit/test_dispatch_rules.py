"""The dispatch rules as pure functions (services/dispatch): the catalogue as it held on a day, each rule's verdict
and facts, the rule set's configuration, and the report's scenarios: Tigo 12 -> 9 places and out of the desk's reach
on 1 January 2020; the corona offer split between Groep INTRO and Abrusco by priority and capacity; day-care farms
refusing pupils under 10; class actions balanced between Abrusco and Groep INTRO, or to the provider the school names;
no class actions after Easter."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from services.dispatch.catalogue import empty_record, fold_fact, module_on, modules_on
from services.dispatch.decide import Decision, decide
from services.dispatch.rules import (
    Occupancy,
    Placement,
    accepting_referrals,
    age_at,
    balance_key_of,
    capacity,
    explain,
    level,
    minimum_age,
    module_offered,
    reachable_via_desk,
)
from services.dispatch.ruleset import load_rule_set, parse_rule_set
from tests.dispatch_catalogue import day, module, provider_fact, report_catalogue, sealed

RULES = load_rule_set()


def catalogue(submissions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for event in sealed(submissions):
        records[event.stream_id] = fold_fact(records.get(event.stream_id) or empty_record(event.stream_id), event)
    return records


REPORT = catalogue(report_catalogue())


def pupil(offer_type: str = "regular", level: str = "primary", age: int | None = 8, trajectory: str = "T-1",
          group_module: str | None = None, named: str | None = None) -> Placement:  # fmt: skip
    return Placement(trajectory, f"R-{trajectory}", offer_type, level, age, date(2019, 9, 20), group_module, named)


def run(placement: Placement, on: str, occupancy: dict[str, Occupancy] | None = None,
        counts: dict[str, int] | None = None, records: dict[str, dict[str, Any]] = REPORT) -> Decision:  # fmt: skip
    offer = RULES.offer_for(placement.offer_type, placement.level, placement.group_module)
    assert offer is not None
    candidates = modules_on(records.values(), day(on), offer.modules.fit)
    return decide(placement, offer, candidates, occupancy or {}, counts or {}, day(on))


def verdicts(decision: Decision, rule: str) -> dict[str, tuple[str, dict[str, Any]]]:
    return {f"{v.provider_id}|{v.module_id}": (v.verdict, dict(v.facts)) for v in decision.trace if v.rule == rule}


def proposed(decision: Decision) -> str | None:
    return None if decision.chosen is None else decision.chosen.place


# -- the catalogue on a day --------------------------------------------------------------------------------------
def test_the_catalogue_answers_as_it_held_on_the_day() -> None:
    tigo = REPORT["tigo"]
    december, january = module_on(tigo, "therapeutic-day-care", day("2019-12-31")), module_on(
        tigo, "therapeutic-day-care", day("2020-01-01"))  # fmt: skip
    assert (december.capacity, december.reachable) == (12, True)
    assert (january.capacity, january.reachable, january.reachable_from) == (9, False, day("2020-01-01"))
    assert module_on(REPORT["groep-intro"], "corona", day("2020-04-19")).offered is False
    assert module_on(REPORT["groep-intro"], "corona", day("2020-04-20")).offered is True
    closed = module_on(REPORT["abrusco"], "class-action", day("2020-05-04"))
    assert (closed.accepting, closed.accepting_until) == (False, day("2020-08-31"))
    assert module_on(REPORT["abrusco"], "class-action", day("2020-09-01")).accepting is True  # the window ended


def test_a_fact_folded_twice_changes_nothing_and_a_withdrawal_ends_the_offer() -> None:
    facts = [*module("tito", "autism", "autism_support", ["secondary"], 3),
             provider_fact("ModuleWithdrawn", "tito", "2020-02-01", module_id="autism")]  # fmt: skip
    once, twice = catalogue(facts), catalogue(facts + facts)
    assert once == twice
    withdrawn = module_on(once["tito"], "autism", day("2020-02-01"))
    assert (withdrawn.offered, withdrawn.withdrawn_from, withdrawn.kind) == (False, day("2020-02-01"), "autism_support")
    assert module_on(once["tito"], "autism", day("2020-01-31")).offered is True


def test_a_modules_own_fact_beats_the_providers_from_the_same_day_and_a_later_one_beats_both() -> None:
    records = catalogue([
        *module("abrusco", "individual", "individual", ["secondary"], 13),
        provider_fact("ProviderReachabilitySet", "abrusco", "2019-10-01", reachable_via_desk=False),
        provider_fact("ProviderReachabilitySet", "abrusco", "2019-10-01", module_id="individual",
                      reachable_via_desk=True),
        provider_fact("ProviderReachabilitySet", "abrusco", "2019-11-01", reachable_via_desk=False),
    ])  # fmt: skip
    assert module_on(records["abrusco"], "individual", day("2019-10-15")).reachable is True
    assert module_on(records["abrusco"], "individual", day("2019-11-15")).reachable is False


# -- each rule ---------------------------------------------------------------------------------------------------
def test_each_eligibility_rule_gives_its_verdict_with_the_facts_it_read() -> None:
    farm = module_on(REPORT["huppeldepup"], "day-care", day("2019-10-01"))
    nine, ten = pupil(age=9), pupil(age=10)
    assert (minimum_age(farm, nine, day("2019-10-01")).verdict, minimum_age(farm, ten, day("2019-10-01")).verdict) == (
        "excluded", "passed")  # fmt: skip
    assert minimum_age(farm, nine, day("2019-10-01")).facts == {"minimum_age": 10, "pupil_age": 9}
    assert level(farm, pupil(level="secondary"), day("2019-10-01")).verdict == "passed"
    individual = module_on(REPORT["abrusco"], "individual", day("2019-10-01"))
    assert level(individual, nine, day("2019-10-01")).facts == {"level": "primary", "levels": ("secondary",)}
    assert level(individual, nine, day("2019-10-01")).verdict == "excluded"
    corona = module_on(REPORT["abrusco"], "corona", day("2020-04-01"))
    assert module_offered(corona, nine, day("2020-04-01")).verdict == "excluded"
    closed = module_on(REPORT["abrusco"], "class-action", day("2020-05-04"))
    assert accepting_referrals(closed, nine, day("2020-05-04")).facts == {
        "accepting": False, "valid_from": "2020-04-13", "valid_until": "2020-08-31"}  # fmt: skip
    tigo = module_on(REPORT["tigo"], "therapeutic-day-care", day("2020-01-06"))
    assert reachable_via_desk(tigo, nine, day("2020-01-06")).verdict == "excluded"


def test_capacity_counts_dispatched_and_proposed_places() -> None:
    tigo = module_on(REPORT["tigo"], "therapeutic-day-care", day("2020-01-06"))
    assert capacity(tigo, Occupancy(8, 0)).verdict == "has_room"
    full = capacity(tigo, Occupancy(8, 1))
    assert (full.verdict, full.facts) == ("full", {"capacity": 9, "occupied": 8, "proposed": 1})
    unknown = catalogue(module("x", "m", "individual", ["secondary"], 1)[:1])  # offered, no capacity set
    assert capacity(module_on(unknown["x"], "m", day("2019-10-01")), Occupancy(50, 0)).verdict == "has_room"


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [((2010, 4), "2019-10-01", 9), ((2010, 10), "2019-10-01", 9), ((2010, 11), "2019-10-01", 8),
     ((2009, 1), "2019-01-01", 10)],
)  # fmt: skip
def test_age_at_referral_from_birth_year_and_month(born: tuple[int, int], on: str, age: int) -> None:
    assert age_at(*born, day(on)) == age


# -- the rule set ------------------------------------------------------------------------------------------------
def test_the_rule_set_is_configuration_with_a_version() -> None:
    assert RULES.version == "dispatch-rules-v1"
    corona = RULES.offer_for("corona", "primary")
    assert corona is not None and corona.priority == ("groep-intro", "abrusco") and corona.auto_confirm
    assert RULES.offer_for("regular", "secondary").placed_on == "round_table"  # type: ignore[union-attr]
    assert RULES.offer_for("regular", "primary", "class_action").name == "class-action"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("order: [balance, fairness]", "'priority', 'balance' or 'kind_order'"),
        ("order: [priority]", "a priority list goes with the ranking rule priority"),
        ("modules: {kinds: [magic]}", "not a module_kind code; allowed values: individual"),
        ("placed_on: tomorrow", "'round_table' or 'referral'"),
    ],
)
def test_a_bad_rule_set_is_refused_naming_what_is_allowed(change: str, match: str) -> None:
    key = change.split(":")[0]
    base = {"order": "order: [balance]", "modules": "modules: {kinds: [individual]}",
            "placed_on": "placed_on: referral"}  # fmt: skip
    base[key] = change
    text = "version: test-1\noffers:\n  - name: x\n    match: {offer_type: regular}\n" + "".join(
        f"    {line}\n" for line in base.values())  # fmt: skip
    with pytest.raises(ValidationError, match=match):
        parse_rule_set(text)


# -- the report's scenarios --------------------------------------------------------------------------------------
def test_tigo_until_new_year_then_out_of_the_desks_reach() -> None:
    december = run(pupil(age=8), "2019-12-16", {"tigo|therapeutic-day-care": Occupancy(9, 0)})
    assert proposed(december) == "tigo|therapeutic-day-care"  # 12 places, 9 taken: room, and the first kind
    january = run(pupil(age=8), "2020-01-06", {"tigo|therapeutic-day-care": Occupancy(9, 0)})
    assert verdicts(january, "reachable_via_desk")["tigo|therapeutic-day-care"] == (
        "excluded", {"reachable_via_desk": False, "valid_from": "2020-01-01"})  # fmt: skip
    assert "tigo|therapeutic-day-care" not in verdicts(january, "capacity")
    assert proposed(january) == "frambozenhof|day-care"  # the farms from age 10 are out for an 8-year-old
    # Even if Tigo were still reachable: 9 places from 1 January, 9 taken: full.
    reachable = catalogue(report_catalogue()[:3])  # Tigo's module and both capacities
    full = run(pupil(age=8), "2020-01-06", {"tigo|therapeutic-day-care": Occupancy(9, 0)}, records=reachable)
    assert (full.outcome, verdicts(full, "capacity")["tigo|therapeutic-day-care"]) == (
        "waiting", ("full", {"capacity": 9, "occupied": 9, "proposed": 0}))  # fmt: skip


def test_day_care_farms_refuse_pupils_under_ten() -> None:
    nine = run(pupil(age=9), "2020-02-03", {"frambozenhof|day-care": Occupancy(3, 0)})
    ages = verdicts(nine, "minimum_age")
    assert ages["huppeldepup|day-care"] == ("excluded", {"minimum_age": 10, "pupil_age": 9})
    assert ages["joert|day-care"][0] == "excluded" and ages["frambozenhof|day-care"][0] == "passed"
    assert nine.outcome == "waiting" and nine.places == ("frambozenhof|day-care",)  # the only farm for a 9-year-old
    excluded = next(v for v in nine.trace if v.rule == "minimum_age" and v.provider_id == "huppeldepup")
    assert explain(excluded) == "huppeldepup/day-care: minimum age 10: pupil is 9 -> excluded"
    ten = run(pupil(age=10), "2020-02-03", {"frambozenhof|day-care": Occupancy(3, 0)})
    assert proposed(ten) in ("huppeldepup|day-care", "joert|day-care")


def test_the_corona_offer_goes_to_groep_intro_first_then_abrusco_when_intro_is_full() -> None:
    load = {"groep-intro|corona": Occupancy(), "abrusco|corona": Occupancy()}
    chosen = []
    for n in range(6):
        decision = run(pupil("corona", "primary", age=11, trajectory=f"T-{n}"), "2020-05-11", load)
        chosen.append(proposed(decision))
        if decision.chosen is not None:
            current = load[decision.chosen.place]
            load[decision.chosen.place] = Occupancy(current.occupied, current.proposed + 1)
    assert chosen == ["groep-intro|corona"] * 3 + ["abrusco|corona"] * 2 + [None]
    assert decision.outcome == "waiting" and decision.places == ("groep-intro|corona", "abrusco|corona")
    priority = verdicts(decision, "priority")
    assert priority["groep-intro|corona"] == ("preferred", {"position": 1, "priority": ("groep-intro", "abrusco")})
    assert priority["abrusco|corona"][0] == "not_preferred"
    before = run(pupil("corona", "primary", age=11), "2020-04-06")  # the offer opened on 20 April
    assert before.outcome == "blocked"


def test_class_actions_go_to_the_provider_with_fewer_so_far_unless_the_school_names_one() -> None:
    counts = {balance_key_of("abrusco", "class_action"): 11, balance_key_of("groep-intro", "class_action"): 7}
    group = pupil("regular", "secondary", age=None, group_module="class_action")
    balanced = run(group, "2019-11-04", counts=counts)
    assert proposed(balanced) == "groep-intro|class-action"
    balance = verdicts(balanced, "balance")
    assert balance["groep-intro|class-action"] == (
        "preferred", {"so_far_this_year": 7, "module_kind": "class_action", "fewest": 7})  # fmt: skip
    assert balance["abrusco|class-action"][0] == "not_preferred"
    named = run(pupil("regular", "secondary", None, group_module="class_action", named="abrusco"), "2019-11-04",
                counts=counts)  # fmt: skip
    assert proposed(named) == "abrusco|class-action"
    assert verdicts(named, "named_provider")["groep-intro|class-action"][0] == "excluded"
    full = run(pupil("regular", "secondary", None, group_module="class_action", named="abrusco"), "2019-11-04",
               {"abrusco|class-action": Occupancy(10, 0)}, counts)  # fmt: skip
    assert (full.outcome, full.places) == ("waiting", ("abrusco|class-action",))  # waits for the one it asked for
    # Groep INTRO does no class actions in primary: a primary school naming it gets the balance among the others.
    primary = run(pupil("regular", "primary", None, group_module="class_action", named="groep-intro"), "2019-11-04")
    assert proposed(primary) == "abrusco|class-action"
    assert verdicts(primary, "named_provider")["None|None"] == (
        "not_preferred", {"named_provider": "groep-intro", "can_take": False})  # fmt: skip


def test_no_class_actions_after_easter() -> None:
    after = run(pupil("regular", "secondary", None, group_module="class_action"), "2020-04-20")
    assert after.outcome == "blocked"
    assert {v for v, _ in verdicts(after, "accepting_referrals").values()} == {"excluded"}
    assert after.trace[-1].rule == "decision" and after.trace[-1].verdict == "no_candidate"


def test_a_decision_is_deterministic_and_its_trace_complete() -> None:
    first = run(pupil(age=10), "2020-02-03")
    assert first == run(pupil(age=10), "2020-02-03")
    rules = {v.rule for v in first.trace}
    assert {"candidates", "module_offered", "level", "minimum_age", "accepting_referrals", "reachable_via_desk",
            "kind_order", "balance", "capacity", "decision"} <= rules  # fmt: skip
    offered = [v for v in first.trace if v.rule == "module_offered"]
    # Every module of a fitting kind went through every rule: Tigo, three farms, and the two individual NAFT modules
    # (secondary only, so excluded by level).
    assert len(offered) == 6
    assert {k for k, (v, _) in verdicts(first, "level").items() if v == "excluded"} == {
        "abrusco|individual", "groep-intro|individual"}  # fmt: skip
