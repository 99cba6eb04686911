"""A topic read from its beginning and then followed, in a thread of its own: the in-memory indexes that processes
fold from the event log at start and keep current (the ingest's ownership index, the live views' names and
referrers) share this loop and differ only in what they fold.

The log is read with aiokafka (its record decoding is compiled: about ten times kafka-python's rate here), without a
consumer group (every partition assigned, nothing committed), on an event loop in the follower's own thread. `fold`
gets each fetched batch of one partition's records, in offset order, in that thread. It must not raise for a record
it cannot use (a record written straight to the topic is skipped, never the end of the index), and it takes its own
lock for what its readers share. A broker that is down is retried every 2 s, from the beginning of the log again
(so the fold must be idempotent: the later offset of a stream wins).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from core.kafka_security import client_config
from core.settings import Settings

log = logging.getLogger(__name__)
Fold = Callable[[Sequence[ConsumerRecord[bytes, bytes]]], None]


class LogFollower:
    """`ready` is set once the follower has read up to the end offsets the topic had when it started; `records` counts
    what it read, `loaded_s` how long the first load took."""

    def __init__(self, settings: Settings, topic: str, client_id: str, fold: Fold,
                 on_loaded: Callable[[], None] | None = None, batch_wait_ms: int = 0) -> None:
        self._settings = settings
        self._topic = topic
        self._client_id = client_id
        self._fold = fold
        self._on_loaded = on_loaded  # called once, in the follower's thread, just before `ready` is set
        # > 0: the broker holds a fetch until 128 KiB gathered or this long (fewer, larger fetches for a follower that
        # may be that late); 0: every record as soon as it is there (the ingest's owners).
        self._batch_wait_ms = batch_wait_ms
        self._lock = threading.Lock()  # guards the waiters
        self._waiters: list[threading.Event] = []
        self.records = 0
        self.loaded_s: float | None = None
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=client_id, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def caught_up(self, timeout_s: float) -> bool:
        """Wait until the follower has read the log up to its end as it is now (what other processes published just
        before); False if that took longer than `timeout_s`."""
        waiter = threading.Event()
        with self._lock:
            self._waiters.append(waiter)
        return waiter.wait(timeout_s)

    def _run(self) -> None:
        asyncio.run(self._keep_following())

    async def _keep_following(self) -> None:
        while not self._stop.is_set():
            try:
                await self._load_and_follow()
            except (KafkaError, OSError) as err:
                log.warning("%s: Kafka unavailable (%s); retrying", self._client_id, err)
                await asyncio.sleep(2.0)

    async def _partitions(self) -> list[TopicPartition]:
        """The topic's partitions, from a metadata request (a consumer without a group knows only the topics it was
        assigned)."""
        client = AIOKafkaClient(**client_config(self._settings), client_id=self._client_id)
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
        wait = self._batch_wait_ms
        batching = {"fetch_min_bytes": 128 * 1024, "fetch_max_wait_ms": wait} if wait else {}
        consumer = AIOKafkaConsumer(
            **client_config(self._settings),
            client_id=self._client_id,
            group_id=None,
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            **batching,
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
                    self.records += len(records)
                    self._fold(records)
                reached = {tp: await consumer.position(tp) for tp in partitions}
                if not self.ready.is_set() and all(reached[tp] >= end[tp] for tp in partitions):
                    self.loaded_s = time.monotonic() - started
                    if self._on_loaded is not None:
                        self._on_loaded()
                    self.ready.set()
                for target, waiting in [p for p in pending if all(reached[tp] >= p[0][tp] for tp in partitions)]:
                    pending.remove((target, waiting))
                    for waiter in waiting:
                        waiter.set()
        finally:
            await consumer.stop()
