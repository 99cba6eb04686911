"""The dispatch worker as its own process (`kans serve dispatch`) on the real broker, as its own principal, with the
ingest's Kafka way in (`kans serve inbound`), through which its events reach the log: events written to the log as
the ingest writes them (sealed, keyed by stream), the worker's events read back from the log.

A full provider -> a waiting list -> a stop frees a place -> the longest-waiting pupil is proposed, within seconds;
a restart restores the tables from their changelogs and writes nothing twice.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx

from core.settings import Settings
from core.topics import event_dead_letter_topic, events_topic
from kans.processes import ServiceProcesses
from services.dispatch.agents import ROUTE
from tests.conftest import wait_for
from tests.dispatch_catalogue import NOW, decision, ended, module, referral, round_table, sealed
from tests.event_log import KINDS, RAW_HEADER, dead_letters, poison, produce_raw
from tests.kafka_helpers import produce, read_topic


def publish(settings: Settings, *submissions: dict[str, Any], recorded_at: datetime = NOW) -> None:
    """As the ingest publishes: sealed events (recorded at `recorded_at`), keyed by their stream, acknowledged by the
    broker."""
    events = sealed(list(submissions), recorded_at)
    records = [(e.stream_id.encode(), e.model_dump_json().encode()) for e in events]
    produce(settings.kafka_bootstrap, events_topic(settings), records)


def dispatch_events(settings: Settings) -> list[dict[str, Any]]:
    """The dispatch service's events in the order it wrote them (the log spreads them over partitions by referral)."""
    values = [json.loads(r.value) for r in read_topic(settings.kafka_bootstrap, events_topic(settings))
              if RAW_HEADER not in (r.headers or [])]  # fmt: skip
    return sorted((v for v in values if v["source_system"] == "dispatch"), key=lambda v: v["recorded_at"])


def wait_for_events(settings: Settings, count: int, what: str) -> list[dict[str, Any]]:
    return wait_for(lambda: found if len(found := dispatch_events(settings)) >= count else None, timeout_s=60,
                    interval_s=0.1, what=what)  # fmt: skip


def base_url(settings: Settings) -> str:
    return f"http://{settings.dispatch_host}:{settings.dispatch_port}"


def test_a_freed_place_goes_to_the_longest_waiting_pupil(settings: Settings, dispatch_worker: ServiceProcesses) -> None:
    publish(settings, *module("abrusco", "individual", "individual", ["secondary"], 1),
            referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"))  # fmt: skip
    (proposal,) = wait_for_events(settings, 1, "the first proposal")
    assert (proposal["event_type"], proposal["payload"]["provider_id"]) == ("DispatchProposed", "abrusco")
    first = proposal["payload"]
    publish(settings, decision("R-1", first["trajectory_id"], "abrusco", "individual", "2019-10-09",
                               first["proposal_id"]))  # fmt: skip
    # Abrusco's only place is taken. R-2 is referred after R-3 but its round table is held first: both wait (the two
    # referrals' events are on different partitions, so the worker may take either round table first).
    publish(settings, referral("R-3", "2019-10-02"), referral("R-2", "2019-10-04"), round_table("R-2", "2019-10-10"),
            round_table("R-3", "2019-10-11"))  # fmt: skip
    joined = [e for e in wait_for_events(settings, 3, "both pupils on the waiting list")
              if e["event_type"] == "WaitingListJoined"]  # fmt: skip
    assert sorted((e["payload"]["referral_id"], e["payload"]["waiting_since"]) for e in joined) == [
        ("R-2", "2019-10-04"), ("R-3", "2019-10-02")]  # fmt: skip
    lists = httpx.get(f"{base_url(settings)}/waiting-lists", params={"date": "2019-11-01"}, timeout=10).json()
    assert [(w["position"], w["referral_id"]) for w in lists["lists"][0]["waiting"]] == [(1, "R-3"), (2, "R-2")]

    stopped_at = time.monotonic()
    publish(settings, ended("TrajectoryStoppedEarly", "R-1", first["trajectory_id"], "2019-12-02"))
    found = wait_for_events(settings, 5, "a proposal for the longest-waiting pupil")
    latency = time.monotonic() - stopped_at
    left, proposed = found[3:]
    assert (left["event_type"], left["payload"]["referral_id"], left["payload"]["reason"]) == (
        "WaitingListLeft", "R-3", "proposed")  # fmt: skip
    assert (proposed["event_type"], proposed["payload"]["referral_id"], proposed["payload"]["trigger"]) == (
        "DispatchProposed", "R-3", "place_freed")  # fmt: skip
    assert proposed["payload"]["waiting_since"] == "2019-10-02" and left["payload"]["proposal_id"] == (
        proposed["payload"]["proposal_id"])  # fmt: skip
    assert latency < 10, f"the freed place was proposed after {latency:.1f} s"
    print(f"\nstop -> proposal for the longest-waiting pupil visible in the log: {latency * 1000:.0f} ms")

    # A restart restores the state from the changelogs and writes nothing again; the next stop moves R-2 up.
    dispatch_worker.restart("dispatch")
    publish(settings, decision("R-3", proposed["payload"]["trajectory_id"], "abrusco", "individual", "2019-12-03",
                               proposed["payload"]["proposal_id"]),
            ended("TrajectoryClosed", "R-3", proposed["payload"]["trajectory_id"], "2020-01-20"))  # fmt: skip
    after = wait_for_events(settings, 7, "R-2's proposal after the restart")
    assert [(e["event_type"], e["payload"]["referral_id"]) for e in after[5:]] == [
        ("WaitingListLeft", "R-2"), ("DispatchProposed", "R-2")]  # fmt: skip
    assert all(n == 1 for n in Counter(e["event_id"] for e in after).values()), "an event was written twice"
    ready = httpx.get(f"{base_url(settings)}/ready", timeout=10).json()
    assert ready["ready"] and ready["dead_letters"] == {}


def test_poison_records_in_the_log_are_dead_lettered_and_the_rules_go_on(
    settings: Settings, dispatch_worker: ServiceProcesses
) -> None:
    """Issue 12: every consumer survives any record. One record of each bad kind, written straight to the log (as only
    a super user could), before a valid history: each is dead-lettered once by the routing agent, with its kind,
    and the pupil after them is still proposed; the readiness page counts them and stays ready."""
    records = [poison(kind, i) for i, kind in enumerate(KINDS)]
    bad = produce_raw(settings.kafka_bootstrap, events_topic(settings), records)
    publish(settings, *module("abrusco", "individual", "individual", ["secondary"], 1),
            referral("R-P", "2019-10-01"), round_table("R-P", "2019-10-08"))  # fmt: skip
    (proposal,) = wait_for_events(settings, 1, "the proposal after the poison records")
    assert (proposal["payload"]["referral_id"], proposal["payload"]["provider_id"]) == ("R-P", "abrusco")
    letters = wait_for(lambda: found if len(found := dead_letters(settings.kafka_bootstrap,
                                                                  event_dead_letter_topic(settings), ROUTE)) >= len(bad)
                       else None, timeout_s=60, what="the dead letters")  # fmt: skip
    origins = {(int(d["original-partition"]), int(d["original-offset"])): d["error-type"] for d in letters}
    assert origins == {(p.partition, p.offset): kind for p, kind in zip(bad, KINDS, strict=True)}
    assert len(letters) == len(bad)
    ready = httpx.get(f"{base_url(settings)}/ready", timeout=10)
    assert ready.status_code == 200 and ready.json()["ready"]
    assert ready.json()["dead_letters"] == {ROUTE: dict.fromkeys(KINDS, 1)}
    assert dispatch_worker.procs["dispatch"].poll() is None  # still the same process
