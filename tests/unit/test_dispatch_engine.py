"""The dispatch service's state machine (services/dispatch/engine.py) on plain tables: which events a history of the
log causes, that the ids are derived from the history (the same again on replay), that waiting lists keep the referral
date and move when a place frees, and that the desk's decisions settle proposals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.dispatch import RuleVerdict
from schemas.envelope import Envelope
from services.dispatch.engine import Engine
from services.dispatch.rules import explain
from services.dispatch.ruleset import load_rule_set
from services.dispatch.store import commit_all, new_tables, overlays
from tests.dispatch_catalogue import (
    decision,
    ended,
    group_decision,
    group_referral,
    module,
    provider_fact,
    referral,
    report_catalogue,
    round_table,
    sealed,
    submission,
    withdrawn,
)

CLOCK = datetime(2020, 6, 30, 12, 0, tzinfo=UTC)
NAFT = [*module("abrusco", "individual", "individual", ["secondary"], 1),
        *module("groep-intro", "individual", "individual", ["secondary"], 1)]  # fmt: skip


class Desk:
    """A dispatch engine fed event by event, as the worker feeds it (each event's writes committed after it)."""

    def __init__(self) -> None:
        self.tables = new_tables()
        self.log: list[Envelope] = []

    def feed(self, *submissions: dict[str, Any]) -> list[Envelope]:
        out: list[Envelope] = []
        for event in sealed(list(submissions)):
            out.extend(self.apply(event))
        return out

    def apply(self, event: Envelope) -> list[Envelope]:
        staged = overlays(self.tables)
        outputs = [o.event for o in Engine(staged, load_rule_set(), lambda: CLOCK).apply(event)]
        commit_all(staged)
        self.log.extend(outputs)
        return outputs


def kinds(events: list[Envelope]) -> list[str]:
    return [e.event_type for e in events]


def payload(event: Envelope) -> dict[str, Any]:
    return event.payload.model_dump(mode="json")


def test_a_round_table_gets_a_proposal_with_a_trace_and_the_place_is_held() -> None:
    desk = Desk()
    desk.feed(*NAFT)
    (proposal,) = desk.feed(referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"))
    body = payload(proposal)
    assert proposal.event_type == "DispatchProposed" and proposal.source_system == "dispatch"
    assert (body["provider_id"], body["trigger"], body["rule_set"]) == ("abrusco", "round_table", "dispatch-rules-v1")
    assert (body["decided_on"], body["waiting_since"]) == ("2019-10-08", "2019-10-01")
    assert proposal.stream_id == "R-1" and body["trajectory_id"].startswith("T-")
    assert [v["rule"] for v in body["trace"]][-1] == "decision"
    # The proposal holds abrusco's only place: the next pupil is proposed Groep INTRO.
    (second,) = desk.feed(referral("R-2", "2019-10-02"), round_table("R-2", "2019-10-09"))
    assert payload(second)["provider_id"] == "groep-intro"


def test_full_providers_a_waiting_list_and_a_freed_place_goes_to_the_longest_waiting() -> None:
    desk = Desk()
    desk.feed(*NAFT, referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"),
              referral("R-2", "2019-10-02"), round_table("R-2", "2019-10-08"))  # fmt: skip
    first, second = (payload(e) for e in desk.log)
    desk.feed(decision("R-1", first["trajectory_id"], "abrusco", "individual", "2019-10-09", first["proposal_id"]),
              decision("R-2", second["trajectory_id"], "groep-intro", "individual", "2019-10-09",
                       second["proposal_id"]))  # fmt: skip
    # Both places taken. Two more pupils: the one referred earlier waits longer, whatever the round tables' order.
    joined_late = desk.feed(referral("R-4", "2019-11-04"), round_table("R-4", "2019-11-12"))
    joined_early = desk.feed(referral("R-3", "2019-10-21"), round_table("R-3", "2019-11-14"))
    assert kinds(joined_late) == kinds(joined_early) == ["WaitingListJoined"]
    places = [(p["provider_id"], p["module_id"]) for p in payload(joined_early[0])["places"]]
    assert places == [("abrusco", "individual"), ("groep-intro", "individual")]
    early, late = payload(joined_early[0])["trajectory_id"], payload(joined_late[0])["trajectory_id"]
    assert desk.tables["places"]["abrusco|individual"]["waiting"] == [["2019-10-21", early], ["2019-11-04", late]]
    # Abrusco's trajectory stops: its place goes to R-3 (referred 21 October), who leaves both lists.
    freed = desk.feed(ended("TrajectoryStoppedEarly", "R-1", first["trajectory_id"], "2019-12-02"))
    assert kinds(freed) == ["WaitingListLeft", "DispatchProposed"]
    left, proposal = (payload(e) for e in freed)
    assert (left["referral_id"], left["reason"], left["proposal_id"]) == ("R-3", "proposed", proposal["proposal_id"])
    assert len(left["places"]) == 2 and left["waiting_since"] == "2019-10-21"
    assert (proposal["referral_id"], proposal["provider_id"], proposal["trigger"]) == ("R-3", "abrusco", "place_freed")
    assert proposal["waiting_since"] == "2019-10-21"  # the clock never restarts
    assert desk.tables["places"]["groep-intro|individual"]["waiting"] == [
        ["2019-11-04", payload(joined_late[0])["trajectory_id"]]]  # fmt: skip


def test_the_same_history_again_gives_the_same_ids_and_a_duplicate_causes_nothing() -> None:
    history = sealed([*NAFT, referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"),
                      referral("R-2", "2019-10-02"), round_table("R-2", "2019-10-08"),
                      referral("R-3", "2019-10-03"), round_table("R-3", "2019-10-08")])  # fmt: skip
    one, two = Desk(), Desk()
    for event in history:
        one.apply(event)
    for event in history:
        two.apply(event)
        assert two.apply(event) == []  # every event twice: the copy changes nothing
    assert [e.event_id for e in one.log] == [e.event_id for e in two.log]
    assert [payload(e) for e in one.log] == [payload(e) for e in two.log]
    assert one.tables == two.tables
    assert kinds(one.log) == ["DispatchProposed", "DispatchProposed", "WaitingListJoined"]
    for output in one.log:  # its own events come back from the log: nothing happens
        assert one.apply(output) == []


def test_the_desk_overriding_a_proposal_frees_the_proposed_place() -> None:
    desk = Desk()
    desk.feed(*NAFT, referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"),
              referral("R-2", "2019-10-02"), round_table("R-2", "2019-10-08"),
              referral("R-3", "2019-10-03"), round_table("R-3", "2019-10-08"))  # fmt: skip
    first = payload(desk.log[0])
    assert first["provider_id"] == "abrusco"
    second = payload(desk.log[1])
    assert (second["referral_id"], second["provider_id"]) == ("R-2", "groep-intro")
    # The desk sends R-1 to Groep INTRO instead, whose one place R-2's proposal held: that proposal is stale and
    # R-2 (referred before R-3) is proposed the place R-1's proposal freed at abrusco; R-3 keeps waiting.
    out = desk.feed(decision("R-1", first["trajectory_id"], "groep-intro", "individual", "2019-10-10",
                             first["proposal_id"], override_reason="the pupil knows the coach there"))  # fmt: skip
    assert kinds(out) == ["DispatchProposed"]
    fresh = payload(out[0])
    assert (fresh["referral_id"], fresh["provider_id"], fresh["trigger"], fresh["supersedes"]) == (
        "R-2", "abrusco", "proposal_stale", second["proposal_id"])  # fmt: skip
    assert fresh["waiting_since"] == "2019-10-02"
    assert desk.tables["placements"][first["trajectory_id"]]["status"] == "placed"
    third = payload(desk.log[2])["trajectory_id"]
    for place, occupied, proposed in (("groep-intro|individual", [first["trajectory_id"]], []),
                                      ("abrusco|individual", [], [fresh["trajectory_id"]])):  # fmt: skip
        row = desk.tables["places"][place]
        assert (row["occupied"], row["proposed"], [tid for _, tid in row["waiting"]]) == (occupied, proposed, [third])
    # R-1 stops: R-3, waiting at both, is proposed the place at groep-intro.
    out = desk.feed(ended("TrajectoryStoppedEarly", "R-1", first["trajectory_id"], "2019-11-04"))
    assert kinds(out) == ["WaitingListLeft", "DispatchProposed"]
    assert (payload(out[1])["referral_id"], payload(out[1])["provider_id"]) == ("R-3", "groep-intro")


def test_a_dispatch_without_a_proposal_answers_the_referrals_open_placement() -> None:
    desk = Desk()
    desk.feed(*NAFT, referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"))
    proposal = payload(desk.log[0])
    desk.feed(decision("R-1", "T-LARS-77", "groep-intro", "individual", "2019-10-09", None))
    assert desk.tables["placements"][proposal["trajectory_id"]]["status"] == "placed"
    assert desk.tables["places"]["abrusco|individual"]["proposed"] == []
    assert desk.tables["places"]["groep-intro|individual"]["occupied"] == ["T-LARS-77"]


def test_a_withdrawn_referral_leaves_its_waiting_lists() -> None:
    desk = Desk()
    desk.feed(*NAFT[:2], referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"),
              referral("R-2", "2019-10-02"), round_table("R-2", "2019-10-08"))  # fmt: skip
    assert kinds(desk.log) == ["DispatchProposed", "WaitingListJoined"]
    out = desk.feed(withdrawn("R-2", "2019-10-20"))
    assert kinds(out) == ["WaitingListLeft"] and payload(out[0])["reason"] == "withdrawn"
    assert desk.tables["places"]["abrusco|individual"]["waiting"] == []
    assert desk.feed(withdrawn("R-2", "2019-10-20")) == []


def test_the_corona_offer_is_dispatched_the_same_day_without_the_desk() -> None:
    desk = Desk()
    desk.feed(*report_catalogue(corona_intro=1, corona_abrusco=1))
    out = desk.feed(referral("C-1", "2020-05-04", "corona", "primary", (2009, 5)),
                    referral("C-2", "2020-05-04", "corona", "primary", (2009, 5)),
                    referral("C-3", "2020-05-04", "corona", "primary", (2009, 5)))  # fmt: skip
    assert kinds(out) == ["DispatchProposed", "TrajectoryDispatched"] * 2 + ["WaitingListJoined"]
    dispatched = [e for e in out if e.event_type == "TrajectoryDispatched"]
    assert [(e.schema_version, payload(e)["provider_id"], payload(e)["overridden"]) for e in dispatched] == [
        (2, "groep-intro", False), (2, "abrusco", False)]  # fmt: skip
    assert payload(dispatched[0])["proposal_id"] == payload(out[0])["proposal_id"]
    assert all(e.occurred_at.date().isoformat() == "2020-05-04" for e in out)


def test_tigo_after_new_year_is_not_proposed_and_no_fitting_provider_blocks() -> None:
    desk = Desk()
    desk.feed(*report_catalogue())
    (december,) = desk.feed(referral("P-1", "2019-12-09", level="primary", born=(2011, 2)))
    assert payload(december)["provider_id"] == "tigo"
    (january,) = desk.feed(referral("P-2", "2020-01-13", level="primary", born=(2011, 2)))
    assert payload(january)["provider_id"] == "frambozenhof"
    tigo_only = Desk()
    tigo_only.feed(*report_catalogue()[:3])
    (blocked,) = tigo_only.feed(referral("S-1", "2020-01-13"), round_table("S-1", "2020-01-20"))
    assert blocked.event_type == "DispatchBlocked"
    assert [(v["rule"], v["verdict"]) for v in payload(blocked)["trace"]] == [
        ("candidates", "no_candidate"), ("decision", "no_candidate")]  # fmt: skip
    assert tigo_only.feed(round_table("S-1", "2020-01-20")) == []  # the same round table again: nothing new


def test_a_capacity_cut_makes_the_last_referred_proposal_stale_and_it_waits_with_its_referral_date() -> None:
    desk = Desk()
    desk.feed(*module("abrusco", "individual", "individual", ["secondary"], 2),
              referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"),
              referral("R-2", "2019-10-03"), round_table("R-2", "2019-10-08"))  # fmt: skip
    early, late = (payload(e) for e in desk.log)
    # Capacity 2 -> 1 from 4 November (the fact registered that day): R-2, referred last, loses its place.
    out = desk.feed(provider_fact("ProviderCapacitySet", "abrusco", "2019-11-04", module_id="individual", capacity=1))
    assert kinds(out) == ["WaitingListJoined"]
    joined = payload(out[0])
    assert (joined["referral_id"], joined["trigger"], joined["waiting_since"]) == ("R-2", "proposal_stale",
                                                                                   "2019-10-03")  # fmt: skip
    assert [(v["rule"], v["verdict"], v["facts"].get("capacity")) for v in joined["trace"] if v["rule"] == "capacity"
            ] == [("capacity", "full", 1)]  # fmt: skip
    placements = desk.tables["placements"]
    assert (placements[early["trajectory_id"]]["status"], placements[late["trajectory_id"]]["status"]) == (
        "proposed", "waiting")  # fmt: skip
    assert desk.tables["places"]["abrusco|individual"]["proposed"] == [early["trajectory_id"]]
    # The same fact again changes nothing; the module withdrawn makes the remaining proposal stale (no other
    # provider: blocked).
    assert desk.feed(provider_fact("ProviderCapacitySet", "abrusco", "2019-11-04", module_id="individual",
                                   capacity=1)) == []  # fmt: skip
    out = desk.feed(provider_fact("ModuleWithdrawn", "abrusco", "2019-11-20", module_id="individual"))
    assert [(e.event_type, payload(e)["referral_id"], payload(e)["trigger"]) for e in out] == [
        ("DispatchBlocked", "R-1", "proposal_stale")]  # fmt: skip
    assert desk.tables["places"]["abrusco|individual"]["proposed"] == []


def test_class_actions_are_balanced_unless_the_school_names_a_provider_that_can_take_them() -> None:
    """Report: class actions go to Abrusco or Groep INTRO, "fewer class actions so far this year" first, unless the
    school asks for one of them."""
    desk = Desk()
    desk.feed(*report_catalogue())
    (first,) = desk.feed(group_referral("G-1", "2019-10-07"))
    assert (first.event_type, payload(first)["provider_id"], payload(first)["module_id"]) == (
        "DispatchProposed", "abrusco", "class-action")  # a tie (0 and 0): by provider id  # fmt: skip
    g1 = payload(first)
    desk.feed(group_decision("G-1", "G-1-0", g1["trajectory_id"], "abrusco", "2019-10-08", g1["proposal_id"]))
    (second,) = desk.feed(group_referral("G-2", "2019-10-09"))
    assert payload(second)["provider_id"] == "groep-intro"
    balance = [(v["provider_id"], v["facts"]["so_far_this_year"], v["verdict"]) for v in payload(second)["trace"]
               if v["rule"] == "balance"]  # fmt: skip
    assert balance == [("abrusco", 1, "not_preferred"), ("groep-intro", 0, "preferred")]
    # The school names Abrusco: only Abrusco, although it has more class actions so far.
    (named,) = desk.feed(group_referral("G-3", "2019-10-10", preferred="abrusco"))
    assert payload(named)["provider_id"] == "abrusco"
    assert ("named_provider", "groep-intro", "excluded") in [
        (v["rule"], v["provider_id"], v["verdict"]) for v in payload(named)["trace"]]  # fmt: skip
    # A primary-school class: Groep INTRO's class actions are for secondary only, so Abrusco although it is named.
    (primary,) = desk.feed(group_referral("G-4", "2019-10-11", preferred="groep-intro", level="primary"))
    assert payload(primary)["provider_id"] == "abrusco"
    # After Easter neither accepts class actions: blocked.
    (after_easter,) = desk.feed(group_referral("G-5", "2020-04-20"))
    assert after_easter.event_type == "DispatchBlocked"
    # The group tool's own dispatch (version 1, no proposal) settles the group's open placement.
    g2 = payload(second)
    v1 = group_decision("G-2", "G-2-0", "GT-tool-1", "groep-intro", "2019-10-12", None)
    desk.feed({**v1, "schema_version": 1, "payload": {k: v for k, v in v1["payload"].items()
                                                      if k not in ("proposal_id", "overridden")}})  # fmt: skip
    assert desk.tables["placements"][g2["trajectory_id"]]["status"] == "placed"
    assert desk.tables["places"]["groep-intro|class-action"]["occupied"] == ["group:GT-tool-1"]


def test_day_care_farms_refuse_pupils_under_ten() -> None:
    desk = Desk()
    desk.feed(*report_catalogue())
    # A primary pupil of 9 in November 2019 (born March 2010): Tigo first (kind order), then the farms; with Tigo
    # full only Frambozenhof (no minimum age) may take the pupil, Huppeldepup and Joert (10+) are excluded.
    for n in range(12):
        desk.feed(decision(f"T-{n}", f"TT-{n}", "tigo", "therapeutic-day-care", "2019-10-01", None))
    (young,) = desk.feed(referral("P-9", "2019-11-04", level="primary", born=(2010, 3)))
    assert payload(young)["provider_id"] == "frambozenhof"
    ages = {(v["provider_id"], v["verdict"]) for v in payload(young)["trace"] if v["rule"] == "minimum_age"}
    assert {("huppeldepup", "excluded"), ("joert", "excluded"), ("frambozenhof", "passed")} <= ages
    # A pupil of 10 may go to every farm: with Frambozenhof's held places taken, Huppeldepup or Joert.
    for n in range(2):
        desk.feed(decision(f"F-{n}", f"FF-{n}", "frambozenhof", "day-care", "2019-10-01", None))
    (older,) = desk.feed(referral("P-10", "2019-11-05", level="primary", born=(2009, 3)))
    assert payload(older)["provider_id"] in ("huppeldepup", "joert")
    (younger,) = desk.feed(referral("P-9b", "2019-11-06", level="primary", born=(2010, 6)))
    assert younger.event_type == "WaitingListJoined"
    assert [p["provider_id"] for p in payload(younger)["places"]] == ["tigo", "frambozenhof"]


def test_advice_only_or_a_round_table_without_trajectory_closes_the_open_placements() -> None:
    """A primary pupil is placed on referral; when triage ends in advice only (or the round table decides on no
    trajectory) the pupil leaves the waiting lists and a proposal's place frees for the next."""
    desk = Desk()
    desk.feed(*module("frambozenhof", "day-care", "day_care", ["primary"], 1))
    (first,) = desk.feed(referral("P-1", "2019-10-01", level="primary", born=(2010, 3)))
    (waits,) = desk.feed(referral("P-2", "2019-10-02", level="primary", born=(2010, 3)))
    (waits_too,) = desk.feed(referral("P-3", "2019-10-03", level="primary", born=(2010, 3)))
    assert (first.event_type, waits.event_type, waits_too.event_type) == (
        "DispatchProposed", "WaitingListJoined", "WaitingListJoined")  # fmt: skip
    advice = submission("AdviceGiven", {"referral_id": "P-2", "kind": "youth_care"}, "2019-10-10T10:00:00+02:00",
                        "advice:P-2", "lars")  # fmt: skip
    (left,) = desk.feed(advice)
    assert (left.event_type, payload(left)["reason"]) == ("WaitingListLeft", "no_trajectory")
    no_trajectory = {**round_table("P-1", "2019-10-11"), "payload": {
        "referral_id": "P-1", "round_table_id": "RT-P-1", "outcomes": ["decision_not_to_start"]}}  # fmt: skip
    out = desk.feed(no_trajectory)  # P-1's proposal is dropped: its place goes to P-3
    assert [(e.event_type, payload(e)["referral_id"]) for e in out] == [
        ("WaitingListLeft", "P-3"), ("DispatchProposed", "P-3")]  # fmt: skip
    placements = {p["referral_id"]: p["status"] for p in desk.tables["placements"].values()}
    assert placements == {"P-1": "closed", "P-2": "closed", "P-3": "proposed"}


def test_a_farm_outside_brussels_takes_pupils_only_from_the_communes_it_can_be_reached_from() -> None:
    desk = Desk()
    west = ["anderlecht", "outside_brussels"]
    desk.feed(*module("frambozenhof", "day-care", "day_care", ["primary"], 0),  # full all year
              *module("joert", "day-care", "day_care", ["primary"], 5),
              provider_fact("ProviderTravelRegionSet", "joert", municipalities=west))  # fmt: skip
    (uccle,) = desk.feed(referral("P-U", "2019-10-01", level="primary", born=(2008, 3), residence_postcode="1180"))
    assert uccle.event_type == "WaitingListJoined"  # Joert is out of reach, Frambozenhof is full
    assert [p["provider_id"] for p in payload(uccle)["places"]] == ["frambozenhof"]
    (travel,) = [v for v in payload(uccle)["trace"] if v["rule"] == "travel_region" and v["provider_id"] == "joert"]
    assert (travel["verdict"], travel["facts"]["municipality"]) == ("excluded", "uccle")
    assert explain(RuleVerdict.model_validate(travel)) == (
        "joert/day-care: lives in uccle, takes pupils from anderlecht, outside_brussels -> excluded")  # fmt: skip
    (anderlecht,) = desk.feed(referral("P-A", "2019-10-02", level="primary", born=(2008, 3),
                                       residence_postcode="1070"))  # fmt: skip
    assert (anderlecht.event_type, payload(anderlecht)["provider_id"]) == ("DispatchProposed", "joert")
    (unknown,) = desk.feed(referral("P-X", "2019-10-03", level="primary", born=(2008, 3)))  # no postcode given
    assert payload(unknown)["provider_id"] == "joert"


def test_a_trajectory_not_started_before_any_dispatch_releases_its_proposal_and_counts_no_load() -> None:
    """Issue 14: a trajectory agreed at a round table is withdrawn before any dispatch ("Negen leerlingen beslisten
    ondanks consensus op de rondetafel nadien toch het traject niet op te starten"). Its open proposal's place goes to
    the next waiting pupil; a dispatch of it that still comes later occupies no place."""
    desk = Desk()
    desk.feed(*module("abrusco", "individual", "individual", ["secondary"], 1))
    (first,) = desk.feed(referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"))
    (waits,) = desk.feed(referral("R-2", "2019-10-02"), round_table("R-2", "2019-10-09"))
    assert (first.event_type, waits.event_type) == ("DispatchProposed", "WaitingListJoined")
    tid = payload(first)["trajectory_id"]
    out = desk.feed(ended("TrajectoryNotStarted", "R-1", tid, "2019-10-10"))
    assert [(e.event_type, payload(e)["referral_id"]) for e in out] == [
        ("WaitingListLeft", "R-2"), ("DispatchProposed", "R-2")]  # fmt: skip
    assert desk.tables["placements"][tid]["status"] == "closed"
    assert desk.tables["places"]["abrusco|individual"]["proposed"] == [payload(out[1])["trajectory_id"]]
    late = desk.feed(decision("R-1", tid, "abrusco", "individual", "2019-10-11", payload(first)["proposal_id"]))
    assert late == [] and desk.tables["places"]["abrusco|individual"].get("occupied", []) == []
    assert desk.tables["trajectories"][tid]["ended"] is True
