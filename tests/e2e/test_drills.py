"""Fault drills with the services as processes, under load through the ingest: kill -9 the projections worker, then
the API with its ClickHouse writer, restart each; nothing acknowledged is lost or doubled, and poison records
produced straight to the log meanwhile are dead-lettered, not fatal.

The platform here is the drills' own (its own topics and database): a killed process must not disturb other tests.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from core.topics import ensure_topics, event_dead_letter_topic, events_topic
from kans.processes import isolated_settings
from services.projections.agents import TRACK
from tests.conftest import wait_for
from tests.event_log import KINDS, dead_letters, poison, produce_raw, recompute_provider_load
from tests.factories import capacity, close, dispatch, referral, start
from tests.kafka_helpers import read_topic
from tests.platform import DEV_KEY, Platform

DAY = date(2025, 11, 1)
PROVIDERS = ("drill-a", "drill-b", "drill-c")


@pytest.fixture(scope="module")
def drills(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Platform]:
    settings = isolated_settings(tmp_path_factory.mktemp("drills"), kafka_bootstrap, log_level="WARNING")
    ensure_topics(settings)
    platform = Platform(settings, tmp_path_factory.mktemp("drill-logs"))
    try:
        platform.start_all()
        platform.post(*(capacity(p, "individual", 50) for p in PROVIDERS))
        yield platform
    finally:
        platform.close()


class Load:
    """Posts batches through the ingest from a thread, about `rate` events a second, until stopped; keeps every
    acknowledged event id by referral. Paced, so the drill's size does not depend on how long a restart takes."""

    def __init__(self, platform: Platform, name: str, rate: float = 200.0) -> None:
        self.platform, self.name, self.rate = platform, name, rate
        self.acknowledged: dict[str, set[str]] = defaultdict(set)
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _batch(self, n: int) -> list[dict[str, Any]]:
        rid, tid, provider = f"R-{self.name}-{n}", f"T-{self.name}-{n}", PROVIDERS[n % len(PROVIDERS)]
        batch = [referral(rid), dispatch(rid, tid, provider)]
        if n % 4 != 1:  # not in step with the provider (n % 3): every row gets active and waiting trajectories
            batch.append(start(rid, tid))
        if n % 5 == 0:
            batch.append(close(rid, tid))
        return batch

    def _run(self) -> None:
        with httpx.Client(base_url=self.platform.settings.ingest_base_url, timeout=30,
                          headers={"X-API-Key": DEV_KEY}) as ingest:  # fmt: skip
            n = 0
            while not self._stop.is_set():
                batch = [event for i in range(n, n + 5) for event in self._batch(i)]
                response = ingest.post("/v1/events/batch", json=batch)
                if response.status_code != 202:
                    self.refused += 1
                    continue
                for submission, result in zip(batch, response.json()["results"], strict=True):
                    self.acknowledged[submission["payload"]["referral_id"]].add(result["event_id"])
                n += 5
                self._stop.wait(len(batch) / self.rate)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    @property
    def events(self) -> int:
        return sum(len(ids) for ids in self.acknowledged.values())


def kill_9(platform: Platform, name: str) -> None:
    proc = platform.procs.pop(name)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


class Supervised:
    """What the compose file's `restart: unless-stopped` does: a service that stopped is started again."""

    def __init__(self, platform: Platform, name: str) -> None:
        self.platform, self.name, self.restarts = platform, name, 0

    def alive(self) -> bool:
        if self.platform.procs[self.name].poll() is not None:
            self.platform.procs.pop(self.name)
            self.restarts += 1
            self.platform.start(self.name)
        return True


def worker_caught_up(platform: Platform) -> bool:
    body = httpx.get(f"{platform.settings.projections_base_url}/ready", timeout=10).json()
    return all(lag is not None and lag["lag_events"] == 0 for lag in body["lag"].values())


def test_projections_worker_killed_under_load_ends_equal_to_a_recomputation(drills: Platform) -> None:
    settings = drills.settings
    with Load(drills, "KP") as load:
        wait_for(lambda: load.events >= 300, what="load under way")
        bad = produce_raw(settings.kafka_bootstrap, events_topic(settings),
                          [poison(kind, i) for i, kind in enumerate(KINDS)])  # fmt: skip
        kill_9(drills, "projections")
        wait_for(lambda: load.events >= 600, what="load while the worker is dead")
        restarted = time.monotonic()
        drills.start("projections")
        ready = time.monotonic()
        after = load.events
        wait_for(lambda: load.events >= after + 300, what="load after the restart")
    supervised = Supervised(drills, "projections")
    recovered = wait_for(lambda: supervised.alive() and worker_caught_up(drills) and time.monotonic(), timeout_s=90,
                         what="caught up")  # fmt: skip

    values = [record.value for record in read_topic(settings.kafka_bootstrap, events_topic(settings), timeout_s=30)]
    view = httpx.get(f"{settings.projections_base_url}/provider-load", params={"date": DAY.isoformat()}, timeout=10)
    body = view.json()
    assert (body["lag_events"], view.headers["X-Consumer-Lag"]) == (0, "0")
    assert body["rows"] == recompute_provider_load(values, DAY)
    assert all(row["active"] > 20 and row["waiting"] > 5 for row in body["rows"])
    letters = dead_letters(settings.kafka_bootstrap, event_dead_letter_topic(settings), TRACK)
    # At least once: a dead letter sent before the kill may be sent again after it; its origin says it is the same.
    origins = {(int(d["original-partition"]), int(d["original-offset"])): d["error-type"] for d in letters}
    assert origins == {(p.partition, p.offset): kind for p, kind in zip(bad, KINDS, strict=True)}
    print(f"projections drill: {load.events} events acknowledged ({load.refused} refused), {len(values)} records "
          f"in the log, view equal to the recomputation, {len(letters)} dead letters for {len(bad)} poison "
          f"records; ready {ready - restarted:.1f} s, caught up {recovered - restarted:.1f} s after the restart began "
          f"({supervised.restarts} more restarts after it stopped on skipped messages)")


def test_api_with_its_writer_killed_under_load_stores_each_acknowledged_event_once(drills: Platform) -> None:
    with Load(drills, "KA") as load:
        wait_for(lambda: load.events >= 300, what="load under way")
        kill_9(drills, "api")
        wait_for(lambda: load.events >= 600, what="load while the API is dead")
        restarted = time.monotonic()
        drills.start("api")
        ready = time.monotonic()
        after = load.events
        wait_for(lambda: load.events >= after + 300, what="load after the restart")

    def writer_caught_up() -> bool:
        writer = drills.api.get("/ready").json()["writer"]
        return bool(writer["running"] and writer.get("lag_events") == 0)

    recovered = wait_for(lambda: writer_caught_up() and time.monotonic(), timeout_s=90, what="writer caught up")
    stored_twice, missing, foreign = 0, 0, 0
    for rid, acknowledged in load.acknowledged.items():
        events = drills.api.get(f"/v1/referrals/{rid}/events").json()["events"]
        ids = [e["event_id"] for e in events]
        stored_twice += len(ids) - len(set(ids))
        missing += len(acknowledged - set(ids))
        foreign += len(set(ids) - acknowledged)
    assert (missing, stored_twice, foreign) == (0, 0, 0)
    writer = drills.api.get("/ready").json()["writer"]
    assert (writer["running"], writer["crashed"]) == (True, None)
    print(f"API drill: {load.events} events acknowledged ({load.refused} refused) for {len(load.acknowledged)} "
          f"referrals, each stored once in ClickHouse; API ready {ready - restarted:.1f} s and writer caught up "
          f"{recovered - restarted:.1f} s after the restart began")  # fmt: skip
