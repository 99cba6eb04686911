"""The report's dispatch scenarios (issue 15) on the real broker: the dispatch worker and the ingest's Kafka way in as
their own processes, the 2019-2020 providers as the desk registered them (tests/dispatch_catalogue.py), and each
decision read back from the log.

- Tigo: capacity 12, then 9 from 1 January 2020 and no longer reachable via the desk.
- The spring-2020 corona offer: Groep INTRO first, then Abrusco, dispatched the same day without the desk; a pupil
  beyond both capacities waits.
- Class actions: balanced between Abrusco and Groep INTRO when the school names no provider, the named one when it
  does.
- Day-care farms refusing pupils under 10.
(A full provider -> waiting list -> a stop frees a place -> the longest-waiting pupil: test_dispatch_worker.py.)
Then the log is read back and replayed: the same proposals and waiting lists; and a changed rule set is evaluated
against it as a what-if report, writing nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import httpx

from core.settings import Settings
from kans.paths import REPO_ROOT
from kans.processes import ServiceProcesses
from services.dispatch.history import read_history
from services.dispatch.ruleset import load_rule_set, parse_rule_set
from services.dispatch.views import waiting_lists
from services.dispatch.whatif import Replay, what_if
from tests.conftest import wait_for
from tests.dispatch_catalogue import group_decision, group_referral, referral, report_catalogue
from tests.integration.test_dispatch_worker import base_url, dispatch_events
from tests.integration.test_dispatch_worker import publish as publish_as_the_ingest


def publish(settings: Settings, *submissions: dict[str, Any]) -> None:
    """Recorded now: the replay orders the log's partitions by it."""
    publish_as_the_ingest(settings, *submissions, recorded_at=datetime.now(UTC))


def about(settings: Settings, referral_id: str, count: int = 1) -> list[dict[str, Any]]:
    """The dispatch service's events about one referral, once there are `count`."""
    return wait_for(lambda: found if len(found := [e for e in dispatch_events(settings)
                                                   if e["payload"]["referral_id"] == referral_id]) >= count else None,
                    timeout_s=60, interval_s=0.2, what=f"the dispatch events about {referral_id}")  # fmt: skip


def verdicts(event: dict[str, Any], rule: str) -> dict[str, str]:
    return {v["provider_id"]: v["verdict"] for v in event["payload"]["trace"] if v["rule"] == rule}


def test_the_reports_dispatch_scenarios(settings: Settings, dispatch_worker: ServiceProcesses) -> None:
    publish(settings, *report_catalogue(corona_intro=1, corona_abrusco=1))
    catalogue = wait_for(lambda: c if len((c := httpx.get(f"{base_url(settings)}/catalogue", params={
        "date": "2020-01-13"}, timeout=10).json())["modules"]) == 10 else None, timeout_s=60, interval_s=0.2,
        what="the 2019-2020 catalogue in the dispatch worker")  # fmt: skip
    tigo = next(m for m in catalogue["modules"] if m["provider_id"] == "tigo")
    assert (tigo["capacity"], tigo["reachable_via_desk"]) == (9, False)

    # Tigo in December (capacity 12, reachable) and in January (9, no longer reachable via the desk).
    publish(settings, referral("P-DEC", "2019-12-09", level="primary", born=(2011, 2)))
    (december,) = about(settings, "P-DEC")
    assert (december["event_type"], december["payload"]["provider_id"]) == ("DispatchProposed", "tigo")
    assert any(v["rule"] == "capacity" and v["facts"]["capacity"] == 12 for v in december["payload"]["trace"])
    publish(settings, referral("P-JAN", "2020-01-13", level="primary", born=(2011, 2)))
    (january,) = about(settings, "P-JAN")
    assert january["payload"]["provider_id"] == "frambozenhof"
    assert verdicts(january, "reachable_via_desk")["tigo"] == "excluded"

    # Day-care farms: a pupil of 9 cannot go to Huppeldepup or Joert (minimum age 10).
    publish(settings, referral("P-NINE", "2020-01-14", level="primary", born=(2010, 6)))
    (nine,) = about(settings, "P-NINE")
    assert nine["payload"]["provider_id"] == "frambozenhof"
    ages = verdicts(nine, "minimum_age")
    assert (ages["huppeldepup"], ages["joert"], ages["frambozenhof"]) == ("excluded", "excluded", "passed")
    assert any(v["rule"] == "minimum_age" and v["facts"] == {"minimum_age": 10, "pupil_age": 9}
               for v in nine["payload"]["trace"])  # fmt: skip

    # The corona offer: priority Groep INTRO, then Abrusco, one place each; dispatched without the desk; the third
    # pupil waits at both.
    corona = []
    for n in range(3):  # one after the other: live and in the replay, the same pupil comes first
        publish(settings, referral(f"C-{n}", "2020-05-04", "corona", "primary", (2009, 5)))
        corona += about(settings, f"C-{n}", 2 if n < 2 else 1)  # proposed and dispatched; the third waits
    kinds = Counter(e["event_type"] for e in corona)
    assert kinds == {"DispatchProposed": 2, "TrajectoryDispatched": 2, "WaitingListJoined": 1}, kinds
    proposed = {e["payload"]["provider_id"]: e for e in corona if e["event_type"] == "DispatchProposed"}
    assert sorted(e["payload"]["provider_id"] for e in corona if e["event_type"] == "TrajectoryDispatched") == [
        "abrusco", "groep-intro"]  # fmt: skip
    # Groep INTRO first: the pupil sent to Abrusco was, because Groep INTRO was full by then.
    assert verdicts(proposed["groep-intro"], "priority") == {"groep-intro": "preferred", "abrusco": "not_preferred"}
    assert verdicts(proposed["abrusco"], "capacity") == {"groep-intro": "full", "abrusco": "has_room"}
    assert all(e["occurred_at"].startswith("2020-05-04") for e in corona)
    (waiting,) = [e for e in corona if e["event_type"] == "WaitingListJoined"]
    assert sorted(p["provider_id"] for p in waiting["payload"]["places"]) == ["abrusco", "groep-intro"]

    # Class actions: the first to Abrusco (a tie, by provider), the next to Groep INTRO (fewer so far this year),
    # and a school that names Abrusco gets Abrusco.
    publish(settings, group_referral("G-1", "2019-10-07"))
    (g1,) = about(settings, "G-1")
    assert (g1["payload"]["provider_id"], g1["payload"]["module_id"]) == ("abrusco", "class-action")
    publish(settings, group_decision("G-1", "G-1-0", g1["payload"]["trajectory_id"], "abrusco", "2019-10-08",
                                     g1["payload"]["proposal_id"]))  # fmt: skip
    wait_for(lambda: httpx.get(f"{base_url(settings)}/placements/{g1['payload']['trajectory_id']}", timeout=10).json()[
        "status"] == "placed", timeout_s=30, what="G-1 placed")  # fmt: skip
    publish(settings, group_referral("G-2", "2019-10-09"))
    (g2,) = about(settings, "G-2")
    assert g2["payload"]["provider_id"] == "groep-intro"
    assert verdicts(g2, "balance") == {"abrusco": "not_preferred", "groep-intro": "preferred"}
    publish(settings, group_referral("G-3", "2019-10-10", preferred="abrusco"))
    (g3,) = about(settings, "G-3")
    assert g3["payload"]["provider_id"] == "abrusco"
    assert verdicts(g3, "named_provider") == {"abrusco": "preferred", "groep-intro": "excluded"}
    ready = httpx.get(f"{base_url(settings)}/ready", timeout=10).json()
    assert ready["ready"] and ready["dead_letters"] == {} and ready["crashed_agents"] == []

    # Replay: the log read back from the broker and run through the rules from the start gives the same proposals
    # (same ids, same rule set) and the same waiting lists as the worker that ran live; nothing is written.
    history = read_history(settings)
    replay = Replay(load_rule_set())
    replayed = [out for event in history.events for out in replay.feed(event)]
    logged = dispatch_events(settings)
    assert history.bad_records == 0 and replay.refused == []
    assert sorted(e.event_id.hex for e in replayed if e.event_type != "TrajectoryDispatched") == sorted(
        uuid.UUID(e["event_id"]).hex for e in logged if e["event_type"] != "TrajectoryDispatched")  # fmt: skip
    live = httpx.get(f"{base_url(settings)}/waiting-lists", params={"date": "2020-06-30"}, timeout=10).json()
    assert waiting_lists(replay.tables["places"], replay.tables["placements"], date(2020, 6, 30)) == live["lists"]
    assert live["lists"] and live["lists"][0]["waiting"][0]["referral_id"].startswith("C-")
    # What-if: class actions ranked by a priority (Groep INTRO first) instead of the balance: the report names the
    # class actions whose proposal would have changed, and the log gets no event.
    same = what_if(history.events, load_rule_set(), "2019-2020")
    assert (same.trajectories_changed, same.totals["proposals"]["logged"]) == (0, same.totals["proposals"]["evaluated"])
    text = (REPO_ROOT / "services" / "dispatch" / "rules" / "v1.yaml").read_text(encoding="utf-8")
    changed_rules = parse_rule_set(text.replace("version: dispatch-rules-v1", "version: dispatch-rules-v2-test")
                                   .replace("""  - name: class-action
    match: {group_module: class_action}
    placed_on: referral
    modules: {kinds: [class_action]}
    order: [balance]""", """  - name: class-action
    match: {group_module: class_action}
    placed_on: referral
    modules: {kinds: [class_action]}
    order: [priority]
    priority: [groep-intro, abrusco]"""))  # fmt: skip
    report = what_if(read_history(settings).events, changed_rules, "2019-2020")
    assert report.evaluated_rule_set == "dispatch-rules-v2-test" and report.logged_rule_sets == {
        "dispatch-rules-v1": sum(1 for e in logged if e["event_type"] != "TrajectoryDispatched"
                                 and e["payload"]["decided_on"] < "2020-09-01")}  # fmt: skip
    assert {(c["referral_id"], c["logged"], c["evaluated"]) for c in report.changed} >= {
        ("G-1", "abrusco/class-action", "groep-intro/class-action")}, report.changed  # fmt: skip
    assert len(dispatch_events(settings)) == len(logged)
