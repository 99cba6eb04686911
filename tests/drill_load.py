"""The drills' load: batches posted through the ingest from a thread, and kill -9 of a service process."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter, defaultdict
from typing import Any

import httpx

from tests.factories import close, dispatch, referral, start
from tests.platform import DEV_KEY, Platform

PROVIDERS = ("drill-a", "drill-b", "drill-c")


class Load:
    """Posts batches through the ingest from a thread, about `rate` events a second, until stopped; keeps every
    acknowledged event id by referral. Paced, so the drill's size does not depend on how long a restart takes.
    A refused batch is posted again, unchanged (the same event ids). `answers` counts the status codes (`error`: no
    answer at all), `accepted_at` when each 202 arrived (monotonic), `attempted` every event id ever posted."""

    def __init__(self, platform: Platform, name: str, rate: float = 200.0,
                 providers: tuple[str, ...] = PROVIDERS) -> None:  # fmt: skip
        self.platform, self.name, self.rate, self.providers = platform, name, rate, providers
        self.acknowledged: dict[str, set[str]] = defaultdict(set)
        self.attempted: set[tuple[str, str]] = set()  # (source_system, source_ref)
        self.refused = 0
        self.answers: Counter[int | str] = Counter()
        self.accepted_at: list[float] = []
        self._lock = threading.Lock()  # the thread adds to `acknowledged` while the drill counts it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _batch(self, n: int) -> list[dict[str, Any]]:
        rid, tid = f"R-{self.name}-{n}", f"T-{self.name}-{n}"
        provider = self.providers[n % len(self.providers)]
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
                self.attempted.update((s["source_system"], s["source_ref"]) for s in batch)
                try:
                    response = ingest.post("/v1/events/batch", json=batch)
                except httpx.HTTPError:
                    self.answers["error"] += 1
                    self._stop.wait(1.0)
                    continue
                self.answers[response.status_code] += 1
                if response.status_code != 202:
                    self.refused += 1
                    self._stop.wait(0.5)  # then the same batch again
                    continue
                self.accepted_at.append(time.monotonic())
                results = response.json()["results"]
                with self._lock:
                    for submission, result in zip(batch, results, strict=True):
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
        with self._lock:
            return sum(len(ids) for ids in self.acknowledged.values())


def kill_9(platform: Platform, name: str) -> None:
    proc = platform.procs.pop(name)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
