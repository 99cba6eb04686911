"""The ownership index: who owns each referral, trajectory, group referral and group trajectory, as the event log
says. Read from `kans.events.v1` from its beginning at start and kept current by following it, so it survives
restarts, and knows what any ingest process (REST or inbound, any replica) published.

Only records of the event types that establish an owner are parsed (told by the record's `event_type` header; a
record without it is tried), and only the fields that do (`ownership.facts_in_record`); a record where those are
not valid establishes nothing. Each owner is kept with the offset of the event that set it: a stream's events share
one partition, so the later offset wins whether a fact arrives by following the log or from this process's own
publishing (`remember`, right after the broker's acknowledgement). The log is read with aiokafka (its record
decoding is compiled: about ten times kafka-python's rate here), on an event loop in the index's own thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from core.kafka_security import client_config
from core.settings import Settings
from core.topics import events_topic
from services.ingest.ownership import FACT_EVENT_TYPES, Fact, StreamKey, facts_in_record

log = logging.getLogger(__name__)
_FACT_HEADERS = frozenset(name.encode() for name in FACT_EVENT_TYPES)
_AMENDED = b"ReferralAmended"


@dataclass
class LoadStats:
    """How the index was loaded: records read up to the end offsets seen at start, the owners known then, time."""

    records: int = 0
    parsed: int = 0
    unreadable: int = 0
    owners: int = 0
    seconds: float | None = None


class OwnerIndex:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._topic = events_topic(settings)
        self._owners: dict[StreamKey, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._waiters: list[threading.Event] = []
        self.stats = LoadStats()
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="owner-index", daemon=True)

    def __len__(self) -> int:
        return len(self._owners)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def owner(self, key: StreamKey) -> str | None:
        found = self._owners.get(key)
        return None if found is None else found[0]

    def remember(self, facts: Iterable[Fact], offset: int) -> None:
        """Owners established by an event this process published at `offset` (its partition is its stream's)."""
        with self._lock:
            for key, owner in facts:
                self._set(key, owner, offset)

    def caught_up(self, timeout_s: float) -> bool:
        """Wait until the index has read the log up to its end as it is now (what other processes published just
        before); False if that took longer than `timeout_s`."""
        waiter = threading.Event()
        with self._lock:
            self._waiters.append(waiter)
        return waiter.wait(timeout_s)

    def _set(self, key: StreamKey, owner: str, offset: int) -> None:
        known = self._owners.get(key)
        if known is None or known[1] < offset:
            self._owners[key] = (owner, offset)

    def _facts(self, value: bytes | None, event_type: bytes | None) -> list[Fact]:
        if value is None or (event_type is not None and event_type not in _FACT_HEADERS):
            return []
        if event_type == _AMENDED and b'"referrer_id"' not in value:  # an amendment that does not change the owner
            return []
        self.stats.parsed += 1
        try:
            return facts_in_record(value)
        except (ValidationError, ValueError):
            self.stats.unreadable += event_type is not None  # without a header it may just be another type
            return []

    def _run(self) -> None:
        asyncio.run(self._keep_following())

    async def _keep_following(self) -> None:
        while not self._stop.is_set():
            try:
                await self._load_and_follow()
            except (KafkaError, OSError) as err:
                log.warning("owner index: Kafka unavailable (%s); retrying", err)
                await asyncio.sleep(2.0)

    async def _partitions(self) -> list[TopicPartition]:
        """The event log's partitions, from a metadata request (a consumer without a group knows only the topics
        it was assigned)."""
        client = AIOKafkaClient(
            **client_config(self._settings),
            client_id="kans-ingest-owners",
        )
        await client.bootstrap()
        try:
            cluster = await client.fetch_all_metadata()
        finally:
            await client.close()
        found = sorted(cluster.partitions_for_topic(self._topic) or ())
        if not found:
            raise KafkaError(f"topic {self._topic} does not exist (run `kans topics create`)")
        return [TopicPartition(self._topic, p) for p in found]

    async def _load_and_follow(self) -> None:
        consumer = AIOKafkaConsumer(
            **client_config(self._settings),
            client_id="kans-ingest-owners",
            group_id=None,
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        partitions = await self._partitions()
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            started, end = time.monotonic(), await consumer.end_offsets(partitions)
            pending: list[tuple[dict[TopicPartition, int], list[threading.Event]]] = []
            while not self._stop.is_set():
                with self._lock:
                    waiters, self._waiters = self._waiters, []
                if waiters:
                    pending.append((await consumer.end_offsets(partitions), waiters))
                for records in (await consumer.getmany(timeout_ms=100, max_records=10_000)).values():
                    found = [(facts, r.offset) for r in records
                             if (facts := self._facts(r.value, dict(r.headers).get("event_type")))]  # fmt: skip
                    self.stats.records += len(records)
                    with self._lock:
                        for facts, offset in found:
                            for key, owner in facts:
                                self._set(key, owner, offset)
                reached = {tp: await consumer.position(tp) for tp in partitions}
                if not self.ready.is_set() and all(reached[tp] >= end[tp] for tp in partitions):
                    self.stats.owners, self.stats.seconds = len(self._owners), time.monotonic() - started
                    log.info("owner index loaded: %d owners from %d records (%d parsed) in %.2f s",
                             self.stats.owners, self.stats.records, self.stats.parsed, self.stats.seconds)  # fmt: skip
                    self.ready.set()
                for target, waiting in [p for p in pending if all(reached[tp] >= p[0][tp] for tp in partitions)]:
                    pending.remove((target, waiting))
                    for waiter in waiting:
                        waiter.set()
        finally:
            await consumer.stop()
