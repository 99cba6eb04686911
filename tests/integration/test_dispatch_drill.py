"""Drill: the dispatch worker killed with SIGKILL while the log grows (referrals and round tables published in
batches on the real broker), started again, ends equal to a from-scratch replay of the log: every trajectory proposed
exactly once in the log (the resent submissions after the kill are duplicates the ingest's index answers), and the
worker's open proposals are the replay's, id for id. Capacity is ample, so no decision depends on the order in which
the worker took the log's partitions."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx

from core.settings import Settings
from kans.processes import ServiceProcesses
from services.dispatch.history import read_history
from services.dispatch.ruleset import load_rule_set
from services.dispatch.whatif import Replay
from tests.conftest import wait_for
from tests.dispatch_catalogue import module, referral, round_table
from tests.integration.test_dispatch_worker import base_url, dispatch_events, publish

REFERRALS = 400
BATCH = 20


def test_the_dispatch_worker_killed_under_load_ends_equal_to_a_replay(
    settings: Settings, dispatch_worker: ServiceProcesses
) -> None:
    publish(settings, *module("abrusco", "individual", "individual", ["secondary"], 10 * REFERRALS),
            recorded_at=datetime.now(UTC))
    wait_for(lambda: httpx.get(f"{base_url(settings)}/catalogue", timeout=10).json()["modules"], timeout_s=60,
             interval_s=0.2, what="the catalogue in the dispatch worker")  # fmt: skip
    done = threading.Event()

    def load() -> None:
        for first in range(0, REFERRALS, BATCH):
            batch = [s for n in range(first, first + BATCH) for s in (
                referral(f"D-{n}", "2019-10-01"), round_table(f"D-{n}", "2019-10-08"))]  # fmt: skip
            publish(settings, *batch, recorded_at=datetime.now(UTC))
            time.sleep(0.05)
        done.set()

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    wait_for(lambda: len(dispatch_events(settings)) >= REFERRALS // 4, timeout_s=120, interval_s=0.2,
             what="a quarter of the proposals before the kill")  # fmt: skip
    proc = dispatch_worker.procs.pop("dispatch")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed_at = len(dispatch_events(settings))
    dispatch_worker.start("dispatch")
    loader.join(timeout=120)
    assert done.is_set(), "the load did not finish"

    def every_trajectory() -> list[dict[str, Any]] | None:
        found = dispatch_events(settings)
        return found if len({e["payload"]["trajectory_id"] for e in found}) >= REFERRALS else None

    logged = wait_for(every_trajectory, timeout_s=180, interval_s=0.5, what="a proposal for every trajectory")
    assert REFERRALS // 4 <= killed_at < REFERRALS, f"the kill came at {killed_at} proposals"
    per_trajectory = Counter(e["payload"]["trajectory_id"] for e in logged)
    assert set(per_trajectory.values()) == {1}, "a trajectory was proposed twice"
    assert {e["event_type"] for e in logged} == {"DispatchProposed"}

    history = read_history(settings)
    replay = Replay(load_rule_set())
    replayed = [out for event in history.events for out in replay.feed(event)]
    assert sorted(str(e.event_id) for e in replayed) == sorted(e["event_id"] for e in logged)
    worker = httpx.get(f"{base_url(settings)}/proposals", timeout=30).json()["proposals"]
    assert sorted(p["proposal_id"] for p in worker) == sorted(
        p["proposal"]["proposal_id"] for p in replay.tables["placements"].values())  # fmt: skip
    ready = httpx.get(f"{base_url(settings)}/ready", timeout=10).json()
    assert ready["ready"] and ready["crashed_agents"] == [] and ready["dead_letters"] == {}
    print(f"\nkilled after {killed_at} of {REFERRALS} proposals; after the restart every trajectory proposed once, "
          f"{len(worker)} open proposals equal to the replay")  # fmt: skip
